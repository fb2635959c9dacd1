"""Fixtures and helpers for the emotion engine tests (import the fixtures into a test module to use them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

import emotions.inference as inference

DATA = Path(__file__).resolve().parent / "data" / "cremad"
REAL_CLASSIFIER = inference.DEFAULT_CLASSIFIER_PATH
HAPPY_CLIP = DATA / "1001_DFA_HAP_XX.flv"
FRAMES = {name: DATA / f"1001_DFA_{name}_XX_f30.jpg" for name in ("HAP", "NEU", "ANG")}


def shared_data_dir() -> Path:
    repo = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("MIMIC_SHARED_DATA", repo.parent / "shared" / "data"))


def random_classifier(path: Path) -> Path:
    """A random-weight ONNX with the classifier's contract: input [N,1,48,48] -> probs [N,8] softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.normal(0, 0.5, (16, 1, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(np.zeros(16, np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 1.0, (16, 8)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "random_expression",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 48, 48])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 8])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def classifier_path(tmp_path_factory) -> Path:
    """The trained classifier when it is in the repo, else a random one of the same contract."""
    if REAL_CLASSIFIER.exists():
        return REAL_CLASSIFIER
    return random_classifier(tmp_path_factory.mktemp("models") / "random_expression.onnx")


@pytest.fixture(scope="session")
def engine(classifier_path) -> inference.Engine:
    return inference.Engine(classifier_path=classifier_path)


@pytest.fixture
def process_engine(settings, classifier_path):
    """Point the process-wide engine (used by commands and analyze_video) at ``classifier_path``."""
    settings.MIMIC_CLASSIFIER_PATH = str(classifier_path)
    inference._engine = None
    yield inference.get_engine()
    inference._engine = None


def frame(name: str = "HAP") -> bytes:
    return FRAMES[name].read_bytes()


def frame_rgb(name: str = "HAP") -> np.ndarray:
    return simplejpeg.decode_jpeg(frame(name), colorspace="RGB")


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    return simplejpeg.encode_jpeg(np.ascontiguousarray(rgb), quality=quality)
