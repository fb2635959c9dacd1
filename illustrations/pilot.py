"""Pilot chart: each measure as a bar against its target line. Pure: summary dict in, SVG string out."""

from __future__ import annotations

import svgwrite
import svgwrite.base
from django.utils.translation import gettext, gettext_noop

from illustrations.trees import _n
from lib.palette import FONT, INK, MUTED, NEG, POS

TARGETS = (
    # key, label, target, axis maximum, unit, higher is better
    ("clarity_mean", "Clarity (1–5)", 4.5, 5.0, "", True),
    ("engagement_pct", "Engagement", 70.0, 100.0, " %", True),
    ("understand_median_s", "Time to understand", 120.0, 300.0, " " + gettext_noop("s"), False),
)


def _fmt(value: float, unit: str) -> str:
    word = unit.strip()  # a unit word is translated when the chart is drawn: "145 с" in Russian
    if word.isalpha():
        unit = unit.replace(word, gettext(word), 1)
    return f"{value:g}{unit}".replace(".", ",")


def pilot_chart_svg(summary: dict, labels: dict[str, str] | None = None, no_data: str = "no data") -> str:
    labels = labels or {}
    width, height = 720, 230
    panel_w = width / len(TARGETS)
    top, bottom = 46.0, 180.0
    dwg = svgwrite.Drawing(size=(width, height), debug=False)
    dwg.viewbox(0, 0, width, height)
    dwg.attribs.update({"role": "img", "font-family": FONT, "class": "pilot-chart"})
    parts = []
    for index, (key, label, target, axis_max, unit, higher_better) in enumerate(TARGETS):
        x0 = panel_w * index
        cx = x0 + panel_w / 2
        value = summary.get(key)
        label = labels.get(key, label)
        dwg.add(dwg.text(label, insert=(_n(cx), 22), font_size=14, font_weight="bold", fill=INK, text_anchor="middle"))
        dwg.add(dwg.line(start=(_n(x0 + 30), bottom), end=(_n(x0 + panel_w - 30), bottom), stroke="#c4ccd4"))
        scale = (bottom - top) / axis_max
        if value is None:
            dwg.add(dwg.text(no_data, insert=(_n(cx), bottom - 40), font_size=13, fill=MUTED, text_anchor="middle"))
            parts.append(f"{label}: {no_data}")
        else:
            shown = min(float(value), axis_max)
            met = float(value) >= target if higher_better else float(value) <= target
            bar_h = shown * scale
            dwg.add(
                dwg.rect(
                    insert=(_n(cx - 32), _n(bottom - bar_h)),
                    size=(64, _n(bar_h)),
                    rx=3,
                    fill=POS if met else NEG,
                    class_=f"pilot-bar pilot-{'met' if met else 'missed'}",
                )
            )
            dwg.add(
                dwg.text(
                    _fmt(float(value), unit),
                    insert=(_n(cx), _n(max(bottom - bar_h - 8, top - 4))),
                    font_size=13,
                    font_weight="bold",
                    fill=INK,
                    text_anchor="middle",
                )
            )
            parts.append(f"{label}: {_fmt(float(value), unit)}")
        ty = _n(bottom - target * scale)
        dwg.add(
            dwg.line(
                start=(_n(cx - 58), ty),
                end=(_n(cx + 58), ty),
                stroke=INK,
                stroke_width=2,
                stroke_dasharray="6 4",
                class_="pilot-target",
            )
        )
        sign = "≥" if higher_better else "≤"
        dwg.add(
            dwg.text(
                f"{labels.get('target', 'target')} {sign} {_fmt(target, unit)}",
                insert=(_n(cx), bottom + 22),
                font_size=12,
                fill=MUTED,
                text_anchor="middle",
            )
        )
    title = svgwrite.base.Title("; ".join(parts))
    dwg.elements.insert(0, title)
    return dwg.tostring()
