"""Keeping the client's face from one frame to the next.

A call's stream shows the client; another person may pass behind or sit beside them. The face that
overlaps the previous frame's box is the same person even when a larger face appears, so the analysis
does not jump to whoever is biggest. Plain logic, no I/O.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.detector import Face, iou

# The face overlapping the previous box this much is the same person, even if a larger face appears.
TRACK_IOU = 0.3
# A stream's box is good for a region check (engine.inference: detection near the previous box only) for this
# long after it was seen; an older one sends the frame through whole-frame detection. Frames of one call
# alternate between worker processes, so at 2 fps a process usually last saw the call 0.5-1.5 s ago.
REGION_MAX_AGE_S = 2.0
# After this many region checks in a row the next frame is detected whole again: it finds a second face that
# came into view (the "multiple faces" flag) and re-anchors the box.
REGION_REFRESH_FRAMES = 8

Box = tuple[int, int, int, int]


def select_face(faces: list[Face], prev_box: tuple | None = None) -> Face | None:
    """The client's face: the one continuing ``prev_box`` if any overlaps it enough, else the largest."""
    if not faces:
        return None
    if prev_box is not None and len(faces) > 1:
        overlaps = iou(prev_box, np.array([f.box for f in faces]))
        best = int(np.argmax(overlaps))
        if overlaps[best] >= TRACK_IOU:
            return faces[best]
    return max(faces, key=lambda f: f.width * f.height)


@dataclass(frozen=True)
class Track:
    """Where a stream's face was last seen, when, and how many frames in a row found it by a region check."""

    box: Box
    seen_at: float
    region_frames: int = 0

    def allows_region_check(self, now: float) -> bool:
        return now - self.seen_at <= REGION_MAX_AGE_S and self.region_frames < REGION_REFRESH_FRAMES


class Tracks:
    """The last face of each stream (a call), bounded: the least recently seen streams are forgotten.

    A worker without a stream's box (or with a stale one) detects its face in the whole frame, so forgetting
    costs a little speed, never correctness; that is what lets any worker, on any host, take any frame.
    """

    def __init__(self, max_streams: int = 2000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_streams = max_streams
        self.clock = clock
        self._tracks: OrderedDict[str, Track] = OrderedDict()

    def get(self, stream_id: str) -> Box | None:
        track = self._tracks.get(stream_id)
        return track.box if track is not None else None

    def track(self, stream_id: str) -> Track | None:
        return self._tracks.get(stream_id)

    def region_box(self, stream_id: str) -> Box | None:
        """The stream's box when its next frame may be checked near it only (recent, not due for a refresh)."""
        track = self._tracks.get(stream_id)
        return track.box if track is not None and track.allows_region_check(self.clock()) else None

    def remember(self, stream_id: str, box: Box | None, by_region: bool = False) -> None:
        """The stream's face is now at ``box`` (found by a region check or not); None (no face at all) forgets it."""
        if box is None:
            self._tracks.pop(stream_id, None)
            return
        previous = self._tracks.get(stream_id)
        runs = (previous.region_frames + 1 if previous is not None else 1) if by_region else 0
        self._tracks[stream_id] = Track(tuple(box), self.clock(), runs)  # type: ignore[arg-type]
        self._tracks.move_to_end(stream_id)
        while len(self._tracks) > self.max_streams:
            self._tracks.popitem(last=False)

    def clear(self) -> None:
        self._tracks.clear()

    def __len__(self) -> int:
        return len(self._tracks)
