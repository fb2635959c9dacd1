"""The live mood rule the manager's page shows: rolling window, smoothing, one valence score, the alert."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.analytics import ALERT_MIN_VISIBLE, LiveMood, negative_share, valence_score, valence_series
from engine.labels import EXPRESSIONS


def probs(label: str, weight: float = 0.9) -> list[float]:
    rest = (1 - weight) / (len(EXPRESSIONS) - 1)
    return [weight if name == label else rest for name in EXPRESSIONS]


def mood(window_s: float = 30, share: float = 0.5, smoothing: int = 5) -> LiveMood:
    return LiveMood(window_s=window_s, alert_share=share, smoothing_frames=smoothing)


def test_it_alerts_when_most_visible_frames_of_the_window_are_negative() -> None:
    live = mood()
    updates = [live.push(t, True, probs(label)) for t, label in enumerate(["angry", "sad", "neutral", "angry"])]
    assert [u["alert"] for u in updates] == [False, False, True, True]
    assert updates[-1]["negative_share"] == 0.75


def test_it_never_alerts_on_fewer_visible_frames_than_the_minimum() -> None:
    live = mood()
    updates = [live.push(t, True, probs("angry")) for t in range(ALERT_MIN_VISIBLE - 1)]
    assert updates[-1]["negative_share"] == 1.0
    assert not any(u["alert"] for u in updates)


def test_the_share_must_exceed_the_threshold_not_equal_it() -> None:
    live = mood(share=0.5)
    for t, label in enumerate(["angry", "neutral", "angry", "neutral"]):
        update = live.push(t, True, probs(label))
    assert update["negative_share"] == 0.5
    assert update["alert"] is False


def test_frames_older_than_the_window_stop_counting() -> None:
    live = mood(window_s=10)
    for t in range(5):
        live.push(t, True, probs("angry"))
    assert live.push(5, True, probs("happy"))["alert"] is True
    later = [live.push(t, True, probs("happy")) for t in (16, 17, 18)]
    assert later[-1]["negative_share"] == 0.0  # only frames of the last 10 s remain: all happy
    assert later[-1]["alert"] is False


def test_frames_without_a_face_neither_count_nor_dilute() -> None:
    live = mood()
    for t in range(3):
        live.push(t, True, probs("sad"))
    update = live.push(3, False, None)
    assert update["negative_share"] == 1.0
    assert update["alert"] is True


def test_smoothing_is_the_mean_of_the_last_visible_frames() -> None:
    live = mood(smoothing=2)
    live.push(0, True, probs("happy", 1.0))
    live.push(1, True, probs("sad", 1.0))
    update = live.push(2, True, probs("sad", 1.0))
    assert update["smoothed"][EXPRESSIONS.index("sad")] == 1.0  # the happy frame fell out of the window of 2
    assert update["smoothed_label"] == "sad"
    assert live.push(3, False, None)["smoothed"] == update["smoothed"]  # a hidden face keeps the last reading


def test_before_any_face_there_is_nothing_to_show() -> None:
    update = mood().push(0, False, None)
    assert update == {
        "smoothed": None,
        "smoothed_label": None,
        "valence_score": None,
        "negative_share": 0.0,
        "alert": False,
    }


@pytest.mark.parametrize(
    ("row", "expected"),
    [(probs("happy", 1.0), 1.0), (probs("angry", 1.0), -1.0), (probs("neutral", 1.0), 0.0), (None, None)],
)
def test_valence_score_is_positive_mass_minus_negative_mass(row, expected) -> None:
    assert valence_score(row) == (None if expected is None else pytest.approx(expected, abs=1e-4))


def test_the_live_gauge_and_the_report_chart_use_the_same_valence() -> None:
    rows = [probs("happy", 0.6), probs("fear", 0.7), None]
    series = valence_series([0, 500, 1000], [True, True, False], rows)
    assert [point["score"] for point in series] == [valence_score(rows[0]), valence_score(rows[1]), None]
    # The gauge scores the smoothed probabilities, which are rounded to 4 places first.
    assert mood(smoothing=1).push(0, True, rows[1])["valence_score"] == pytest.approx(valence_score(rows[1]), abs=1e-3)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 3),
            st.booleans(),
            st.one_of(st.none(), st.sampled_from(EXPRESSIONS)),
        ),
        max_size=60,
    )
)
def test_the_running_share_equals_a_recount_of_the_window(frames) -> None:
    live, now, seen = mood(window_s=10), 0.0, []
    for step, found, label in frames:
        now += step
        row = probs(label) if label is not None else None
        update = live.push(now, found, row)
        seen.append((now, found, row))
        window = [(ok, p) for t, ok, p in seen if t >= now - 10]
        assert update["negative_share"] == round(negative_share(window), 3)
