"""Keeping the client's face from frame to frame, per stream, in bounded memory."""

from __future__ import annotations

import numpy as np

from engine.detector import Face
from engine.tracking import REGION_MAX_AGE_S, REGION_REFRESH_FRAMES, Tracks, select_face


def face(x1: float, y1: float, x2: float, y2: float) -> Face:
    return Face((x1, y1, x2, y2), 0.99, np.zeros((5, 2)))


def test_the_face_continuing_the_previous_box_wins_over_a_larger_one() -> None:
    client, passer_by = face(10, 10, 60, 60), face(100, 0, 220, 120)
    assert select_face([passer_by, client], prev_box=(12, 12, 62, 62)) is client


def test_without_a_previous_box_or_overlap_the_largest_face_wins() -> None:
    small, large = face(10, 10, 60, 60), face(100, 0, 220, 120)
    assert select_face([small, large]) is large
    assert select_face([small, large], prev_box=(300, 300, 310, 310)) is large
    assert select_face([]) is None


def test_tracks_remember_each_stream_and_forget_on_no_face() -> None:
    tracks = Tracks()
    tracks.remember("call-a", (1, 2, 3, 4))
    tracks.remember("call-b", (5, 6, 7, 8))
    assert tracks.get("call-a") == (1, 2, 3, 4)
    tracks.remember("call-a", None)
    assert tracks.get("call-a") is None
    assert tracks.get("call-b") == (5, 6, 7, 8)


def test_tracks_forget_the_least_recently_seen_streams_beyond_the_bound() -> None:
    tracks = Tracks(max_streams=2)
    tracks.remember("a", (0, 0, 1, 1))
    tracks.remember("b", (0, 0, 1, 1))
    tracks.remember("a", (0, 0, 2, 2))  # seen again: now the most recent
    tracks.remember("c", (0, 0, 1, 1))
    assert len(tracks) == 2
    assert tracks.get("b") is None
    assert tracks.get("a") == (0, 0, 2, 2)
    tracks.clear()
    assert len(tracks) == 0


def test_a_recent_box_allows_a_region_check_until_it_is_old_or_due_for_a_refresh() -> None:
    now = [0.0]
    tracks = Tracks(clock=lambda: now[0])
    tracks.remember("a", (0, 0, 50, 50))
    assert tracks.region_box("a") == (0, 0, 50, 50)
    now[0] += REGION_MAX_AGE_S + 0.1
    assert tracks.region_box("a") is None
    assert tracks.get("a") == (0, 0, 50, 50)  # still the client's last known place, for choosing among faces
    for _ in range(REGION_REFRESH_FRAMES):
        tracks.remember("a", (0, 0, 50, 50), by_region=True)
    assert tracks.track("a").region_frames == REGION_REFRESH_FRAMES
    assert tracks.region_box("a") is None
    tracks.remember("a", (0, 0, 50, 50))  # a whole-frame detection starts the count again
    assert tracks.region_box("a") == (0, 0, 50, 50)
