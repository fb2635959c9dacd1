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
    NNBSP,
    UNIT,
    IllustrationInput,
    build_scene,
    clean_text,
    format_money,
    frames,
    render_scene,
    render_svg,
    text_width,
    wrap,
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


def trees(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "ill-tree" in (g.get("class") or "")]


def shape_scales(root: ET.Element) -> list[float]:
    scales = []
    for tree in trees(root):
        shape = next(g for g in tree.iter(f"{SVG}g") if g.get("class") == "ill-shape")
        scales.append(float(re.search(r"scale\(1 ([-\d.e]+)\)", shape.get("transform")).group(1)))
    return scales


def by_class(tree: ET.Element, name: str) -> list[ET.Element]:
    return [el for el in tree.iter() if name in (el.get("class") or "").split()]


def name_lines(tree: ET.Element) -> list[str]:
    (name,) = by_class(tree, "ill-name")
    return [span.text or "" for span in name.iter(f"{SVG}tspan")]


DEFAULT = ("обычный депозит", "золото в обезличенных металлических счетах", "золото в слитках")


def default_example() -> IllustrationInput:
    """The design's example: three products at 10, 11 and 12 % a year over 5 years, from 1 000 000 ₽."""
    products = tuple(
        P(name, D(rate), "yearly", risk)
        for name, rate, risk in zip(DEFAULT, (10, 11, 12), ("low", "medium", "high"), strict=True)
    )
    return IllustrationInput("Анна", D(1000000), 5, products)


@pytest.mark.parametrize("layout", ["wide", "narrow"])
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_give_valid_xml_without_markup(name, layout):
    svg = render_svg(data(names=(name, "ok"), rates=(D(5), D(7)), client=name), layout=layout)
    root = parse(svg)
    tags = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert "script" not in tags and "foreignObject" not in tags
    assert not any(attr.lower().startswith("on") for el in root.iter() for attr in el.attrib)
    assert "<script" not in svg and "<svg onload" not in svg
    for ch in "\x00\x01\x07\x1b\x7f\ufffe\uffff\u202e\u202c\u2067\u2069\u200f\u200e":
        assert ch not in svg


@pytest.mark.parametrize("layout", ["wide", "narrow"])
def test_a_long_name_wraps_over_three_lines_and_only_the_rest_is_cut(layout):
    name = "Облигации федерального займа " * 20
    scene = build_scene(data(names=(name,) * 6, rates=(D(5),) * 6))
    tree = trees(parse(render_scene(scene, layout=layout)))[0]
    lines = name_lines(tree)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert " ".join(lines).startswith("Облигации федерального")
    assert clean_text(name) in tree.find(f"{SVG}title").text


@pytest.mark.parametrize("layout", ["wide", "narrow"])
def test_the_default_example_names_are_written_in_full(layout):
    root = parse(render_scene(build_scene(default_example()), layout=layout))
    for tree, name in zip(trees(root), DEFAULT, strict=True):
        lines = name_lines(tree)
        assert " ".join(lines) == name and len(lines) <= 3
        assert "…" not in "".join(lines)


def test_wrap_keeps_whole_words_and_splits_only_a_word_wider_than_a_line():
    assert wrap("золото в обезличенных металлических счетах", 230, 15, bold=True) == [
        "золото в обезличенных",
        "металлических счетах",
    ]
    lines = wrap("Ж" * 50, 100, 15)
    assert "".join(lines).rstrip("…") == "Ж" * len("".join(lines).rstrip("…"))
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(text_width(line, 15) <= 100 for line in lines)
    assert wrap("", 100, 15) == [""]


def test_ten_kilobyte_names_do_not_blow_up_the_visible_text():
    svg = render_svg(data(names=("Ж" * 10_000,), client="Я" * 10_000))
    root = parse(svg)
    lines = [span.text or "" for span in root.iter(f"{SVG}tspan") if "Ж" in (span.text or "")]
    assert len(lines) == 3 and lines[-1].endswith("…")
    title = [t for t in ("".join(el.itertext()) for el in root.iter(f"{SVG}text")) if "Я" in t]
    assert len(title) == 1 and title[0].endswith("…") and len(title[0]) < 80


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
    max_h = build_scene(data(names=names, rates=rates)).geometries["wide"].max_tree_h
    assert all(0 <= s * UNIT <= max_h + 1e-6 for s in scales)


def test_same_input_gives_the_same_bytes():
    d = data(names=("Вклад", "Облигации", "Фонд"), rates=(D(15), D(13), D(18)), monthly=D(10000))
    assert render_svg(d) == render_svg(d)
    assert (
        render_svg(d).encode()
        == render_svg(
            data(names=("Вклад", "Облигации", "Фонд"), rates=(D(15), D(13), D(18)), monthly=D(10000))
        ).encode()
    )


@pytest.mark.parametrize("layout", ["wide", "narrow"])
def test_tree_height_is_proportional_to_the_gain_and_width_is_fixed(layout):
    d = data(names=("A", "B", "C"), rates=(D(1), D(10), D(20)), years=10, monthly=D(5000))
    scene = build_scene(d)
    root = parse(render_scene(scene, layout=layout))
    scales = shape_scales(root)
    gains = [p.gain(10) for p in scene.projections]  # value minus what was paid in, top-ups included
    for scale, gain in zip(scales, gains, strict=True):
        assert scale / scales[-1] == pytest.approx(float(gain / gains[-1]), rel=1e-3)
    assert scales[-1] * UNIT == pytest.approx(scene.geometries[layout].max_tree_h)
    # Width never scales: every shape transform is scale(1 k).
    assert all(
        re.search(r"scale\(1 [-\d.e]+\)$", g.get("transform"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "ill-shape"
    )


def test_the_default_example_shows_clearly_different_trees_with_rates_on_the_crowns():
    scene = build_scene(default_example())
    root = parse(render_scene(scene))
    scales = shape_scales(root)
    # From a 1 000 000 start: gains 610 510, 685 058 and 762 342, so heights 80 %, 90 % and 100 %.
    assert [round(s / scales[-1], 3) for s in scales] == [0.801, 0.899, 1.0]
    labels = ["".join(by_class(t, "ill-rate-label")[0].itertext()) for t in trees(root)]
    assert labels == ["10\u00a0%", "11\u00a0%", "12\u00a0%"]
    for tree, scale in zip(trees(root), scales, strict=True):
        (label,) = by_class(tree, "ill-rate-label")
        assert label.get("fill") == "#ffffff"  # on the crown, not above it
        assert 440 - scale * UNIT < float(label.get("y")) < 440
    # What the height means is written on the picture, and there is no extra tree for the initial amount.
    caption = "".join(by_class(root, "ill-caption")[0].itertext())
    assert caption.startswith("Tree height: gain over 5 years")
    assert len(trees(root)) == 3 and not by_class(root, "ill-seed")
    # The same pile of gold at every tree's foot.
    piles = [ET.tostring(by_class(t, "ill-gold")[0]).decode() for t in trees(root)]
    assert len({re.sub(r"[\d.]+", "0", p) for p in piles}) == 1


def test_no_gain_draws_no_tree_height_and_the_label_stands_on_the_ground():
    scene = build_scene(data(names=("A", "B"), rates=(D(0), D(-10)), years=3))
    root = parse(render_scene(scene))
    assert shape_scales(root) == [0.0, 0.0]
    assert all(by_class(t, "ill-rate-label")[0].get("fill") != "#ffffff" for t in trees(root))


def test_both_layouts_have_their_own_ids_so_one_page_can_hold_both():
    scene = build_scene(default_example())
    wide, narrow = parse(render_scene(scene)), parse(render_scene(scene, layout="narrow"))
    ids = lambda root: {el.get("id") for el in root.iter() if el.get("id")}  # noqa: E731
    assert ids(wide) and not ids(wide) & ids(narrow)
    assert narrow.get("aria-labelledby") == "ill-n-title ill-n-desc"
    assert float(narrow.get("width")) < 500 < float(wide.get("width"))


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
    assert name_lines(tree) == ["Вклад"]
    texts = ["".join(by_class(tree, c)[0].itertext()) for c in ("ill-value", "ill-gain", "ill-gain-pct")]
    assert texts == [f"1{NNBSP}210{NNBSP}000\u00a0₽", f"+210{NNBSP}000\u00a0₽", "+21\u00a0%"]


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
    assert growing == sorted(growing) and growing[0] == 0 < growing[-1]
    assert [frame[0]["scale_n"] for frame in f["frames"]] == sorted(frame[0]["scale_n"] for frame in f["frames"])
    # A loss is no height at all: the tree is the gain, and a falling product has none.
    assert {frame[1]["scale"] for frame in f["frames"]} == {0.0}
    assert f["captionText"][2] == "Tree height: gain over 2 years. On the crown: the rate a year."


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=0, max_size=300),
    client=st.text(min_size=0, max_size=200),
    rate=st.decimals(min_value=-50, max_value=100, places=2),
    years=st.integers(min_value=1, max_value=30),
)
def test_any_text_and_any_valid_number_render_to_valid_xml(name, client, rate, years):
    scene = build_scene(data(names=(name,), rates=(rate,), years=years, client=client))
    parse(render_scene(scene))
    parse(render_scene(scene, layout="narrow"))
