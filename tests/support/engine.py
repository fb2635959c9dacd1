"""Fixtures and helpers for the emotion engine tests (import the fixtures into a test module to use them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import simplejpeg

import engine.inference as inference

DATA = Path(__file__).resolve().parents[1] / "data" / "cremad"
REAL_CLASSIFIER = inference.DEFAULT_CLASSIFIER_PATH
HAPPY_CLIP = DATA / "1001_DFA_HAP_XX.flv"
FRAMES = {name: DATA / f"1001_DFA_{name}_XX_f30.jpg" for name in ("HAP", "NEU", "ANG")}


def shared_data_dir() -> Path:
    repo = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("MIMIC_SHARED_DATA", repo.parent / "shared" / "data"))


def frame(name: str = "HAP") -> bytes:
    return FRAMES[name].read_bytes()


def frame_rgb(name: str = "HAP") -> np.ndarray:
    return simplejpeg.decode_jpeg(frame(name), colorspace="RGB")


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    return simplejpeg.encode_jpeg(np.ascontiguousarray(rgb), quality=quality)
