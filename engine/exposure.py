"""The client's reaction while something was on screen, against the rest of the call. Pure: no Django.

A call's frames are split by time: those inside the given intervals (an illustration was shown) and those
outside every showing (``rest``). Each part is summarised like a whole call (engine.analytics.summarize), so
the shares are of face-visible time and satisfaction is the design's formula (engine.analytics.satisfaction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.analytics import satisfaction, summarize
from engine.labels import VALENCES

Interval = tuple[int, int]  # [start_ms, end_ms) on the call's timeline


def inside(t_ms: Sequence[int] | np.ndarray, intervals: Sequence[Interval]) -> np.ndarray:
    """Per frame: does its time fall within any of ``intervals``."""
    t = np.asarray(t_ms, dtype=np.int64)
    mask = np.zeros(len(t), dtype=bool)
    for start, end in intervals:
        mask |= (t >= start) & (t < end)
    return mask


def _part(t: np.ndarray, found: np.ndarray, probs: list, mask: np.ndarray, max_gap_ms: int) -> dict:
    picked = np.flatnonzero(mask)
    summary = summarize(t[picked], found[picked], [probs[i] for i in picked], max_gap_ms=max_gap_ms)
    return {
        "frames": summary["frames"],
        "frames_with_face": summary["frames_with_face"],
        "valence_pct": summary["valence_pct"],
        "satisfaction_pct": summary["satisfaction_pct"],
    }


def reaction(
    t_ms: Sequence[int],
    face_found: Sequence[bool],
    probs: Sequence[Sequence[float] | None],
    shown: Sequence[Interval],
    all_shown: Sequence[Interval] | None = None,
    *,
    max_gap_ms: int = 2000,
) -> dict:
    """``during``: the frames inside ``shown``; ``rest``: the frames outside ``all_shown`` (every showing of
    the call, default ``shown``), so one illustration is compared with time when nothing was shown."""
    t = np.asarray(t_ms, dtype=np.int64)
    found = np.asarray(face_found, dtype=bool)
    rows = list(probs)
    during = inside(t, shown)
    rest = ~inside(t, all_shown if all_shown is not None else shown)
    return {
        "shown_ms": int(sum(max(0, end - start) for start, end in shown)),
        "during": _part(t, found, rows, during, max_gap_ms),
        "rest": _part(t, found, rows, rest, max_gap_ms),
    }


def combine(parts: Sequence[dict]) -> dict:
    """Parts of several calls (``reaction``'s ``during`` or ``rest``) as one: shares weighted by each part's
    frames with a face, satisfaction by the design's formula on the combined shares."""
    frames = sum(part["frames_with_face"] for part in parts)
    shares = {name: 0.0 for name in VALENCES}
    if frames:
        for part in parts:
            for name in VALENCES:
                shares[name] += part["valence_pct"].get(name, 0.0) * part["frames_with_face"] / frames
    return {
        "frames_with_face": frames,
        "valence_pct": {name: round(value, 2) for name, value in shares.items()},
        "satisfaction_pct": satisfaction(shares["positive"], shares["neutral"], shares["negative"]) if frames else None,
    }
