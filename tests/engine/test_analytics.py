from __future__ import annotations

import pytest

from engine.analytics import Smoother, negative_share, satisfaction, summarize, valence_series
from engine.labels import EXPRESSIONS, canonical, valence_of


def one_hot(label: str, p: float = 0.9) -> list[float]:
    rest = (1 - p) / (len(EXPRESSIONS) - 1)
    return [p if name == label else rest for name in EXPRESSIONS]


def timeline(labels: list[str | None], step_ms: int = 500):
    t = [i * step_ms for i in range(len(labels))]
    found = [label is not None for label in labels]
    probs = [one_hot(label) if label else None for label in labels]
    return t, found, probs


def test_percentages_count_only_face_visible_time():
    summary = summarize(*timeline(["happy"] * 6 + [None] * 4 + ["sad"] * 2 + ["neutral"] * 2))
    assert summary["frames"] == 14 and summary["frames_with_face"] == 10
    assert summary["expressions_pct"]["happy"] == 60.0
    assert summary["expressions_pct"]["sad"] == 20.0
    assert summary["expressions_pct"]["neutral"] == 20.0
    assert summary["face_visible_pct"] == pytest.approx(100 * 10 / 14, abs=0.01)
    assert sum(summary["expressions_pct"].values()) == pytest.approx(100.0)


def test_valence_groups_and_satisfaction_follow_the_documented_mapping():
    labels = ["angry", "disgust", "fear", "sad", "contempt", "happy", "happy", "surprise", "neutral", "neutral"]
    summary = summarize(*timeline(labels))
    assert summary["valence_pct"] == {"positive": 20.0, "neutral": 30.0, "negative": 50.0}
    # (½·30 + 20) / (½·30 + 20 + 50): neutral counts half.
    assert summary["satisfaction_pct"] == pytest.approx(100 * 35 / 85, abs=0.01)
    assert valence_of("surprise") == "neutral" and valence_of("contempt") == "negative"


def test_satisfaction_is_the_designs_figure_for_the_designs_example():
    # The design's report table: negative 15.3 %, neutral 52.0 %, positive 32.7 % -> 79 % overall.
    assert round(satisfaction(positive=32.7, neutral=52.0, negative=15.3)) == 79
    assert satisfaction(positive=32.7, neutral=52.0, negative=15.3) == 79.32


@pytest.mark.parametrize(
    ("positive", "neutral", "negative", "expected"),
    [(100, 0, 0, 100.0), (0, 100, 0, 100.0), (0, 0, 100, 0.0), (0, 50, 50, pytest.approx(33.33, abs=0.01))],
)
def test_a_neutral_face_counts_half_a_smile(positive, neutral, negative, expected):
    assert satisfaction(positive, neutral, negative) == expected


def test_without_any_share_there_is_no_satisfaction():
    assert satisfaction(0, 0, 0) is None


def test_time_weighting_uses_the_interval_each_frame_covers():
    t = [0, 500, 1000, 1100]
    probs = [one_hot("happy"), one_hot("happy"), one_hot("sad"), one_hot("sad")]
    summary = summarize(t, [True] * 4, probs)
    # happy covers 0-1000 ms; sad covers 1000-1100 plus the last frame's typical interval (median step 500 ms).
    assert summary["expressions_pct"]["happy"] == pytest.approx(100 * 1000 / 1600, abs=0.01)


def test_a_long_silence_is_a_gap_and_is_not_interpolated():
    t = [0, 500, 1000, 30_000, 30_500]
    probs = [one_hot("sad")] * 3 + [one_hot("happy")] * 2
    summary = summarize(t, [True] * 5, probs, max_gap_ms=2000)
    assert summary["gaps"] == [{"start_ms": 1500, "end_ms": 30_000}]
    # The silence belongs to no expression: each frame covers its 500 ms, sad 1.5 s of the 2.5 s analysed.
    assert summary["analysed_ms"] == 2500
    assert summary["expressions_pct"]["sad"] == 60.0


def test_negative_episodes_have_start_end_and_peak():
    labels = ["neutral"] * 4 + ["angry"] * 5 + ["neutral"] * 4 + ["sad"]
    t, found, probs = timeline(labels)
    probs[6] = one_hot("angry", 0.99)
    episodes = summarize(t, found, probs)["negative_episodes"]
    assert episodes == [
        {"start_ms": 2000, "end_ms": 4000, "peak_ms": 3000, "peak_score": pytest.approx(0.99 + 4 * 0.01 / 7, abs=1e-4)}
    ]


def test_input_order_does_not_matter():
    t, found, probs = timeline(["happy", "sad", "sad", "neutral", "angry"])
    shuffled = [4, 2, 0, 3, 1]
    again = summarize([t[i] for i in shuffled], [found[i] for i in shuffled], [probs[i] for i in shuffled])
    assert again == summarize(t, found, probs)


def test_an_empty_or_faceless_call_has_no_satisfaction():
    assert summarize([], [], [])["satisfaction_pct"] is None
    faceless = summarize(*timeline([None, None, None]))
    assert faceless["satisfaction_pct"] is None and faceless["face_visible_pct"] == 0.0
    assert faceless["dominant"] is None


def test_smoothing_averages_a_short_window_and_skips_missing_faces():
    smoother = Smoother(window=2)
    assert smoother.push(None) is None
    smoother.push(one_hot("happy", 1.0))
    smoothed = smoother.push(one_hot("sad", 1.0))
    assert smoothed[EXPRESSIONS.index("happy")] == 0.5 and smoothed[EXPRESSIONS.index("sad")] == 0.5
    assert smoother.push(None) == smoothed


def test_negative_share_of_recent_frames():
    recent = [(True, one_hot("angry")), (True, one_hot("happy")), (False, None), (True, one_hot("sad"))]
    assert negative_share(recent) == pytest.approx(2 / 3)
    assert negative_share([(False, None)]) == 0.0


def test_valence_series_marks_missing_faces_as_none():
    series = valence_series(*timeline(["happy", None, "angry"]))
    assert series[0]["score"] > 0.5 and series[1]["score"] is None and series[2]["score"] < -0.5


def test_label_aliases_are_canonical():
    assert canonical("Happiness") == "happy" and canonical("anger") == "angry" and canonical("sadness") == "sad"
    with pytest.raises(ValueError):
        canonical("bored")
