"""Honest uncertainty: a face the engine cannot read well gives no reading, never a guess.

Real CREMA-D frames, degraded synthetically (darkened, blurred, shrunk, rotated), against the same frame
undegraded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from engine.analytics import summarize
from engine.inference import MIN_SHARPNESS, crop_face, head_pose, select_face, sharpness
from engine.labels import POOR_VIEW_FLAGS
from tests.support.engine import frame_rgb, jpeg


def darkened(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) * 0.12).astype(np.uint8)


def blurred(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(6)))


def shrunk(rgb: np.ndarray) -> np.ndarray:
    canvas = np.full_like(rgb, 100)
    small = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] // 4, rgb.shape[0] // 4)))
    canvas[100 : 100 + small.shape[0], 150 : 150 + small.shape[1]] = small
    return canvas


def rotated(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).rotate(45, resample=Image.Resampling.BILINEAR))


@pytest.mark.parametrize("clip", ["NEU", "HAP", "ANG"])
def test_the_undegraded_frame_is_read(engine, clip) -> None:
    result = engine.analyze_jpeg(jpeg(frame_rgb(clip)))
    assert result.face_found and result.label is not None
    assert not result.poor_view


@pytest.mark.parametrize(
    ("degrade", "flag"),
    [(darkened, "too_dark"), (blurred, "blurred"), (shrunk, "face_too_small"), (rotated, "turned_away")],
    ids=["darkened", "blurred", "shrunk", "rotated"],
)
def test_a_degraded_face_gives_no_reading_and_says_why(engine, degrade, flag) -> None:
    result = engine.analyze_jpeg(jpeg(degrade(frame_rgb("HAP"))))
    assert flag in result.flags
    assert result.box is not None, "the face is still found, so it is tracked"
    assert not result.face_found and result.label is None and result.probs is None and result.valence is None
    assert result.poor_view


def test_a_mildly_tilted_face_is_still_read(engine) -> None:
    tilted = np.asarray(Image.fromarray(frame_rgb("HAP")).rotate(15, resample=Image.Resampling.BILINEAR))
    result = engine.analyze_jpeg(jpeg(tilted))
    assert result.face_found and "turned_away" not in result.flags


def test_head_pose_reads_the_tilt_of_the_eye_line(engine) -> None:
    upright = select_face(engine.detect(frame_rgb("NEU")))
    tilted = select_face(engine.detect(rotated(frame_rgb("NEU"))))
    roll, yaw = head_pose(upright)
    assert abs(roll) < 5 and yaw < 0.2
    assert 35 < abs(head_pose(tilted)[0]) < 55


def test_sharpness_separates_a_real_crop_from_its_blurred_copy(engine) -> None:
    rgb = frame_rgb("NEU")
    face = select_face(engine.detect(rgb))
    crop = crop_face(rgb, face)
    soft = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))) / 255.0
    assert sharpness(crop) > 3 * MIN_SHARPNESS
    assert sharpness(soft) < MIN_SHARPNESS


def test_poor_view_time_is_left_out_of_the_shares_and_reported() -> None:
    happy = [0.0, 1.0, 0, 0, 0, 0, 0, 0]
    sad = [0.0, 0, 0, 1.0, 0, 0, 0, 0]
    # 4 s happy, 2 s sad, 4 s of a face too poor to read, 1 frame per second
    t = list(range(0, 10_000, 1000))
    found = [True] * 6 + [False] * 4
    probs = [happy] * 4 + [sad] * 2 + [None] * 4
    summary = summarize(t, found, probs, poor_view=[False] * 6 + [True] * 4)
    assert summary["poor_view_pct"] == pytest.approx(40.0)
    assert summary["valence_pct"]["positive"] == pytest.approx(66.67, abs=0.01)
    assert summary["valence_pct"]["negative"] == pytest.approx(33.33, abs=0.01)
    assert summary["face_visible_pct"] == pytest.approx(60.0)
    assert summarize(t, found, probs)["poor_view_pct"] == 0.0


def test_the_poor_view_flags_are_the_engine_s_quality_flags() -> None:
    assert POOR_VIEW_FLAGS == {"face_too_small", "too_dark", "blurred", "turned_away"}
