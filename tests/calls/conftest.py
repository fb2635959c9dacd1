"""Fixtures of the calls tests."""

from __future__ import annotations

import numpy as np
import pytest

from calls import scoring
from calls.lifecycle import start_call
from tests.support.engine import shared_data_dir
from tests.support.live import give_consent


@pytest.fixture(scope="module")
def valid_sample() -> tuple[np.ndarray, np.ndarray]:
    from training.data import load_split, majority_labels

    folder = shared_data_dir() / "ferplus"
    if not (folder / "valid.npz").exists():
        pytest.skip(f"FER+ valid.npz not found under {folder} (set MIMIC_SHARED_DATA)")
    images, votes = load_split(folder, "valid")
    labels = majority_labels(votes)
    keep = np.flatnonzero(labels >= 0)[:240]
    return images[keep], labels[keep]


@pytest.fixture
def consented_call(call, process_engine):
    """A call the manager started and the client consented to, on a fresh process-wide engine."""
    start_call(call)  # what the manager's Start button does
    give_consent(call)
    scoring.reset()
    return call
