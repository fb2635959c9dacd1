"""The classifier's mirror pass only where the first pass is undecided (engine.mirror)."""

from __future__ import annotations

import av
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine.detector import single_thread_session
from engine.inference import Engine
from engine.mirror import MIRROR_MARGIN, MirroredClassifier, single_pass_graph
from tests.support.engine import FRAMES, HAPPY_CLIP, frame_rgb


def real_crops(engine: Engine) -> np.ndarray:
    """Face crops [N, 1, 48, 48] of the test stills and of every 3rd frame of the happy clip."""
    images = [frame_rgb(name) for name in FRAMES]
    with av.open(str(HAPPY_CLIP)) as container:
        images += [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % 3 == 0]
    crops = [crop for _, crop in (engine.locate(image) for image in images) if crop is not None]
    assert len(crops) >= 10
    return np.stack(crops)[:, None]


def rule_margin(engine: Engine, raw: np.ndarray) -> np.ndarray:
    ranked = np.sort(engine.decision_rule.apply(raw), axis=1)
    return ranked[:, -1] - ranked[:, -2]


@pytest.fixture(scope="module")
def full_engine(classifier_path) -> Engine:
    return Engine(classifier_path=classifier_path, mirror_margin=None)


@pytest.fixture(scope="module")
def crops(full_engine) -> np.ndarray:
    return real_crops(full_engine)


def test_the_shipped_classifier_is_mirrored_only_where_undecided(engine) -> None:
    assert engine.classifier.adaptive
    assert engine.classifier.margin == MIRROR_MARGIN


def test_its_single_pass_graph_and_the_mirror_image_rebuild_the_shipped_output(classifier_path, crops) -> None:
    single = single_thread_session(single_pass_graph(onnx.load(str(classifier_path))))
    shipped = single_thread_session(classifier_path)
    (once,) = single.run(None, {"input": crops})
    (mirrored,) = single.run(None, {"input": np.ascontiguousarray(crops[..., ::-1])})
    (expected,) = shipped.run(None, {"input": crops})
    assert np.abs(0.5 * (once + mirrored) - expected).max() < 1e-5
    assert np.abs(once - expected).max() > 1e-3  # the single pass is a different answer, not the same graph


def test_undecided_faces_get_the_shipped_answer_and_decided_ones_keep_their_label(engine, full_engine, crops) -> None:
    engine.classifier.faces_seen = engine.classifier.faces_mirrored = 0
    adaptive = engine.classify_raw(crops)
    full = full_engine.classify_raw(crops)
    (once,) = engine.classifier.single.run(None, {"input": crops})
    undecided = rule_margin(engine, once) < MIRROR_MARGIN
    assert engine.classifier.faces_mirrored == int(undecided.sum())
    assert engine.classifier.faces_seen == len(crops)
    assert np.allclose(adaptive[undecided], full[undecided], atol=1e-6)
    assert np.allclose(adaptive[~undecided], once[~undecided], atol=1e-6)
    labels = engine.decision_rule.apply(adaptive).argmax(axis=1)
    assert (labels == full_engine.decision_rule.apply(full).argmax(axis=1)).all()


def test_no_margin_runs_the_shipped_graph_on_every_face(full_engine, crops) -> None:
    assert not full_engine.classifier.adaptive
    (expected,) = single_thread_session(full_engine.classifier_path).run(None, {"input": crops})
    assert np.array_equal(full_engine.classify_raw(crops), expected)


def _tiny_model(path, *, mirror_step: int | None) -> None:
    """A 1x48x48 -> 8 classifier: a strided Conv, a dense layer, Softmax (not mirror-symmetric). With
    ``mirror_step`` its input is first concatenated with a Slice of itself along the width (step -1: a true
    mirror image) and the two halves of the softmax averaged, as training.train.ExportWrapper exports."""
    rng = np.random.default_rng(3)
    consts = [
        helper.make_tensor("w", TensorProto.FLOAT, [8, 1, 5, 5], rng.normal(size=200).astype(np.float32)),
        helper.make_tensor("dense", TensorProto.FLOAT, [968, 8], rng.normal(size=968 * 8).astype(np.float32) / 4),
    ]
    nodes = []
    source = "input"
    if mirror_step is not None:
        for name, value in (("starts", -1 if mirror_step < 0 else 0), ("ends", -49 if mirror_step < 0 else 48)):
            consts.append(helper.make_tensor(name, TensorProto.INT64, [1], [value]))
        consts += [
            helper.make_tensor("axes", TensorProto.INT64, [1], [3]),
            helper.make_tensor("steps", TensorProto.INT64, [1], [mirror_step]),
        ]
        nodes += [
            helper.make_node("Slice", ["input", "starts", "ends", "axes", "steps"], ["mirror"]),
            helper.make_node("Concat", ["input", "mirror"], ["both"], axis=0),
        ]
        source = "both"
    nodes += [
        helper.make_node("Conv", [source, "w"], ["conv"], strides=[4, 4]),
        helper.make_node("Flatten", ["conv"], ["flat"]),
        helper.make_node("MatMul", ["flat", "dense"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["soft"], axis=1),
    ]
    output = "soft"
    if mirror_step is not None:
        consts += [
            helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
            helper.make_tensor("axis0", TensorProto.INT64, [1], [0]),
            helper.make_tensor("big", TensorProto.INT64, [1], [1 << 40]),
            helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        ]
        nodes += [
            helper.make_node("Shape", ["input"], ["shape"]),
            helper.make_node("Slice", ["shape", "zero", "starts_one"], ["n"]),
            helper.make_node("Slice", ["soft", "zero", "n", "axis0"], ["first"]),
            helper.make_node("Slice", ["soft", "n", "big", "axis0"], ["second"]),
            helper.make_node("Add", ["first", "second"], ["sum"]),
            helper.make_node("Mul", ["sum", "half"], ["probs"]),
        ]
        consts.append(helper.make_tensor("starts_one", TensorProto.INT64, [1], [1]))
        output = "probs"
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 48, 48])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", 8])],
        initializer=consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _classifier(path, margin: float | None = MIRROR_MARGIN) -> MirroredClassifier:
    return MirroredClassifier(str(path), single_thread_session, lambda probs: probs, margin)


def test_a_mirror_averaged_graph_of_other_layers_is_recognised(tmp_path, crops) -> None:
    path = tmp_path / "mirrored.onnx"
    _tiny_model(path, mirror_step=-1)
    (shipped,) = single_thread_session(path).run(None, {"input": crops})
    every_face = _classifier(path, margin=2.0)  # no margin reaches 2: every face is mirrored
    assert every_face.adaptive
    assert np.allclose(every_face(crops), shipped, atol=1e-6)
    assert every_face.faces_mirrored == len(crops)
    no_face = _classifier(path, margin=0.0)
    (once,) = no_face.single.run(None, {"input": crops})
    assert np.allclose(no_face(crops), once, atol=1e-6)
    assert no_face.faces_mirrored == 0
    assert np.abs(once - shipped).max() > 1e-3


def test_a_graph_without_a_mirror_branch_runs_as_it_is(tmp_path, crops) -> None:
    _tiny_model(tmp_path / "plain.onnx", mirror_step=None)
    assert single_pass_graph(onnx.load(str(tmp_path / "plain.onnx"))) is None
    classifier = _classifier(tmp_path / "plain.onnx")
    assert not classifier.adaptive
    (expected,) = single_thread_session(tmp_path / "plain.onnx").run(None, {"input": crops})
    assert np.array_equal(classifier(crops), expected)
    assert classifier.faces_mirrored == classifier.faces_seen == len(crops)


def test_a_branch_that_is_not_a_mirror_image_is_refused_at_load(tmp_path, crops) -> None:
    # Concat(x, Slice(x)) with step 1 copies the face instead of mirroring it: the derived single pass does
    # not rebuild the graph's output, so the probe check keeps the graph as it is.
    _tiny_model(tmp_path / "copied.onnx", mirror_step=1)
    assert single_pass_graph(onnx.load(str(tmp_path / "copied.onnx"))) is not None
    classifier = _classifier(tmp_path / "copied.onnx")
    assert not classifier.adaptive
    (expected,) = single_thread_session(tmp_path / "copied.onnx").run(None, {"input": crops})
    assert np.array_equal(classifier(crops), expected)
