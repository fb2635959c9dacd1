"""The decision rule ships with the model and is applied in one place (Engine.classify)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.decision import DecisionRule, load_rule, metrics_path
from engine.inference import DEFAULT_CLASSIFIER_PATH, Engine, grey_to_input
from engine.labels import EXPRESSIONS, NEGATIVE_INDEX
from tests.support.engine import frame_rgb, jpeg


def test_a_zero_bias_is_plain_argmax() -> None:
    probs = np.random.default_rng(0).dirichlet(np.ones(8), size=50).astype(np.float32)
    assert DecisionRule().is_identity
    assert np.array_equal(DecisionRule().apply(probs), probs)


def test_a_prior_correction_lifts_the_rare_classes_and_keeps_rows_normalised() -> None:
    prior = np.array([0.4, 0.25, 0.12, 0.1, 0.08, 0.01, 0.02, 0.02])
    rule = DecisionRule.prior_correction(prior, tau=1.0)
    probs = np.array([[0.45, 0.05, 0.05, 0.05, 0.35, 0.02, 0.02, 0.01]], np.float32)
    adjusted = rule.apply(probs)
    assert adjusted.sum() == pytest.approx(1.0, abs=1e-5)
    assert EXPRESSIONS[int(probs.argmax())] == "neutral"
    assert EXPRESSIONS[int(adjusted.argmax())] == "angry"  # 0.35 / 0.08 beats 0.45 / 0.4


def test_a_negative_bias_moves_mass_to_the_negative_classes_only() -> None:
    rule = DecisionRule.prior_correction(np.ones(8), tau=0.0, negative_bias=1.0)
    probs = np.full((1, 8), 1 / 8, np.float32)
    adjusted = rule.apply(probs)[0]
    negative = adjusted[list(NEGATIVE_INDEX)]
    assert np.allclose(negative, negative[0]) and negative[0] > adjusted[0]
    assert adjusted[0] == pytest.approx(adjusted[1])


def test_it_refuses_a_malformed_rule() -> None:
    with pytest.raises(ValueError):
        DecisionRule(class_bias=(0.0,) * 7)
    with pytest.raises(ValueError):
        DecisionRule(class_bias=(float("nan"),) * 8)
    with pytest.raises(ValueError):
        DecisionRule.from_dict({"class_bias": [0] * 8, "classes": list(reversed(EXPRESSIONS))})


def test_the_shipped_model_carries_its_rule_and_the_engine_applies_it() -> None:
    shipped = json.loads(metrics_path(DEFAULT_CLASSIFIER_PATH).read_text())
    assert "decision_rule" in shipped, "the model's metrics JSON names the rule every part of Mimic applies"
    rule = load_rule(DEFAULT_CLASSIFIER_PATH)
    engine = Engine()
    assert engine.decision_rule == rule
    faces = grey_to_input(np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8))
    assert np.allclose(engine.classify(faces), rule.apply(engine.classify_raw(faces)), atol=1e-6)
    result = engine.analyze_jpeg(jpeg(frame_rgb("NEU")))
    assert result.label == EXPRESSIONS[int(np.argmax(result.probs))]


def test_a_model_without_a_metrics_file_uses_argmax(tmp_path) -> None:
    copy = tmp_path / "other.onnx"
    copy.write_bytes(DEFAULT_CLASSIFIER_PATH.read_bytes())
    assert load_rule(copy).is_identity


def test_the_rule_round_trips_through_its_json_form() -> None:
    rule = DecisionRule.prior_correction(np.linspace(0.3, 0.01, 8), tau=0.5, negative_bias=0.25)
    assert DecisionRule.from_dict(json.loads(json.dumps(rule.as_dict()))) == rule
