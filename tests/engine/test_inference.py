"""The engine on real faces (CREMA-D frames): detection, the client's face, quality flags, classification."""

from __future__ import annotations

import builtins
import os

import numpy as np
import pytest
from PIL import Image

from engine.detector import FaceDetector, iou, nms, prior_boxes
from engine.inference import BadFrame, Engine, FrameResult
from engine.labels import EXPRESSIONS, valence_of
from engine.tracking import REGION_MAX_AGE_S, REGION_REFRESH_FRAMES
from tests.support.engine import frame, frame_rgb, jpeg


def scaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((round(w * factor), round(h * factor)), Image.Resampling.BILINEAR))


def paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> np.ndarray:
    canvas[y : y + image.shape[0], x : x + image.shape[1]] = image
    return canvas


def box_center(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def test_the_detector_priors_match_the_network_outputs() -> None:
    detector = FaceDetector()
    blob = np.zeros((1, 3, 240, 320), np.float32)
    loc, conf, landmarks = detector.session.run(None, {detector.input_name: blob})
    assert prior_boxes(240, 320).shape == (loc.shape[1], 4) == (conf.shape[1], 4)
    assert landmarks.shape[2] == 10


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float64)
    keep = nms(boxes, np.array([0.8, 0.9, 0.7]), 0.4)
    assert keep.tolist() == [1, 2]
    assert iou((0, 0, 10, 10), boxes[2:]).tolist() == [0.0]


def test_it_finds_the_face_in_a_real_frame(engine) -> None:
    faces = engine.detector.detect(frame_rgb("HAP"))
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.9
    cx, cy = box_center(face.box)
    # The actor sits in the middle of the 480x360 frame, face about 90-200 px tall.
    assert 180 < cx < 300 and 80 < cy < 240
    assert 90 < face.height < 200
    right_eye, left_eye, nose, mouth_right, mouth_left = face.landmarks
    assert right_eye[1] < nose[1] < mouth_right[1] and left_eye[1] < nose[1] < mouth_left[1]
    assert right_eye[0] < left_eye[0]


def test_analyze_jpeg_classifies_a_real_face(engine) -> None:
    result = engine.analyze_jpeg(frame("NEU"))
    assert isinstance(result, FrameResult)
    assert result.face_found and result.flags == []
    assert len(result.probs) == len(EXPRESSIONS)
    assert sum(result.probs) == pytest.approx(1.0, abs=1e-3)
    assert result.label == EXPRESSIONS[int(np.argmax(result.probs))]
    assert result.valence == valence_of(result.label)
    assert result.box is not None and all(isinstance(v, int) for v in result.box)
    assert result.as_dict()["box"] == list(result.box)


def test_analyze_jpeg_raises_bad_frame_for_garbage(engine) -> None:
    with pytest.raises(BadFrame):
        engine.analyze_jpeg(b"not a jpeg at all")


def test_analyze_rgb_rejects_arrays_that_are_not_rgb_frames(engine) -> None:
    with pytest.raises(BadFrame):
        engine.analyze_rgb(np.zeros((10, 10), np.uint8))
    with pytest.raises(BadFrame):
        engine.analyze_rgb(np.zeros((10, 10, 3), np.float32))


@pytest.mark.parametrize(
    "image",
    [
        np.full((240, 320, 3), 128, np.uint8),
        np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8),
    ],
    ids=["flat", "noise"],
)
def test_a_frame_without_a_face_is_flagged_no_face(engine, image) -> None:
    result = engine.analyze_jpeg(jpeg(image))
    assert not result.face_found
    assert "no_face" in result.flags
    assert result.probs is None and result.label is None and result.box is None


def two_faces(left_factor: float, right_factor: float) -> np.ndarray:
    canvas = np.full((360, 720, 3), 90, np.uint8)
    left, right = scaled(frame_rgb("HAP"), left_factor), scaled(frame_rgb("NEU"), right_factor)
    paste(canvas, left, 0, (360 - left.shape[0]) // 2)
    return paste(canvas, right, 720 - right.shape[1], (360 - right.shape[0]) // 2)


def test_with_two_faces_it_flags_multiple_faces_and_picks_the_largest(engine) -> None:
    image = two_faces(0.75, 0.5)
    result = engine.analyze_jpeg(jpeg(image))
    assert result.face_found
    assert "multiple_faces" in result.flags
    assert box_center(result.box)[0] < 360  # the larger face is on the left


def test_tracking_keeps_the_previous_face_when_a_larger_one_appears(engine) -> None:
    image = two_faces(0.5, 0.5)
    alone = np.full_like(image, 90)
    alone[:, 360:] = image[:, 360:]
    first = engine.analyze_rgb(alone)
    assert first.face_found and box_center(first.box)[0] > 360

    # A larger person now passes on the left; the client on the right stays selected.
    crowded = two_faces(0.75, 0.5)
    assert box_center(engine.analyze_rgb(crowded).box)[0] < 360  # without tracking: the larger face
    tracked = engine.analyze_rgb(crowded, prev_box=first.box)
    assert "multiple_faces" in tracked.flags
    assert box_center(tracked.box)[0] > 360
    assert iou(first.box, np.array([tracked.box]))[0] > 0.5


def test_tracking_between_equal_faces_follows_the_previous_box(engine) -> None:
    image = two_faces(0.6, 0.6)
    faces = engine.detector.detect(image)
    assert len(faces) == 2
    for face in faces:
        prev = tuple(int(v) for v in face.box)
        result = engine.analyze_rgb(image, prev_box=prev)
        assert iou(prev, np.array([result.box]))[0] > 0.8


def test_a_tiny_face_is_flagged_and_not_classified(engine) -> None:
    canvas = np.full((240, 320, 3), 100, np.uint8)
    small = scaled(frame_rgb("HAP"), 0.25)  # face about 30 px
    result = engine.analyze_jpeg(jpeg(paste(canvas, small, 100, 80)))
    assert "face_too_small" in result.flags
    assert not result.face_found and result.probs is None
    assert result.box is not None and max(result.box[2] - result.box[0], result.box[3] - result.box[1]) < 40


def test_a_dark_frame_is_flagged_too_dark(engine) -> None:
    dark = (frame_rgb("HAP").astype(np.float32) * 0.15).astype(np.uint8)
    result = engine.analyze_jpeg(jpeg(dark))
    assert "too_dark" in result.flags
    assert not result.face_found and result.probs is None
    bright = engine.analyze_jpeg(frame("HAP"))
    assert "too_dark" not in bright.flags


def test_a_bright_enough_face_in_a_dim_room_is_not_dark(engine) -> None:
    rgb = frame_rgb("NEU").copy()
    rgb[:60] //= 5  # dim the top of the room only
    assert "too_dark" not in engine.analyze_rgb(rgb).flags


def test_engine_works_without_the_classifier_until_it_is_needed(tmp_path) -> None:
    engine = Engine(classifier_path=tmp_path / "missing.onnx")
    assert engine.analyze_rgb(np.full((240, 320, 3), 128, np.uint8)).flags == ["no_face"]
    with pytest.raises(FileNotFoundError):
        engine.analyze_jpeg(frame("HAP"))


def test_the_engine_writes_nothing_to_disk(engine, monkeypatch, tmp_path) -> None:
    engine.analyze_jpeg(frame("HAP"))  # sessions loaded before we watch
    opened: list[tuple] = []
    real_open, real_os_open = builtins.open, os.open

    def watch_open(file, mode="r", *args, **kwargs):
        opened.append((file, mode))
        return real_open(file, mode, *args, **kwargs)

    def watch_os_open(path, flags, *args, **kwargs):
        opened.append((path, flags))
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watch_open)
    monkeypatch.setattr(os, "open", watch_os_open)
    monkeypatch.chdir(tmp_path)
    for name in ("HAP", "NEU", "ANG"):
        engine.analyze_jpeg(frame(name))
    engine.analyze_rgb(two_faces(0.6, 0.5))
    monkeypatch.undo()
    assert opened == []
    assert list(tmp_path.iterdir()) == []


# Coarse-to-fine detection: a half-size pass first, full size only when it finds no large enough face.


def centred(factor: float) -> np.ndarray:
    """A 320x240 frame with the CREMA-D actor scaled by ``factor`` in the middle of a plain wall."""
    canvas = np.full((240, 320, 3), 100, np.uint8)
    small = scaled(frame_rgb("HAP"), factor)
    return paste(canvas, small, (320 - small.shape[1]) // 2, (240 - small.shape[0]) // 2)


def test_a_fresh_frame_with_a_large_face_is_detected_on_the_half_size_copy_only(engine, detector_passes) -> None:
    rgb = scaled(frame_rgb("HAP"), 2 / 3)  # 320x240, face about 90 px
    full = engine.detector.detect(rgb)
    detector_passes.clear()
    result = engine.analyze_rgb(rgb)
    assert detector_passes == [160]
    assert result.face_found and result.flags == []
    assert iou(full[0].box, np.array([result.box]))[0] > 0.85  # the coarse box frames the face like the full one


def test_a_fresh_frame_whose_face_the_coarse_pass_misses_falls_back_to_full_size(engine, detector_passes) -> None:
    rgb = centred(0.3)  # face about 41 px: too small for the 160 px copy, still classifiable at full size
    assert engine.detector.detect(rgb, max_side=160) == []
    detector_passes.clear()
    result = engine.analyze_rgb(rgb)
    assert detector_passes == [160, None]
    assert result.face_found and result.probs is not None
    assert 40 <= max(result.box[2] - result.box[0], result.box[3] - result.box[1]) < 60


def test_a_small_face_found_by_the_coarse_pass_is_redetected_at_full_size(engine, detector_passes) -> None:
    rgb = centred(0.45)  # face about 60 px: found by the coarse pass, but below the 80 px it trusts
    coarse = engine.detector.detect(rgb, max_side=160)
    assert len(coarse) == 1 and coarse[0].size < 80
    full = engine.detector.detect(rgb)
    detector_passes.clear()
    faces = engine.detect(rgb)
    assert detector_passes == [160, None]
    assert [f.box for f in faces] == [f.box for f in full]


def test_a_frame_without_a_face_pays_for_both_passes_and_finds_nothing(engine, detector_passes) -> None:
    result = engine.analyze_rgb(np.full((240, 320, 3), 128, np.uint8))
    assert detector_passes == [160, None]
    assert result.flags == ["no_face"]


def test_a_tracked_small_face_skips_the_coarse_pass(engine, detector_passes) -> None:
    rgb = centred(0.45)
    prev = engine.analyze_rgb(rgb).box
    detector_passes.clear()
    tracked = engine.analyze_rgb(rgb, prev_box=prev)
    assert detector_passes == [None]
    assert tracked.face_found and iou(prev, np.array([tracked.box]))[0] > 0.9


def test_a_tracked_large_face_is_detected_on_the_half_size_copy(engine, detector_passes) -> None:
    rgb = scaled(frame_rgb("NEU"), 2 / 3)
    prev = engine.analyze_rgb(rgb).box
    detector_passes.clear()
    assert engine.analyze_rgb(rgb, prev_box=prev).face_found
    assert detector_passes == [160]


def test_the_baseline_engine_detects_fresh_frames_at_full_size_only(classifier_path) -> None:
    baseline = Engine(classifier_path=classifier_path, coarse_fresh=False)
    calls: list[int | None] = []
    real = baseline.detector.detect
    baseline.detector.detect = lambda rgb, max_side=None: calls.append(max_side) or real(rgb, max_side)
    assert baseline.analyze_rgb(scaled(frame_rgb("HAP"), 2 / 3)).face_found
    assert calls == [None]


def test_coarse_and_full_detection_agree_on_the_client_in_real_frames(engine) -> None:
    for name in ("HAP", "NEU", "ANG"):
        for factor in (2 / 3, 4 / 3):  # 320x240 and 640x480
            rgb = scaled(frame_rgb(name), factor)
            chosen = engine.detect(rgb)
            full = engine.detector.detect(rgb)
            assert len(chosen) == len(full) == 1
            assert iou(full[0].box, np.array([chosen[0].box]))[0] > 0.85
            assert np.abs(chosen[0].landmarks - full[0].landmarks).max() < 0.05 * full[0].size


# --- the one entry point: analyze(stream, jpeg) and its batch form ------------------------------------


def test_analyze_decodes_tracks_and_classifies_one_frame(fresh_engine) -> None:
    result = fresh_engine.analyze("call-a", frame("HAP"))
    assert result.face_found and result.label == "happy" and result.valence == "positive"
    assert fresh_engine.tracks.get("call-a") == result.box
    assert fresh_engine.tracks.get("call-b") is None


def test_analyze_forgets_a_streams_face_when_it_is_gone(fresh_engine) -> None:
    fresh_engine.analyze("call-a", frame("HAP"))
    blank = fresh_engine.analyze("call-a", jpeg(np.full((240, 320, 3), 128, np.uint8)))
    assert blank.flags == ["no_face"]
    assert fresh_engine.tracks.get("call-a") is None


def test_analyze_uses_the_streams_previous_box(fresh_engine, monkeypatch) -> None:
    first = fresh_engine.analyze("call-a", frame("NEU"))
    seen = []
    real = fresh_engine.locate
    monkeypatch.setattr(
        fresh_engine,
        "locate",
        lambda rgb, prev_box=None, faces=None: seen.append(prev_box) or real(rgb, prev_box, faces=faces),
    )
    fresh_engine.analyze("call-a", frame("NEU"))
    fresh_engine.analyze("call-b", frame("NEU"))
    assert seen == [first.box, None]


# --- tracked frames: the region check near the previous box ------------------------------------------


@pytest.fixture
def whole_frame_detections(fresh_engine, monkeypatch) -> list[int | None]:
    """The ``max_side`` of every whole-frame detector run of ``fresh_engine`` (region checks are not counted)."""
    calls: list[int | None] = []
    real = fresh_engine.detector.detect
    monkeypatch.setattr(
        fresh_engine.detector, "detect", lambda rgb, max_side=None: calls.append(max_side) or real(rgb, max_side)
    )
    return calls


def test_a_tracked_frame_is_detected_near_its_previous_box_only(fresh_engine, whole_frame_detections) -> None:
    first = fresh_engine.analyze("call-a", frame("ANG"))
    assert len(whole_frame_detections) == 1
    second = fresh_engine.analyze("call-a", frame("ANG"))
    assert len(whole_frame_detections) == 1  # the second frame cost a region check, no whole-frame pass
    assert second.face_found and second.label == first.label
    assert iou(first.box, np.array([second.box]))[0] > 0.8
    assert second.probs == pytest.approx(first.probs, abs=0.1)
    assert fresh_engine.tracks.track("call-a").region_frames == 1


def test_a_face_that_left_the_searched_square_is_found_in_the_whole_frame(fresh_engine, whole_frame_detections) -> None:
    rgb = frame_rgb("HAP")
    fresh_engine.analyze("call-a", jpeg(rgb))
    moved = np.roll(rgb, 150, axis=1)  # the client moved sideways by more than their face's width
    result = fresh_engine.analyze("call-a", jpeg(moved))
    assert result.face_found and result.label == "happy"
    assert len(whole_frame_detections) >= 2
    whole = fresh_engine.detector.detect(moved)
    assert iou(whole[0].box, np.array([result.box]))[0] > 0.85
    assert fresh_engine.tracks.track("call-a").region_frames == 0


def test_region_checks_give_way_to_a_whole_frame_pass_every_few_frames(fresh_engine, whole_frame_detections) -> None:
    data = frame("NEU")
    for _ in range(1 + REGION_REFRESH_FRAMES):
        fresh_engine.analyze("call-a", data)
    assert len(whole_frame_detections) == 1
    fresh_engine.analyze("call-a", data)  # due for a refresh: another person may have come into view
    assert len(whole_frame_detections) == 2
    assert fresh_engine.tracks.track("call-a").region_frames == 0


def test_an_old_box_is_not_trusted_for_a_region_check(classifier_path, monkeypatch) -> None:
    now = [100.0]
    engine = Engine(classifier_path=classifier_path)
    engine.tracks.clock = lambda: now[0]
    calls = []
    real = engine.detector.detect
    monkeypatch.setattr(
        engine.detector, "detect", lambda rgb, max_side=None: calls.append(max_side) or real(rgb, max_side)
    )
    engine.analyze("call-a", frame("NEU"))
    now[0] += REGION_MAX_AGE_S + 0.5  # the worker has not seen this call for a while
    engine.analyze("call-a", frame("NEU"))
    assert len(calls) == 2


def test_an_engine_without_region_checks_detects_every_frame_whole(classifier_path) -> None:
    engine = Engine(classifier_path=classifier_path, track_region=False)
    engine.analyze("call-a", frame("NEU"))
    engine.analyze("call-a", frame("NEU"))
    assert engine.tracks.track("call-a").region_frames == 0


def test_analyze_raises_bad_frame_for_what_is_not_a_jpeg(fresh_engine) -> None:
    with pytest.raises(BadFrame) as raised:
        fresh_engine.analyze("call-a", b"\x89PNG not a jpeg")
    assert raised.value.reason == "not_jpeg"


def test_analyze_many_classifies_every_face_of_the_batch_in_one_run(fresh_engine, monkeypatch) -> None:
    runs = []
    real = fresh_engine.classify
    monkeypatch.setattr(fresh_engine, "classify", lambda batch: runs.append(len(batch)) or real(batch))
    results = fresh_engine.analyze_many(
        [("a", frame("HAP")), ("b", b"garbage"), ("c", frame("ANG")), ("a", frame("HAP"))]
    )
    assert runs == [3]
    assert isinstance(results[1], BadFrame) and results[1].reason == "not_jpeg"
    assert [r.label for r in (results[0], results[3])] == ["happy", "happy"]
    assert results[2].face_found and results[2].valence == valence_of(results[2].label)
    one_by_one = Engine(classifier_path=fresh_engine.classifier_path).analyze("c", frame("ANG"))
    assert results[2].probs == pytest.approx(one_by_one.probs, abs=1e-4)


def test_the_frame_size_limit_is_the_engines_parameter(classifier_path) -> None:
    data = frame("HAP")
    with pytest.raises(BadFrame) as raised:
        Engine(classifier_path=classifier_path, max_frame_bytes=len(data) - 1).analyze("a", data)
    assert raised.value.reason == "too_many_bytes"
    assert Engine(classifier_path=classifier_path, max_frame_bytes=len(data)).analyze("a", data).face_found


def test_a_region_check_outside_the_frame_finds_nothing_instead_of_failing(fresh_engine) -> None:
    rgb = frame_rgb("HAP")
    height, width = rgb.shape[:2]
    faces, searched = fresh_engine.detector.detect_region(rgb, (width + 100, 10, width + 180, 90), 1.5, 64)
    assert faces == [] and searched[0] >= searched[2]  # nothing of the square is inside the frame
    assert fresh_engine.detect_near(rgb, (width + 100, 10, width + 180, 90)) is None
