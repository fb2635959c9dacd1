"""The pure SVG charts: accessible, print-readable, never interpolating across missing data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone, translation

from reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _series(points: list[tuple[int, float | None]]) -> list[dict]:
    return [{"t_ms": t, "score": s} for t, s in points]


def test_timeline_chart_has_title_desc_and_is_valid_xml():
    svg = charts.timeline_chart(
        _series([(0, 0.1), (500, 0.2)]), duration_ms=1000, title="Валентность <клиента>", desc="Описание & детали"
    )
    root = _parse(svg)
    assert root.find(f"{SVG}title").text == "Валентность <клиента>"
    assert root.find(f"{SVG}desc").text == "Описание & детали"
    assert root.get("role") == "img"
    assert "DejaVu Sans" in root.get("font-family")


def test_timeline_never_draws_a_line_across_a_gap_or_a_face_loss():
    # 0..2 s data, 2..10 s nothing (gap), 10..12 s data, a None (no face) at 12.5 s, then data again.
    points = [(t, 0.5) for t in range(0, 2000, 500)] + [(t, -0.5) for t in range(10000, 12500, 500)]
    points += [(12500, None)] + [(t, 0.0) for t in range(13000, 15000, 500)]
    svg = charts.timeline_chart(
        _series(points), duration_ms=15000, gaps=[{"start_ms": 3500, "end_ms": 10000}], title="t", desc="d"
    )
    paths = [p.get("d") for p in _parse(svg).iter(f"{SVG}path") if p.get("class") == "valence"]
    assert len(paths) == 3
    for d in paths:
        xs = [float(x) for x in re.findall(r"[ML]([\d.]+),", d)]
        assert xs == sorted(xs)
    # The first segment stops before the gap starts; the second starts after it.
    first_end = max(float(x) for x in re.findall(r"[ML]([\d.]+),", paths[0]))
    second_start = min(float(x) for x in re.findall(r"[ML]([\d.]+),", paths[1]))
    assert second_start - first_end > 200
    assert len([r for r in _parse(svg).iter(f"{SVG}rect") if r.get("class") == "gap"]) == 1


def test_timeline_marks_and_numbers_negative_episodes():
    episodes = [{"start_ms": 1000, "end_ms": 3000}, {"start_ms": 6000, "end_ms": 8000}]
    svg = charts.timeline_chart(
        _series([(t, 0.0) for t in range(0, 10000, 500)]), duration_ms=10000, episodes=episodes, title="t", desc="d"
    )
    root = _parse(svg)
    bands = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "episode"]
    assert len(bands) == 2
    assert "00:01–00:03" in bands[0].find(f"{SVG}title").text
    numbers = [t.text for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    assert numbers == ["1", "2"]


def test_timeline_downsamples_an_hour_long_call_to_a_bounded_path():
    points = [(i * 500, (i % 20) / 10 - 1) for i in range(7200)]
    svg = charts.timeline_chart(_series(points), duration_ms=3_600_000, title="t", desc="d")
    d = next(p.get("d") for p in _parse(svg).iter(f"{SVG}path") if p.get("class") == "valence")
    assert d.count("L") < 700
    assert "1:00:00" in svg  # hour ticks


def test_series_differ_by_dash_pattern_for_black_and_white_print():
    series = [{"name": f"m{i}", "values": [10, 20]} for i in range(3)]
    root = _parse(charts.time_chart([date(2026, 8, 3), date(2026, 8, 10)], series, title="t", desc="d"))
    dashes = [p.get("stroke-dasharray") for p in root.iter(f"{SVG}path")]
    assert len(set(dashes)) == 3


def test_hbar_chart_scales_bars_to_the_value():
    root = _parse(charts.hbar_chart([("Злость", 50.0, "#c00"), ("Радость", 25.0, "#0c0")], title="t", desc="d"))
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("fill") in ("#c00", "#0c0")]
    assert widths[0] == 2 * widths[1] > 0


def test_charts_reference_nothing_external():
    svg = charts.timeline_chart(_series([(0, 0.0), (500, 0.1)]), duration_ms=1000, title="t", desc="d")
    svg += charts.sparkline([10, None, 30, 40], title="s", chart_id="s1")
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in svg and "href" not in svg


def test_format_ms():
    assert charts.format_ms(0) == "00:00"
    assert charts.format_ms(61_400) == "01:01"
    assert charts.format_ms(3_725_000) == "1:02:05"


# --- charts over real time (dashboard, trends, client trend, the report's comparison) ---------------------


def _circles_x(root: ET.Element) -> list[float]:
    return [float(c.get("cx")) for c in root.iter(f"{SVG}circle")]


def _no_data_bands(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "no-data"]


def test_time_chart_places_points_by_date_not_evenly():
    days = [date(2026, 8, 3), date(2026, 8, 4), date(2026, 8, 14)]  # 1 day, then 10 days apart
    root = _parse(charts.time_chart(days, [{"name": "m", "values": [50, 60, 70]}], title="t", desc="d"))
    a, b, c = _circles_x(root)
    assert (c - b) == pytest.approx(10 * (b - a), rel=0.02)
    # Datetimes too: a call at noon sits half a day after one at midnight.
    tz = timezone.get_fixed_timezone(180)
    moments = [
        datetime(2026, 8, 3, 0, tzinfo=tz),
        datetime(2026, 8, 3, 12, tzinfo=tz),
        datetime(2026, 8, 5, 0, tzinfo=tz),
    ]
    root = _parse(charts.time_chart(moments, [{"name": "m", "values": [50, 60, 70]}], title="t", desc="d"))
    a, b, c = _circles_x(root)
    assert (c - b) == pytest.approx(3 * (b - a), rel=0.02)


def test_time_chart_breaks_the_line_over_a_gap_longer_than_the_step_and_hatches_it():
    mondays = [date(2026, 8, 3) + timedelta(weeks=w) for w in (0, 1, 2, 7, 8, 9)]  # five weeks without calls
    series = [{"name": "m", "values": [50, 60, 70, 40, 50, 60]}]
    with translation.override("en"):
        root = _parse(charts.time_chart(mondays, series, step=timedelta(days=7), title="t", desc="d"))
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == 2 and all(p.get("d").count("L") == 2 for p in paths)
    bands = _no_data_bands(root)
    assert len(bands) == 1
    circles = _circles_x(root)
    band_start, band_end = float(bands[0].get("x")), float(bands[0].get("x")) + float(bands[0].get("width"))
    assert band_start == pytest.approx(circles[2], abs=0.2) and band_end == pytest.approx(circles[3], abs=0.2)
    assert bands[0].find(f"{SVG}title").text == "no data"
    assert any(t.text == "no data" for t in root.iter(f"{SVG}text"))  # in the legend


def test_time_chart_breaks_on_a_period_without_a_value_and_marks_it():
    mondays = [date(2026, 8, 3) + timedelta(weeks=w) for w in range(5)]
    series = [{"name": "a", "values": [50, 60, None, 70, 80]}, {"name": "b", "values": [40, None, None, 45, 50]}]
    root = _parse(charts.time_chart(mondays, series, step=timedelta(days=7), title="t", desc="d"))
    assert [p.get("d").count("L") for p in root.iter(f"{SVG}path")] == [1, 1, 1]  # a: 2+2 points, b: 2 points
    assert len(_no_data_bands(root)) == 1  # only week 2 has no value at all; b's missing week 1 is a's data
    # No band where every period has data and the step is kept.
    full = _parse(charts.time_chart(mondays[:2], series[:1], step=timedelta(days=7), title="t", desc="d"))
    assert not _no_data_bands(full)


def test_time_chart_hatches_an_empty_start_of_the_asked_range():
    days = [date(2026, 9, 20), date(2026, 9, 21)]
    root = _parse(
        charts.time_chart(
            days,
            [{"name": "m", "values": [50, 60]}],
            step=timedelta(days=1),
            x_range=(date(2026, 9, 1), date(2026, 9, 21)),
            title="t",
            desc="d",
        )
    )
    band = _no_data_bands(root)[0]
    assert float(band.get("x")) + float(band.get("width")) == pytest.approx(_circles_x(root)[0], abs=0.2)


def test_time_chart_ticks_fall_on_calendar_dates():
    mondays = [date(2026, 8, 3) + timedelta(weeks=w) for w in range(16)]
    with translation.override("ru"):
        weekly = _parse(charts.time_chart(mondays, [{"name": "m", "values": [50] * 16}], title="t", desc="d"))
        long = [date(2025, 1, 15) + timedelta(days=30 * k) for k in range(20)]
        monthly = _parse(charts.time_chart(long, [{"name": "m", "values": [50] * 20}], title="t", desc="d"))
    ticks = [t.text for t in weekly.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[:3] == ["03.08", "17.08", "31.08"]  # every other Monday
    assert all(datetime.strptime(f"{t}.2026", "%d.%m.%Y").weekday() == 0 for t in ticks)
    ticks = [t.text for t in monthly.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert 4 <= len(ticks) <= 9 and ticks[1] == "04.2025"  # quarters over a year and a half, by their 1st
    assert all(int(t[:2]) in (1, 4, 7, 10) for t in ticks)
    # Monthly data gets month ticks however short the stretch.
    firsts = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    with translation.override("ru"):
        months = _parse(charts.time_chart(firsts, [{"name": "m", "values": [50] * 4}], title="t", desc="d"))
    assert [t.text for t in months.iter(f"{SVG}text") if t.get("class") == "tick"] == [
        "08.2026",
        "09.2026",
        "10.2026",
        "11.2026",
    ]


def test_every_chart_has_a_title_and_the_time_chart_shows_it():
    svgs = [
        charts.timeline_chart(_series([(0, 0.1), (500, 0.2)]), duration_ms=1000, title="Valence", desc="d"),
        charts.hbar_chart([("a", 1.0, "#000")], title="Bars", desc="d"),
        charts.sparkline([1, 2], title="Spark", chart_id="s"),
        charts.time_chart([date(2026, 8, 3)], [{"name": "n", "values": [1]}], title="Over time", desc="d"),
    ]
    for svg, title in zip(svgs, ["Valence", "Bars", "Spark", "Over time"], strict=True):
        assert _parse(svg).find(f"{SVG}title").text == title
    visible = [t for t in _parse(svgs[-1]).iter(f"{SVG}text") if t.get("class") == "chart-title"]
    assert [t.text for t in visible] == ["Over time"]
