"""Pure aggregation of per-frame results into a call summary.

Data in, plain dicts out: no Django, no I/O. Each sample covers the time until
the next sample, capped at ``max_gap_ms``; longer silences are reported as gaps
and never interpolated across.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from engine.labels import EXPRESSIONS, NEGATIVE_INDEX, VALENCE_BY_INDEX, VALENCES


def gettext_noop(message: str) -> str:
    # Same name as Django's marker so makemessages extracts the string; Django's own gettext_noop
    # reads settings.USE_I18N and would make this pure module need configured Django.
    return message


# Translated at render time by reports.content.satisfaction_footnote().
SATISFACTION_FOOTNOTE = gettext_noop(
    "Overall satisfaction is counted over the time the client's face was visible: a positive expression counts "
    "in full, a neutral one half, a negative one (angry, disgust, fear, sad or contempt) against. It is "
    "(½ · neutral + positive) ÷ (½ · neutral + positive + negative)."
)

# A neutral face is weaker evidence of satisfaction than a smile: it counts half (the bank's design).
NEUTRAL_WEIGHT = 0.5


def satisfaction(positive: float, neutral: float, negative: float) -> float | None:
    """The design's overall satisfaction in %, from the valence shares of the face-visible time:
    (½·neutral + positive) / (½·neutral + positive + negative) · 100. None without any share."""
    satisfied = NEUTRAL_WEIGHT * neutral + positive
    total = satisfied + negative
    if total <= 0:
        return None
    return round(100.0 * satisfied / total, 2)


def _weights(t_ms: np.ndarray, max_gap_ms: int) -> tuple[np.ndarray, list[dict[str, int]]]:
    if len(t_ms) == 0:
        return np.zeros(0), []
    steps = np.diff(t_ms)
    typical = float(np.median(steps)) if len(steps) else float(max_gap_ms)
    typical = min(max(typical, 1.0), float(max_gap_ms))
    weights = np.empty(len(t_ms), dtype=np.float64)
    # A frame followed by a silence covers only a typical interval; the rest is a gap.
    weights[:-1] = np.where(steps > max_gap_ms, typical, steps)
    weights[-1] = typical
    gaps = [
        {"start_ms": int(t_ms[i] + typical), "end_ms": int(t_ms[i + 1])} for i in np.flatnonzero(steps > max_gap_ms)
    ]
    return weights, gaps


def negative_episodes(
    t_ms: np.ndarray,
    negative: np.ndarray,
    neg_score: np.ndarray,
    *,
    max_gap_ms: int,
    min_duration_ms: int = 1000,
) -> list[dict[str, float]]:
    """Runs of negative frames (allowing a gap up to ``max_gap_ms``) lasting at least ``min_duration_ms``."""
    episodes: list[dict[str, float]] = []
    start = last = peak_i = None
    for i in np.flatnonzero(negative):
        if last is not None and t_ms[i] - t_ms[last] <= max_gap_ms:
            last = i
            if neg_score[i] > neg_score[peak_i]:
                peak_i = i
            continue
        if start is not None:
            episodes.append((start, last, peak_i))
        start = last = peak_i = i
    if start is not None:
        episodes.append((start, last, peak_i))
    result = []
    for s, e, p in episodes:
        end_ms = int(t_ms[e])
        duration = end_ms - int(t_ms[s])
        if duration < min_duration_ms:
            continue
        result.append(
            {
                "start_ms": int(t_ms[s]),
                "end_ms": end_ms,
                "peak_ms": int(t_ms[p]),
                "peak_score": round(float(neg_score[p]), 4),
            }
        )
    return result


def summarize(
    t_ms: Sequence[int] | np.ndarray,
    face_found: Sequence[bool] | np.ndarray,
    probs: Sequence[Sequence[float] | None] | np.ndarray,
    *,
    max_gap_ms: int = 2000,
    poor_view: Sequence[bool] | np.ndarray | None = None,
) -> dict:
    """Summarise a call from its per-frame results (sorted by time or not).

    Returns percent of face-visible time per expression and per valence,
    the design's overall satisfaction (``satisfaction``),
    negative episodes, gaps and data-quality figures. ``poor_view`` marks frames whose face was found but
    could not be read (engine.inference.POOR_VIEW_FLAGS): like any frame without a reading they are left out of
    the shares, and their share of the analysed time is reported as ``poor_view_pct``.
    """
    t = np.asarray(t_ms, dtype=np.int64)
    found = np.asarray(face_found, dtype=bool)
    poor = np.zeros(len(t), dtype=bool) if poor_view is None else np.asarray(poor_view, dtype=bool)
    n = len(t)
    p = np.zeros((n, len(EXPRESSIONS)), dtype=np.float64)
    if n:
        rows = [row if (row is not None and ok) else None for row, ok in zip(probs, found, strict=True)]
        for i, row in enumerate(rows):
            if row is None:
                found[i] = False
            else:
                p[i] = row
    order = np.argsort(t, kind="stable")
    t, found, p, poor = t[order], found[order], p[order], poor[order] & ~found[order]
    weights, gaps = _weights(t, max_gap_ms)
    labels = p.argmax(axis=1)
    face_weight = float(weights[found].sum())
    total_weight = float(weights.sum())

    per_expression = {name: 0.0 for name in EXPRESSIONS}
    per_valence = {name: 0.0 for name in VALENCES}
    valence_shares = dict(per_valence)
    if face_weight > 0:
        sums = np.bincount(labels[found], weights=weights[found], minlength=len(EXPRESSIONS))
        for i, name in enumerate(EXPRESSIONS):
            share = 100.0 * sums[i] / face_weight
            per_expression[name] = round(share, 2)
            per_valence[VALENCE_BY_INDEX[i]] += share
        valence_shares = dict(per_valence)
        per_valence = {k: round(v, 2) for k, v in per_valence.items()}

    negative_mask = found & np.isin(labels, NEGATIVE_INDEX)
    neg_score = p[:, list(NEGATIVE_INDEX)].sum(axis=1)
    overall = None
    if face_weight > 0:
        overall = satisfaction(valence_shares["positive"], valence_shares["neutral"], valence_shares["negative"])
    dominant = EXPRESSIONS[int(np.argmax([per_expression[x] for x in EXPRESSIONS]))] if face_weight > 0 else None
    return {
        "frames": int(n),
        "frames_with_face": int(found.sum()),
        "duration_ms": int(t[-1] - t[0] + weights[-1]) if n else 0,
        "analysed_ms": int(total_weight),
        "face_visible_pct": round(100.0 * face_weight / total_weight, 2) if total_weight else 0.0,
        "poor_view_pct": round(100.0 * float(weights[poor].sum()) / total_weight, 2) if total_weight else 0.0,
        "expressions_pct": per_expression,
        "valence_pct": per_valence,
        "satisfaction_pct": overall,
        "dominant": dominant,
        "negative_episodes": negative_episodes(t, negative_mask, neg_score, max_gap_ms=max_gap_ms),
        "gaps": gaps,
    }


def valence_series(
    t_ms: Sequence[int], face_found: Sequence[bool], probs: Sequence[Sequence[float] | None]
) -> list[dict]:
    """Per-frame valence score in [-1, 1] (positive mass minus negative mass), for charts."""
    series = []
    for t, ok, row in sorted(zip(t_ms, face_found, probs, strict=True), key=lambda item: item[0]):
        series.append({"t_ms": int(t), "score": valence_score(row) if ok else None})
    return series


def valence_score(probs: Sequence[float] | None) -> float | None:
    """Positive mass minus negative mass of one set of probabilities, in [-1, 1] (None: no face)."""
    if probs is None:
        return None
    score = 0.0
    for p, valence in zip(probs, VALENCE_BY_INDEX, strict=True):
        score += p if valence == "positive" else -p if valence == "negative" else 0.0
    return round(float(score), 4)


class Smoother:
    """Sliding-window mean of probabilities for live display; raw frames are stored unsmoothed."""

    def __init__(self, window: int = 5) -> None:
        self.window: deque[np.ndarray] = deque(maxlen=window)

    def push(self, probs: Sequence[float] | None) -> list[float] | None:
        if probs is not None:
            self.window.append(np.asarray(probs, dtype=np.float64))
        if not self.window:
            return None
        return [round(float(x), 4) for x in np.mean(self.window, axis=0)]


def reads_negative(probs: Sequence[float]) -> bool:
    """Whether one frame's expression is negative: its most probable class is a negative one."""
    return max(range(len(probs)), key=probs.__getitem__) in NEGATIVE_INDEX


def negative_share(recent: Sequence[tuple[bool, Sequence[float] | None]]) -> float:
    """Share of face-visible frames among ``recent`` whose expression is negative (0..1)."""
    visible = [row for ok, row in recent if ok and row is not None]
    if not visible:
        return 0.0
    return sum(1 for row in visible if reads_negative(row)) / len(visible)


# At least this many face-visible frames in the window before alerting, so one odd frame never does.
ALERT_MIN_VISIBLE = 3


class LiveMood:
    """The manager's live view of one call: smoothed probabilities, the valence gauge and the negative alert.

    The alert fires when, over the last ``window_s`` seconds, more than ``alert_share`` of the frames with a
    visible face read as negative, and at least ALERT_MIN_VISIBLE such frames were seen. Times are the
    caller's clock in seconds (monotonic), so the rule is tested without waiting.
    """

    def __init__(self, window_s: float, alert_share: float, smoothing_frames: int = 5) -> None:
        self.window_s = window_s
        self.alert_share = alert_share
        self.smoother = Smoother(window=smoothing_frames)
        # (time, face visible, read as negative) per frame of the window, with running counts: the share is
        # kept up to date per push instead of recounted over the window (a score per frame at up to 6 fps).
        self.recent: deque[tuple[float, bool, bool]] = deque()
        self.visible = 0
        self.negatives = 0

    def push(self, now: float, face_found: bool, probs: Sequence[float] | None) -> dict:
        visible = face_found and probs is not None
        negative = visible and reads_negative(probs)
        self.recent.append((now, visible, negative))
        self.visible += visible
        self.negatives += negative
        while self.recent and self.recent[0][0] < now - self.window_s:
            _, was_visible, was_negative = self.recent.popleft()
            self.visible -= was_visible
            self.negatives -= was_negative
        smoothed = self.smoother.push(probs if face_found else None)
        share = self.negatives / self.visible if self.visible else 0.0
        return {
            "smoothed": smoothed,
            "smoothed_label": EXPRESSIONS[smoothed.index(max(smoothed))] if smoothed else None,
            "valence_score": valence_score(smoothed),
            "negative_share": round(share, 3),
            "alert": self.visible >= ALERT_MIN_VISIBLE and share > self.alert_share,
        }
