"""The pure SVG charts: accessible, print-readable, never interpolating across missing data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

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


def test_line_chart_breaks_on_none_unless_asked_to_connect():
    series = [{"name": "Анна", "values": [50, None, 70, 80]}]
    broken = _parse(charts.line_chart(["a", "b", "c", "d"], series, title="t", desc="d"))
    joined = _parse(charts.line_chart(["a", "b", "c", "d"], series, title="t", desc="d", connect_gaps=True))
    assert len(list(broken.iter(f"{SVG}path"))) == 1  # the lone first point is only a dot
    assert len(list(joined.iter(f"{SVG}path"))) == 1
    assert list(joined.iter(f"{SVG}path"))[0].get("d").count("L") == 2
    assert len(list(broken.iter(f"{SVG}circle"))) == 3
    assert "Анна" in ET.tostring(broken, encoding="unicode")


def test_series_differ_by_dash_pattern_for_black_and_white_print():
    series = [{"name": f"m{i}", "values": [10, 20]} for i in range(3)]
    root = _parse(charts.line_chart(["a", "b"], series, title="t", desc="d"))
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
