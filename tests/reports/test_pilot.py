"""Pilot metrics, label CSV parsing and CSV export safety (pure functions)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reports.exports import safe_cell, to_csv
from reports.pilot import (
    client_reported_negative,
    confusion,
    label_agreement,
    load_model_metrics,
    model_flagged_negative,
    parse_label_csv,
)
from tests.support.reports import probs_for


def test_client_reports_negative_when_upset_or_rating_two_or_lower():
    assert client_reported_negative(5, True)
    assert client_reported_negative(2, False)
    assert not client_reported_negative(3, False)


def test_model_flags_negative_on_an_episode_or_share_at_threshold():
    assert model_flagged_negative(0.0, 1)
    assert model_flagged_negative(20.0, 0, threshold_pct=20.0)
    assert not model_flagged_negative(19.9, 0, threshold_pct=20.0)
    assert not model_flagged_negative(None, 0)


def test_confusion_precision_recall_f1():
    pairs = [(True, True)] * 3 + [(True, False)] + [(False, True)] * 2 + [(False, False)] * 4
    stats = confusion(pairs)
    assert (stats["tp"], stats["fp"], stats["fn"], stats["tn"]) == (3, 1, 2, 4)
    assert stats["precision"] == pytest.approx(0.75)
    assert stats["recall"] == pytest.approx(0.6)
    assert stats["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert stats["accuracy"] == pytest.approx(0.7)


def test_confusion_without_data_has_no_scores():
    stats = confusion([])
    assert stats["n"] == 0 and stats["f1"] is None and stats["precision"] is None


def test_parse_label_csv_accepts_header_and_aliases():
    ranges = parse_label_csv("start_s,end_s,label\n2.5,4,anger\n0,2.5,Neutral\n")
    assert ranges == [
        {"start_ms": 0, "end_ms": 2500, "label": "neutral"},
        {"start_ms": 2500, "end_ms": 4000, "label": "angry"},
    ]


@pytest.mark.parametrize(
    "text, message",
    [("1,0,happy\n", "start_s < end_s"), ("a,b,happy\n", "numbers"), ("0,1,bored\n", "unknown"), ("", "no labelled")],
)
def test_parse_label_csv_rejects_bad_rows(text, message):
    with pytest.raises(ValueError, match=message):
        parse_label_csv(text)


def test_label_agreement_per_frame_accuracy_and_negative_f1():
    ranges = [{"start_ms": 0, "end_ms": 2000, "label": "angry"}, {"start_ms": 2000, "end_ms": 4000, "label": "happy"}]
    t = [0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4500]
    found = [True, True, True, False, True, True, True, True, True]
    # Frames 0-2: angry, angry, neutral; 3 no face; 4-7: happy, happy, sad, happy; 8 outside the ranges.
    labels = ["angry", "angry", "neutral", None, "happy", "happy", "sad", "happy", "angry"]
    probs = [probs_for(x) if x else None for x in labels]
    result = label_agreement(t, found, probs, ranges)
    assert result["frames"] == 7 and result["frames_without_face"] == 1
    assert result["accuracy"] == pytest.approx(5 / 7)
    # Negative: tp=2 (angry, angry), fn=1 (neutral in an angry range), fp=1 (sad in a happy range).
    assert result["f1_negative"] == pytest.approx(2 / 3)


def test_model_metrics_are_read_from_the_model_card(tmp_path):
    path = tmp_path / "expression.metrics.json"
    assert load_model_metrics(path) is None
    path.write_text(json.dumps({"f1_negative": 0.71}))
    assert load_model_metrics(path)["f1_negative"] == 0.71


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"])
def test_csv_cells_that_start_a_formula_are_neutralised(value):
    assert safe_cell(value) == "'" + value
    row = next(csv.reader(io.StringIO(to_csv([value], []))))
    assert row[0].startswith("'")


def test_csv_keeps_numbers_and_plain_text():
    assert safe_cell(-5.5) == -5.5
    assert safe_cell("C-1A2B3C") == "C-1A2B3C"
    assert safe_cell(None) == ""
    assert safe_cell(True) == "yes"
