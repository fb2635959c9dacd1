"""The client's reaction while something was shown, against the rest of the call: a pure split of frames by time."""

from __future__ import annotations

import pytest

from engine.exposure import combine, inside, reaction
from tests.support.reports import timeline


def test_frames_are_inside_an_interval_from_its_start_up_to_its_end():
    assert inside([0, 999, 1000, 1500, 2000, 2500], [(1000, 2000)]).tolist() == [False, False, True, True, False, False]
    assert inside([5], []).tolist() == [False]


def test_a_known_timeline_gives_known_shares_while_shown_and_in_the_rest():
    # 60 s at 2 fps: happy 20–30 s (shown then), angry 40–50 s, neutral otherwise.
    t_ms, found, probs = timeline(60, happy=[(20, 30)], negative=[(40, 50)])
    result = reaction(t_ms, found, probs, [(20_000, 30_000)])
    assert result["shown_ms"] == 10_000
    assert result["during"]["frames_with_face"] == 20
    assert result["during"]["valence_pct"] == {"positive": 100.0, "neutral": 0.0, "negative": 0.0}
    assert result["during"]["satisfaction_pct"] == 100.0
    assert result["rest"]["frames_with_face"] == 100
    assert result["rest"]["valence_pct"] == {"positive": 0.0, "neutral": 80.0, "negative": 20.0}
    # The design's formula: (½·80 + 0) / (½·80 + 0 + 20) = 66.67 %.
    assert result["rest"]["satisfaction_pct"] == pytest.approx(66.67)


def test_the_rest_leaves_out_every_showing_not_only_this_one():
    t_ms, found, probs = timeline(60, happy=[(20, 30)], negative=[(40, 50)])
    result = reaction(t_ms, found, probs, [(20_000, 30_000)], all_shown=[(20_000, 30_000), (40_000, 50_000)])
    assert result["rest"]["valence_pct"]["negative"] == 0.0 and result["rest"]["frames_with_face"] == 80


def test_nothing_on_screen_while_the_face_was_away_gives_no_shares():
    t_ms, found, probs = timeline(30, no_face=[(10, 20)])
    during = reaction(t_ms, found, probs, [(10_000, 20_000)])["during"]
    assert during["frames_with_face"] == 0 and during["satisfaction_pct"] is None


def test_parts_of_several_calls_combine_weighted_by_their_frames():
    a = {"frames_with_face": 30, "valence_pct": {"positive": 100.0, "neutral": 0.0, "negative": 0.0}}
    b = {"frames_with_face": 10, "valence_pct": {"positive": 0.0, "neutral": 0.0, "negative": 100.0}}
    both = combine([a, b])
    assert both["frames_with_face"] == 40
    assert both["valence_pct"] == {"positive": 75.0, "neutral": 0.0, "negative": 25.0}
    assert both["satisfaction_pct"] == 75.0
    assert combine([])["satisfaction_pct"] is None
