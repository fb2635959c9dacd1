"""analyze_video on a real CREMA-D clip."""

from __future__ import annotations

import av
import numpy as np
import pytest

from engine.inference import Engine
from engine.labels import EXPRESSIONS
from engine.video import BadVideo, analyze_video
from tests.support.engine import HAPPY_CLIP


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
