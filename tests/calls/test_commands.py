"""The analyze_video and evaluate_emotions commands, on the engine the portal builds from its settings."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from engine.inference import grey_to_input
from engine.labels import EXPRESSIONS
from tests.support.engine import HAPPY_CLIP


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
