"""Fixtures and helpers for the emotion engine tests (import the fixtures into a test module to use them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

import engine.inference as inference

DATA = Path(__file__).resolve().parent / "data" / "cremad"
REAL_CLASSIFIER = inference.DEFAULT_CLASSIFIER_PATH
HAPPY_CLIP = DATA / "1001_DFA_HAP_XX.flv"
FRAMES = {name: DATA / f"1001_DFA_{name}_XX_f30.jpg" for name in ("HAP", "NEU", "ANG")}


def shared_data_dir() -> Path:
    repo = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("MIMIC_SHARED_DATA", repo.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def classifier_path() -> Path:
    """The trained classifier that ships in the repo."""
    assert REAL_CLASSIFIER.exists(), f"{REAL_CLASSIFIER} is missing: it ships with the project"
    return REAL_CLASSIFIER


@pytest.fixture(scope="session")
def engine(classifier_path) -> inference.Engine:
    return inference.Engine(classifier_path=classifier_path)


@pytest.fixture
def process_engine(settings, classifier_path):
    """Point the process-wide engine (workers, commands, uploads) at ``classifier_path``."""
    from calls import scoring

    settings.MIMIC_CLASSIFIER_PATH = str(classifier_path)
    scoring.reset()
    yield scoring.get_engine()
    scoring.reset()


def frame(name: str = "HAP") -> bytes:
    return FRAMES[name].read_bytes()


def frame_rgb(name: str = "HAP") -> np.ndarray:
    return simplejpeg.decode_jpeg(frame(name), colorspace="RGB")


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    return simplejpeg.encode_jpeg(np.ascontiguousarray(rgb), quality=quality)
