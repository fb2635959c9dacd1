"""Keeping the client's face from one frame to the next.

A call's stream shows the client; another person may pass behind or sit beside them. The face that
overlaps the previous frame's box is the same person even when a larger face appears, so the analysis
does not jump to whoever is biggest. Plain logic, no I/O.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from engine.detector import Face, iou

# The face overlapping the previous box this much is the same person, even if a larger face appears.
TRACK_IOU = 0.3

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


class Tracks:
    """The last face box of each stream (a call), bounded: the least recently seen streams are forgotten.

    A worker without a stream's box detects its face afresh, so forgetting costs a little speed, never
    correctness; that is what lets any worker take any frame.
    """

    def __init__(self, max_streams: int = 2000) -> None:
        self.max_streams = max_streams
        self._boxes: OrderedDict[str, Box] = OrderedDict()

    def get(self, stream_id: str) -> Box | None:
        return self._boxes.get(stream_id)

    def remember(self, stream_id: str, box: Box | None) -> None:
        """The stream's face is now at ``box``; None (no face at all) forgets it."""
        if box is None:
            self._boxes.pop(stream_id, None)
            return
        self._boxes[stream_id] = tuple(box)  # type: ignore[assignment]
        self._boxes.move_to_end(stream_id)
        while len(self._boxes) > self.max_streams:
            self._boxes.popitem(last=False)

    def clear(self) -> None:
        self._boxes.clear()

    def __len__(self) -> int:
        return len(self._boxes)
