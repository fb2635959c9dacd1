"""Classification metrics for evaluating the engine (pure numpy; used by evaluate_emotions and bench/)."""

from __future__ import annotations

import numpy as np

from engine.labels import EXPRESSIONS, NEGATIVE_INDEX


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Metrics for class indices into EXPRESSIONS. ``y_pred`` may hold -1 (no prediction, e.g. no face found):
    it counts as wrong and as not negative.

    Returns n, accuracy, per_class {name: precision, recall, f1, support}, confusion (rows: true, columns:
    predicted, plus a last "none" column) and precision/recall/f1 of the negative valence class.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred differ in length")
    k = len(EXPRESSIONS)
    pred_col = np.where(y_pred < 0, k, y_pred)
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(confusion, (y_true, pred_col), 1)
    per_class = {}
    for i, name in enumerate(EXPRESSIONS):
        tp = confusion[i, i]
        p, r, f = _prf(tp, confusion[:, i].sum() - tp, confusion[i].sum() - tp)
        per_class[name] = {"precision": p, "recall": r, "f1": f, "support": int(confusion[i].sum())}
    true_neg = np.isin(y_true, NEGATIVE_INDEX)
    pred_neg = np.isin(y_pred, NEGATIVE_INDEX)
    p, r, f = _prf(
        float(np.sum(true_neg & pred_neg)), float(np.sum(~true_neg & pred_neg)), float(np.sum(true_neg & ~pred_neg))
    )
    n = int(len(y_true))
    return {
        "n": n,
        "accuracy": float(np.mean(y_true == y_pred)) if n else 0.0,
        "precision_negative": p,
        "recall_negative": r,
        "f1_negative": f,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def format_report(metrics: dict) -> str:
    """Plain-text per-class table, confusion matrix and the negative-class line."""
    lines = [f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for name, row in metrics["per_class"].items():
        lines.append(
            f"{name:<10} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8d}"
        )
    lines.append(f"{'accuracy':<10} {metrics['accuracy']:>25.3f} {metrics['n']:>8d}")
    lines.append("")
    lines.append("confusion (rows: true, columns: predicted; 'none' = no prediction)")
    heads = [name[:5] for name in EXPRESSIONS] + ["none"]
    lines.append(" " * 10 + "".join(f"{h:>7}" for h in heads))
    for name, row in zip(EXPRESSIONS, metrics["confusion"], strict=True):
        lines.append(f"{name:<10}" + "".join(f"{v:>7d}" for v in row))
    lines.append("")
    lines.append(
        f"negative (angry, disgust, fear, sad, contempt): precision {metrics['precision_negative']:.3f}  "
        f"recall {metrics['recall_negative']:.3f}  F1 {metrics['f1_negative']:.3f}"
    )
    return "\n".join(lines)
