# ruff: noqa: F811  (pytest fixtures imported from tests.engine_support are redefined as parameters)
"""analyze_video on a real CREMA-D clip, and the analyze_video / evaluate_emotions commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from engine.inference import Engine, grey_to_input
from engine.labels import EXPRESSIONS
from engine.video import BadVideo, analyze_video
from tests.engine_support import (  # noqa: F401
    HAPPY_CLIP,
    classifier_path,
    engine,
    process_engine,
    shared_data_dir,
)


def test_analyze_video_samples_the_clip_by_timestamp(engine) -> None:
    seen: list[float] = []
    result = analyze_video(HAPPY_CLIP, fps=5, progress=seen.append, engine=engine)
    timeline = result["timeline"]
    # A ~1.9 s clip at 5 samples per second.
    assert 9 <= len(timeline) <= 10
    steps = np.diff([row["t_ms"] for row in timeline])
    assert np.all(np.abs(steps - 200) <= 34)  # within one 30 fps frame of the 200 ms grid
    assert all(row["face_found"] for row in timeline)
    for row in timeline:
        assert set(row) >= {"t_ms", "face_found", "label", "probs"}
        assert row["label"] == EXPRESSIONS[int(np.argmax(row["probs"]))]
    summary = result["summary"]
    assert summary["frames"] == len(timeline)
    assert summary["face_visible_pct"] == 100.0
    assert summary["dominant"] in EXPRESSIONS
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_a_happy_clip_is_mostly_happy() -> None:
    # The shipped classifier, not a stand-in: this is the end-to-end check that the engine reads expressions.
    result = analyze_video(HAPPY_CLIP, fps=5, engine=Engine())
    assert result["summary"]["dominant"] == "happy"
    assert result["summary"]["valence_pct"]["positive"] >= 50


def test_analyze_video_rejects_a_missing_file(engine, tmp_path) -> None:
    with pytest.raises(BadVideo):
        analyze_video(tmp_path / "nope.mp4", engine=engine)


def test_analyze_video_rejects_a_file_that_is_not_a_video(engine, tmp_path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 100)
    with pytest.raises(BadVideo):
        analyze_video(path, engine=engine)


def test_analyze_video_rejects_a_truncated_video(engine, tmp_path) -> None:
    path = tmp_path / "cut.flv"
    path.write_bytes(HAPPY_CLIP.read_bytes()[:300])
    with pytest.raises(BadVideo):
        analyze_video(path, engine=engine)


def test_analyze_video_rejects_audio_only_file(engine, tmp_path) -> None:
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(BadVideo, match="no video stream"):
        analyze_video(path, engine=engine)


def test_analyze_video_command_prints_summary_and_json(process_engine) -> None:
    out, err = StringIO(), StringIO()
    call_command("analyze_video", str(HAPPY_CLIP), "--fps", "4", "--json", stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    data = json.loads(lines[-1])
    assert set(data) >= {"summary", "timeline"}
    assert data["summary"]["frames"] == len(data["timeline"]) >= 7
    assert "dominant expression" in out.getvalue()
    assert "100%" in err.getvalue() and "\r[" in err.getvalue()


def test_analyze_video_command_reports_a_bad_file(process_engine, tmp_path) -> None:
    path = tmp_path / "bad.webm"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 64)
    with pytest.raises(CommandError):
        call_command("analyze_video", str(path), stdout=StringIO(), stderr=StringIO())


# evaluate_emotions ---------------------------------------------------------------------------------------------

FERPLUS_NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


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


def test_evaluate_emotions_on_a_small_npz(process_engine, valid_sample, tmp_path) -> None:
    images, y = valid_sample
    path = tmp_path / "sample.npz"
    np.savez(path, images=images, labels=np.array([FERPLUS_NAMES[i] for i in y]))
    out = StringIO()
    call_command("evaluate_emotions", str(path), "--json", stdout=out)
    text = out.getvalue()
    metrics = json.loads(text.strip().splitlines()[-1])
    assert set(metrics) >= {"n", "accuracy", "f1_negative", "precision_negative", "recall_negative"}
    assert metrics["n"] == len(y)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    # Recompute with the classifier directly.
    predicted = process_engine.classify(grey_to_input(images)).argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(float(np.mean(predicted == y)))
    negative = np.isin(y, [3, 4, 5, 6, 7])
    predicted_negative = np.isin(predicted, [3, 4, 5, 6, 7])
    tp = np.sum(negative & predicted_negative)
    if predicted_negative.any():
        assert metrics["precision_negative"] == pytest.approx(tp / predicted_negative.sum())
    assert metrics["recall_negative"] == pytest.approx(tp / negative.sum())
    assert "confusion" in text and "negative" in text
    for name in EXPRESSIONS:
        assert name in text


def test_evaluate_emotions_on_rgb_npz_and_class_folders(process_engine, valid_sample, tmp_path) -> None:
    images, y = valid_sample
    rgb = np.repeat(images[:40, :, :, None], 3, axis=3)
    npz = tmp_path / "rgb.npz"
    np.savez(npz, images=rgb, labels=np.array([FERPLUS_NAMES[i] for i in y[:40]]))
    from_npz = json.loads(_evaluate(npz).strip().splitlines()[-1])

    folder = tmp_path / "faces"
    for i, (image, label) in enumerate(zip(images[:40], y[:40], strict=True)):
        (folder / FERPLUS_NAMES[label]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / FERPLUS_NAMES[label] / f"{i}.png")
    from_folder = json.loads(_evaluate(folder).strip().splitlines()[-1])
    assert from_npz["n"] == from_folder["n"] == 40
    assert from_npz["accuracy"] == pytest.approx(from_folder["accuracy"])


def _evaluate(path: Path) -> str:
    out = StringIO()
    call_command("evaluate_emotions", str(path), "--json", stdout=out)
    return out.getvalue()


def test_evaluate_emotions_reports_missing_path(process_engine, tmp_path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("evaluate_emotions", str(tmp_path / "none.npz"), stdout=StringIO())


def test_evaluate_emotions_reports_bad_file(process_engine, tmp_path) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(CommandError):
        call_command("evaluate_emotions", str(path), stdout=StringIO())
    wrong_keys = tmp_path / "keys.npz"
    np.savez(wrong_keys, x=np.zeros(3))
    with pytest.raises(CommandError, match="'images' and 'labels'"):
        call_command("evaluate_emotions", str(wrong_keys), stdout=StringIO())


def test_evaluate_emotions_reports_unknown_label(process_engine, tmp_path) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, images=np.zeros((2, 48, 48), np.uint8), labels=np.array(["happy", "bored"]))
    with pytest.raises(CommandError, match="bored"):
        call_command("evaluate_emotions", str(path), stdout=StringIO())
