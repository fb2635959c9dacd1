"""The picture: a pure function from inputs to SVG. Hostile text, extreme numbers, determinism, proportions."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from illustrations.finance import ProductInput as P
from illustrations.trees import (
    MAX_TREE_H,
    NNBSP,
    UNIT,
    IllustrationInput,
    build_scene,
    clean_text,
    format_money,
    frames,
    render_svg,
)

SVG = "{http://www.w3.org/2000/svg}"

HOSTILE = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)",
    "]]><!--<script>x</script>",
    "Вклад\x00\x01\x07\x1b[31m\x7f\x85\ufffe\uffff",
    "\u202eexe.gpj\u202c and \u2067مرحبا\u2069 \u200fשלום\u200e",
    "A" * 10_000,
    "&amp; &lt; &#x3c;script&#x3e;",
    "\ud800 lone surrogate",
]


def data(names=("Вклад",), rates=(D(10),), years=10, initial=D(100000), monthly=D(0), client="Иван", **kw):
    risks = ("low", "medium", "high")
    products = tuple(
        P(name, rate, ("yearly", "monthly", "simple")[i % 3], risks[i % 3])
        for i, (name, rate) in enumerate(zip(names, rates, strict=True))
    )
    return IllustrationInput(client, initial, years, products, monthly=monthly, **kw)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def shape_scales(root: ET.Element) -> list[float]:
    scales = []
    for tree in root.iter(f"{SVG}g"):
        if "ill-tree" in (tree.get("class") or ""):
            shape = next(g for g in tree.iter(f"{SVG}g") if g.get("class") == "ill-shape")
            scales.append(float(re.search(r"scale\(1 ([-\d.e]+)\)", shape.get("transform")).group(1)))
    return scales


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_give_valid_xml_without_markup(name):
    svg = render_svg(data(names=(name, "ok"), rates=(D(5), D(7)), client=name))
    root = parse(svg)
    tags = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert "script" not in tags and "foreignObject" not in tags
    assert not any(attr.lower().startswith("on") for el in root.iter() for attr in el.attrib)
    assert "<script" not in svg and "<svg onload" not in svg
    for ch in "\x00\x01\x07\x1b\x7f\ufffe\uffff\u202e\u202c\u2067\u2069\u200f\u200e":
        assert ch not in svg


def test_a_long_name_is_truncated_with_an_ellipsis_and_kept_whole_in_the_title():
    name = "Облигации федерального займа " * 20
    root = parse(render_svg(data(names=(name,) * 6, rates=(D(5),) * 6)))
    tree = next(g for g in root.iter(f"{SVG}g") if "ill-tree" in (g.get("class") or ""))
    texts = ["".join(t.itertext()) for t in tree.iter(f"{SVG}text")]
    assert texts[0].endswith("…") and len(texts[0]) < 30
    assert clean_text(name) in tree.find(f"{SVG}title").text


def test_ten_kilobyte_names_do_not_blow_up_the_visible_text():
    svg = render_svg(data(names=("Ж" * 10_000,), client="Я" * 10_000))
    root = parse(svg)
    shown = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    hostile = [t for t in shown if "Ж" in t or "Я" in t]
    assert len(hostile) == 2
    assert all(t.endswith("…") and len(t) < 80 for t in hostile)


def test_clean_text_keeps_letters_of_every_script_but_drops_controls():
    assert clean_text("\u202eשלום\u202c  مرحبا\tИван\n") == "שלום مرحبا Иван"
    assert clean_text("a\x00b\x1fc") == "abc"


@pytest.mark.parametrize(
    ("rates", "years"),
    [((D(100),) * 6, 30), ((D(0),) * 3, 30), ((D(-50), D(-50), D(-10)), 30), ((D(-50), D(100)), 1)],
)
def test_extreme_numbers_render(rates, years):
    names = [f"P{i}" for i in range(len(rates))]
    svg = render_svg(data(names=names, rates=rates, years=years, initial=D("100000000000"), monthly=D(10**9)))
    root = parse(svg)
    scales = shape_scales(root)
    assert len(scales) == len(rates)
    assert all(0 <= s * UNIT <= MAX_TREE_H + 1e-6 for s in scales)


def test_same_input_gives_the_same_bytes():
    d = data(names=("Вклад", "Облигации", "Фонд"), rates=(D(15), D(13), D(18)), monthly=D(10000))
    assert render_svg(d) == render_svg(d)
    assert (
        render_svg(d).encode()
        == render_svg(
            data(names=("Вклад", "Облигации", "Фонд"), rates=(D(15), D(13), D(18)), monthly=D(10000))
        ).encode()
    )


def test_tree_height_is_proportional_to_final_value_and_width_is_fixed():
    d = data(names=("A", "B", "C"), rates=(D(0), D(10), D(20)), years=10)
    scene = build_scene(d)
    root = parse(render_svg(d))
    scales = shape_scales(root)
    finals = [p.final for p in scene.projections]
    for scale, final in zip(scales, finals, strict=True):
        assert scale / scales[-1] == pytest.approx(float(final / finals[-1]), rel=1e-3)
    assert scales[-1] * UNIT == pytest.approx(MAX_TREE_H)
    # Width never scales: every shape transform is scale(1 k).
    assert all(
        re.search(r"scale\(1 [-\d.e]+\)$", g.get("transform"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "ill-shape"
    )


def test_the_picture_is_an_accessible_image_with_title_and_numbers_in_desc():
    d = data(names=("Вклад", "Фонд"), rates=(D(10), D(20)), initial=D(1000000), years=2, client="Иван")
    root = parse(render_svg(d))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "ill-title ill-desc"
    assert "Иван" in root.find(f"{SVG}title").text
    desc = root.find(f"{SVG}desc").text
    assert f"1{NNBSP}210{NNBSP}000\u00a0₽" in desc  # 10 % yearly for 2 years
    assert "Вклад" in desc and "Фонд" in desc


def test_every_caption_shows_name_final_amount_and_gain():
    d = data(names=("Вклад",), rates=(D(10),), initial=D(1000000), years=2)
    root = parse(render_svg(d))
    tree = next(g for g in root.iter(f"{SVG}g") if "ill-tree" in (g.get("class") or ""))
    texts = ["".join(t.itertext()) for t in tree.iter(f"{SVG}text")]
    assert texts[:4] == ["Вклад", f"1{NNBSP}210{NNBSP}000\u00a0₽", f"+210{NNBSP}000\u00a0₽", "+21\u00a0%"]


def test_money_is_formatted_for_the_locale():
    assert format_money(D("1234567.4"), "RUB", "ru") == f"1{NNBSP}234{NNBSP}567\u00a0₽"
    assert format_money(D("1234567.5"), "USD", "en") == "$1,234,568"
    assert format_money(D(-5000), "EUR", "ru") == f"\u22125{NNBSP}000\u00a0€"
    assert format_money(D(3) * D(10) ** 15, "RUB", "ru", compact=True) == "3,0\u00a0квадрлн\u00a0₽"


def test_frames_regrow_trees_year_by_year():
    d = data(names=("A", "B"), rates=(D(10), D(-20)), years=5)
    f = frames(build_scene(d))
    assert len(f["frames"]) == 6 and len(f["yearsText"]) == 6
    growing = [frame[0]["scale"] for frame in f["frames"]]
    shrinking = [frame[1]["scale"] for frame in f["frames"]]
    assert growing == sorted(growing) and growing[0] < growing[-1]
    assert shrinking == sorted(shrinking, reverse=True)


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=0, max_size=300),
    client=st.text(min_size=0, max_size=200),
    rate=st.decimals(min_value=-50, max_value=100, places=2),
    years=st.integers(min_value=1, max_value=30),
)
def test_any_text_and_any_valid_number_render_to_valid_xml(name, client, rate, years):
    svg = render_svg(data(names=(name,), rates=(rate,), years=years, client=client))
    parse(svg)
