"""Offline analysis of a recorded call (mp4, webm, flv...): sample frames by timestamp and run the engine.

Frames are decoded by PyAV (FFmpeg) straight into RGB arrays in memory; nothing
is written anywhere. The client's face is tracked from one sample to the next
(the previous box is handed to the engine) so a person passing behind does not
take over the analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from engine.analytics import summarize
from engine.inference import Engine
from engine.labels import POOR_VIEW_FLAGS

# Forget the tracked box after this long without a face (the client may have moved seats).
TRACK_TIMEOUT_MS = 3000
MAX_SIDE = 1280  # larger videos are downscaled before analysis; the detector works at 320 px anyway


class BadVideo(ValueError):
    """A file that cannot be analysed as a video; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _frame_rgb(frame: av.VideoFrame) -> np.ndarray:
    longest = max(frame.width, frame.height)
    if longest > MAX_SIDE:
        scale = MAX_SIDE / longest
        return frame.to_ndarray(
            format="rgb24", width=max(2, int(frame.width * scale)), height=max(2, int(frame.height * scale))
        )
    return frame.to_ndarray(format="rgb24")


def analyze_video(
    path: str | Path,
    fps: float = 2.0,
    progress: Callable[[float], None] | None = None,
    *,
    engine: Engine,
    max_seconds: float | None = None,
) -> dict:
    """Analyse a video file at ``fps`` samples per second.

    Returns ``{"summary": analytics.summarize(...), "timeline": [{t_ms, face_found, label, probs, flags}]}``.
    ``progress`` is called with the fraction done (0..1). Raises BadVideo for a missing, corrupt or
    unsupported file, one without a video stream, or one running past ``max_seconds``.
    """
    if not fps or fps <= 0:
        raise ValueError("fps must be positive")
    step_ms = 1000.0 / fps
    try:
        container = av.open(str(path), mode="r")
    except FileNotFoundError:
        raise BadVideo(f"no such file: {path}") from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise BadVideo(f"not a readable video: {exc}") from None

    timeline: list[dict] = []
    with container:
        if not container.streams.video:
            raise BadVideo("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration_s = None
        if stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base

        start_s: float | None = None
        next_ms = 0.0
        prev_box = None
        last_face_ms = 0
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if start_s is None:
                    start_s = frame.time
                t_ms = (frame.time - start_s) * 1000.0
                if max_seconds is not None and t_ms > max_seconds * 1000.0:
                    # A header without (or with a false) duration: the cap holds while decoding too.
                    raise BadVideo(f"longer than {max_seconds:g} s")
                # Half a millisecond of slack: timestamps are rounded to the stream's time base.
                if t_ms + 0.5 < next_ms:
                    continue
                next_ms += step_ms
                if next_ms <= t_ms:  # after a jump in timestamps resume the grid from here
                    next_ms = t_ms + step_ms
                t = int(round(t_ms))
                result = engine.analyze_rgb(_frame_rgb(frame), prev_box=prev_box)
                if result.box is not None:
                    prev_box, last_face_ms = result.box, t
                elif prev_box is not None and t - last_face_ms > TRACK_TIMEOUT_MS:
                    prev_box = None
                timeline.append(
                    {
                        "t_ms": t,
                        "face_found": result.face_found,
                        "label": result.label,
                        "probs": result.probs,
                        "flags": result.flags,
                    }
                )
                if progress is not None and duration_s:
                    progress(min(1.0, t_ms / 1000.0 / duration_s))
        except av.error.FFmpegError as exc:
            raise BadVideo(f"the video cannot be decoded: {exc}") from None
    if not timeline:
        raise BadVideo("no decodable video frames")
    if progress is not None:
        progress(1.0)
    summary = summarize(
        [row["t_ms"] for row in timeline],
        [row["face_found"] for row in timeline],
        [row["probs"] for row in timeline],
        max_gap_ms=max(2000, int(2 * step_ms)),
        poor_view=[bool(POOR_VIEW_FLAGS.intersection(row["flags"])) for row in timeline],
    )
    return {"summary": summary, "timeline": timeline}
