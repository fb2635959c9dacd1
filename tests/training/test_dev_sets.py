"""The dev sets the model is chosen on: a fixed person-disjoint muxfe split, and the evaluation's maths."""

from __future__ import annotations

import numpy as np
import pytest

from bench.model_eval import always_negative_f1, causal_mean, neutral_to_negative
from engine.labels import EXPRESSIONS
from tests.support.engine import shared_data_dir
from training.data import load_muxfe, muxfe_dev_mask


def test_the_muxfe_dev_part_shares_no_person_with_the_train_part_and_is_stable() -> None:
    person = np.array([f"p{i % 37}" for i in range(500)])
    dev = muxfe_dev_mask(person)
    assert not set(person[dev]) & set(person[~dev])
    assert np.array_equal(dev, muxfe_dev_mask(person.copy()))
    assert 0.25 < len(set(person[dev])) / 37 < 0.35


def test_the_real_muxfe_pack_splits_by_person() -> None:
    folder = shared_data_dir() / "muxfe"
    if not (folder / "muxfe_dev.npz").exists():
        pytest.skip("the shared muxfe pack is not on this machine")
    images, labels, person = load_muxfe(folder)
    dev = muxfe_dev_mask(person)
    assert images.shape[1:] == (48, 48) and (labels >= 0).all()
    assert not set(person[dev]) & set(person[~dev])
    assert dev.sum() == 2678  # the dev part the model card's table is measured on


def test_the_always_negative_baseline_is_the_f1_of_predicting_negative_everywhere() -> None:
    labels = np.array([EXPRESSIONS.index(n) for n in ["angry"] * 3 + ["neutral"] * 7])
    # precision 0.3, recall 1.0
    assert always_negative_f1(labels) == pytest.approx(2 * 0.3 / 1.3)


def test_neutral_read_negative_counts_only_neutral_faces() -> None:
    labels = np.array([0, 0, 0, 0, 4])
    pred = np.array([3, 0, 0, 0, 0])
    assert neutral_to_negative(labels, pred) == pytest.approx(0.25)


def test_the_causal_mean_only_looks_back() -> None:
    probs = np.eye(3)[[0, 1, 2, 2]]
    smoothed = causal_mean(probs, 2)
    assert np.allclose(smoothed[0], [1, 0, 0])
    assert np.allclose(smoothed[1], [0.5, 0.5, 0])
    assert np.allclose(smoothed[3], [0, 0, 1])
    assert np.array_equal(causal_mean(probs, 1), probs)
