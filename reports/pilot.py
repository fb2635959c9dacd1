"""Pilot measurements: how the model's verdict compares with what clients said and with labelled videos.

Pure functions: data in, plain dicts out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine.labels import EXPRESSIONS, NEGATIVE, canonical

# The model flags a call as negative when it found a negative episode or when at least
# this percentage of the face-visible time was negative.
NEGATIVE_SHARE_THRESHOLD_PCT = 20.0
# A client reports a negative call when they say they were upset or rate it this low or lower.
LOW_RATING = 2
MODEL_METRICS_PATH = Path(__file__).resolve().parent.parent / "engine" / "weights" / "expression.metrics.json"


def client_reported_negative(rating: int, upset: bool) -> bool:
    return bool(upset) or rating <= LOW_RATING


def model_flagged_negative(
    negative_pct: float | None, negative_episodes: int, threshold_pct: float = NEGATIVE_SHARE_THRESHOLD_PCT
) -> bool:
    return negative_episodes > 0 or (negative_pct is not None and negative_pct >= threshold_pct)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def confusion(pairs: Iterable[tuple[bool, bool]]) -> dict:
    """Binary agreement of (predicted, actual) pairs: counts, precision, recall, F1 and accuracy."""
    tp = fp = fn = tn = 0
    for predicted, actual in pairs:
        if predicted and actual:
            tp += 1
        elif predicted:
            fp += 1
        elif actual:
            fn += 1
        else:
            tn += 1
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if tp + fp + fn else None)
    return {
        "n": tp + fp + fn + tn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
    }


def parse_label_csv(text: str, max_rows: int = 10_000) -> list[dict]:
    """Parse ``start_s,end_s,label`` rows (a header line is optional) into ranges in milliseconds.

    Raises ValueError naming the first bad line.
    """
    ranges: list[dict] = []
    reader = csv.reader(io.StringIO(text))
    for lineno, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells):
            continue
        if lineno == 1 and cells[0].lower() in ("start_s", "start"):
            continue
        if len(cells) != 3:
            raise ValueError(f"line {lineno}: expected start_s,end_s,label")
        try:
            start, end = float(cells[0]), float(cells[1])
        except ValueError as exc:
            raise ValueError(f"line {lineno}: start and end must be numbers of seconds") from exc
        if not (0 <= start < end):
            raise ValueError(f"line {lineno}: need 0 <= start_s < end_s")
        try:
            label = canonical(cells[2])
        except ValueError as exc:
            raise ValueError(f"line {lineno}: {exc}") from exc
        ranges.append({"start_ms": round(start * 1000), "end_ms": round(end * 1000), "label": label})
        if len(ranges) > max_rows:
            raise ValueError(f"more than {max_rows} rows")
    if not ranges:
        raise ValueError("no labelled ranges")
    return sorted(ranges, key=lambda r: r["start_ms"])


def label_agreement(
    t_ms: Sequence[int], face_found: Sequence[bool], probs: Sequence[Sequence[float] | None], ranges: Sequence[dict]
) -> dict:
    """Per-frame agreement of the model with labelled ranges; frames outside every range are ignored."""
    frames = matched = no_face = 0
    pairs: list[tuple[bool, bool]] = []
    for t, ok, row in zip(t_ms, face_found, probs, strict=True):
        label = next((r["label"] for r in ranges if r["start_ms"] <= t < r["end_ms"]), None)
        if label is None:
            continue
        if not ok or row is None:
            no_face += 1
            continue
        predicted = EXPRESSIONS[max(range(len(row)), key=row.__getitem__)]
        frames += 1
        matched += predicted == label
        pairs.append((predicted in NEGATIVE, label in NEGATIVE))
    neg = confusion(pairs)
    return {
        "frames": frames,
        "frames_without_face": no_face,
        "accuracy": _ratio(matched, frames),
        "f1_negative": neg["f1"],
        "precision_negative": neg["precision"],
        "recall_negative": neg["recall"],
    }


def load_model_metrics(path: Path | None = None) -> dict | None:
    """The model card's labelled-data metrics (written by the training pipeline), or None."""
    try:
        data = json.loads((path or MODEL_METRICS_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
