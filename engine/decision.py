"""The decision rule that ships with the classifier: how its raw softmax becomes the probabilities every part
of Mimic reads (the label, the valence, the live alert, the report's shares and the evaluation).

The rule is a per-class bias on the log-probabilities (a prior correction: p'_k ∝ p_k · e^{b_k}). A bias of
zero everywhere is plain argmax. It lives in the ``decision_rule`` block of the metrics JSON next to the ONNX
file, so the model and its rule travel together and are applied in one place, ``Engine.classify``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.labels import EXPRESSIONS, NEGATIVE_INDEX


@dataclass(frozen=True)
class DecisionRule:
    """``class_bias`` added to log p before renormalising; ``name`` says in words how it was chosen."""

    class_bias: tuple[float, ...] = (0.0,) * len(EXPRESSIONS)
    name: str = "argmax"

    def __post_init__(self) -> None:
        if len(self.class_bias) != len(EXPRESSIONS) or not all(np.isfinite(self.class_bias)):
            raise ValueError(f"class_bias needs {len(EXPRESSIONS)} finite numbers, got {self.class_bias!r}")

    @property
    def is_identity(self) -> bool:
        return not any(self.class_bias)

    @classmethod
    def prior_correction(cls, prior: np.ndarray, tau: float, negative_bias: float = 0.0) -> DecisionRule:
        """Logit adjustment against the training prior (``tau`` 1 = balanced), plus an extra log-odds bias
        for the negative classes."""
        prior = np.asarray(prior, dtype=np.float64)
        bias = -tau * np.log(np.clip(prior / prior.sum(), 1e-6, None))
        bias = bias - bias[0]  # neutral is the reference: only the differences matter
        bias[list(NEGATIVE_INDEX)] += negative_bias
        return cls(
            class_bias=tuple(round(float(b), 4) for b in bias),
            name=f"prior correction tau={tau:g}, negative bias={negative_bias:g}",
        )

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """[N, 8] probabilities -> the rule's probabilities (rows still sum to 1)."""
        probs = np.asarray(probs, dtype=np.float32)
        if self.is_identity:
            return probs
        logits = np.log(np.clip(probs, 1e-12, None)) + np.asarray(self.class_bias, dtype=np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        out = np.exp(logits)
        return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)

    def as_dict(self) -> dict:
        return {"name": self.name, "class_bias": list(self.class_bias), "classes": list(EXPRESSIONS)}

    @classmethod
    def from_dict(cls, data: dict) -> DecisionRule:
        if list(data.get("classes", EXPRESSIONS)) != list(EXPRESSIONS):
            raise ValueError("decision_rule classes are not in the engine's order")
        return cls(class_bias=tuple(float(b) for b in data["class_bias"]), name=str(data.get("name", "custom")))


def metrics_path(classifier_path: str | Path) -> Path:
    path = Path(classifier_path)
    return path.with_name(path.stem + ".metrics.json")


def load_rule(classifier_path: str | Path) -> DecisionRule:
    """The rule shipped beside ``classifier_path``; plain argmax when the model has no metrics file or rule."""
    path = metrics_path(classifier_path)
    if not path.exists():
        return DecisionRule()
    block = json.loads(path.read_text()).get("decision_rule")
    return DecisionRule.from_dict(block) if block else DecisionRule()
