"""The illustration: one tree per product. Pure: data in, SVG string out.

What the picture says, in its own caption: the tree's HEIGHT is the gain over the horizon (what the
product adds to the money), strictly proportional on one scale for every tree, at a fixed width. The
gain, not the total, is what differs between products: from a 1 000 000 ₽ start, 10 % and 12 % over
5 years end at 1.61 M and 1.76 M (9 % apart) but gain 0.61 M and 0.76 M (25 % apart), which the eye
can see. Width never scales, because scaling both dimensions would make area (≈ value²) the perceived
quantity. The same pile of gold bars lies at every tree's foot: the initial amount, shared by all.
The big figure on each crown is the product's annual rate.

Two layouts of the same scene: ``wide`` (trees side by side on one ground, for screens and the PDF)
and ``narrow`` (one tree per row with its texts beside it, for phones), so a phone shows every tree
at a readable size without scrolling sideways.

Text from users goes through :func:`clean_text` and svgwrite's XML escaping, so any name yields valid
XML without markup; a name wraps over up to three lines (cut with an ellipsis only beyond that), and
the full name is kept in ``<title>``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import svgwrite
import svgwrite.base

from illustrations.finance import ProductInput, Projection, project_all
from lib.palette import FONT, INK, MUTED, NEG, POS

UNIT = 100.0  # tree shapes are drawn 100 units tall and scaled vertically
# The rate label sits at this fraction of the tree's height (the middle of the crown) when the crown is
# tall enough to hold it; otherwise just above the tree.
LABEL_FRAC = 0.70
LAYOUTS = ("wide", "narrow")

TRUNK = "#7a5230"
TRUNK_DARK = "#5e3d22"
# Foliage per risk (dark, mid, light): colour and shape both encode risk (shape helps colour-blind readers).
RISK_COLOURS = {
    "low": ("#2e7d4b", "#3a9d5d", "#79c792"),
    "medium": ("#b07a12", "#d19a1f", "#ecc45c"),
    "high": ("#a5432f", "#c8553d", "#ea8a6c"),
}
LABEL_STROKE = {"low": "#1f5e36", "medium": "#7d560b", "high": "#7a2e1f"}
GOLD, GOLD_LIGHT, GOLD_DARK = "#d4a017", "#f3d060", "#9c7410"
CURRENCY_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€", "CNY": "¥"}

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: Russian thousands separator
MINUS = "\u2212"
ELLIPSIS = "…"

# Bidi controls: embeddings/overrides/isolates and marks. Stripped so a name cannot
# reorder the text around it (e.g. U+202E turning "gpj.exe" into "exe.jpg").
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# --------------------------------------------------------------------------- text


def clean_text(value: object) -> str:
    """Text safe for XML 1.0 and for display: no control, bidi, surrogate or non-characters; one line."""
    text = unicodedata.normalize("NFC", str(value))
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in "\t\n\r\u2028\u2029\u0085":
            out.append(" ")
            continue
        if ch in _BIDI_CONTROLS or code in (0xFFFE, 0xFFFF) or (code & 0xFFFF) >= 0xFFFE:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            continue
        out.append(ch)
    # Collapse ordinary spaces only: no-break spaces inside formatted amounts must survive.
    return re.sub(" {2,}", " ", "".join(out)).strip(" ")


def _char_em(ch: str) -> float:
    """Rough advance width of a DejaVu Sans glyph in em; errs wide so truncated text always fits."""
    if ch in " .,:;'!|ilIj()[]{}\u00a0\u202f":
        return 0.36
    if ch in "mwMWШЩЖЮМмшщжюФф@%—":
        return 0.92
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if unicodedata.combining(ch):
        return 0.0
    if ch.isupper():
        return 0.74
    return 0.64


def text_width(text: str, size: float, bold: bool = False) -> float:
    return sum(_char_em(ch) for ch in text) * size * (1.08 if bold else 1.0)


def truncate(text: str, max_width: float, size: float, bold: bool = False) -> str:
    """``text`` cut to fit ``max_width`` with a trailing ellipsis, or unchanged when it fits."""
    if text_width(text, size, bold) <= max_width:
        return text
    budget = max_width - text_width(ELLIPSIS, size, bold)
    used = 0.0
    scale = size * (1.08 if bold else 1.0)
    for index, ch in enumerate(text):
        used += _char_em(ch) * scale
        if used > budget:
            return text[:index].rstrip() + ELLIPSIS
    return text  # pragma: no cover - unreachable: the whole text did not fit


def wrap(text: str, max_width: float, size: float, bold: bool = False, max_lines: int = 3) -> list[str]:
    """``text`` broken at spaces into lines that fit ``max_width``; a word wider than a line is split.

    Only what is left beyond ``max_lines`` is cut, with an ellipsis on the last line.
    """
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while text_width(current, size, bold) > max_width and len(current) > 1:
            cut = len(truncate(current, max_width, size, bold)) - 1  # characters that fit before the "…"
            cut = max(cut, 1)
            lines.append(current[:cut])
            current = current[cut:]
    if current or not lines:
        lines.append(current)
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1 :])
        lines = lines[: max_lines - 1] + [truncate(rest + ELLIPSIS, max_width, size, bold)]
    return lines


# --------------------------------------------------------------------------- numbers

_COMPACT = {
    "ru": (
        (Decimal(10) ** 15, "квадрлн"),
        (Decimal(10) ** 12, "трлн"),
        (Decimal(10) ** 9, "млрд"),
        (Decimal(10) ** 6, "млн"),
    ),
    "en": ((Decimal(10) ** 15, "Q"), (Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M")),
}


def _lang(locale: str) -> str:
    return "ru" if locale.lower().startswith("ru") else "en"


def group_digits(value: Decimal, locale: str = "ru", places: int = 0) -> str:
    """``1234567.8`` → ``1 234 568`` (ru, narrow no-break spaces) or ``1,234,568`` (en); minus is U+2212."""
    lang = _lang(locale)
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN)
    sign = MINUS if rounded < 0 else ""
    whole, _, frac = f"{abs(rounded):f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    sep, point = (NNBSP, ",") if lang == "ru" else (",", ".")
    return sign + sep.join(groups) + (point + frac if frac else "")


def _compact(value: Decimal, locale: str) -> str | None:
    """``value`` abbreviated ("1,5 млн", "1.5M"), or None below the smallest abbreviation."""
    lang = _lang(locale)
    for threshold, suffix in _COMPACT[lang]:
        if abs(value) >= threshold:
            scaled = group_digits(Decimal(value) / threshold, locale, places=1)
            return f"{scaled}{NBSP}{suffix}" if lang == "ru" else f"{scaled}{suffix}"
    return None


def format_money(value: Decimal, currency: str = "RUB", locale: str = "ru", compact: bool = False) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    lang = _lang(locale)
    number = _compact(value, locale) if compact else None
    if number is None:
        number = group_digits(value, locale)
    if lang == "ru":
        return f"{number}{NBSP}{symbol}"
    if number.startswith(MINUS):
        return f"{MINUS}{symbol}{number[1:]}"
    return f"{symbol}{number}"


def signed_money(value: Decimal, currency: str = "RUB", locale: str = "ru", compact: bool = False) -> str:
    text = format_money(value, currency, locale, compact)
    return text if text.startswith(MINUS) or Decimal(value).quantize(Decimal(1)) == 0 else "+" + text


def format_pct(value: Decimal | None, locale: str = "ru", signed: bool = True) -> str:
    if value is None:
        return "—"
    lang = _lang(locale)
    # 30 years at 100 %: "+326 857 348 479 %" helps nobody.
    text = _compact(value, locale) if abs(value) >= 10**6 else None
    if text is None:
        text = group_digits(value, locale, places=1)
    if text.endswith((",0", ".0")):
        text = text[:-2]
    if signed and not text.startswith(MINUS) and value != 0:
        text = "+" + text
    return f"{text}{NBSP}%" if lang == "ru" else f"{text}%"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Texts:
    """Every human-readable string in the picture; the view passes translated ones."""

    title: str = "{client}: how savings can grow in {years}"
    years: str = "{n} years"  # the view supplies a properly pluralised form via ``years_text``
    subtitle: str = "Initial amount {initial}"
    subtitle_topup: str = "Initial amount {initial} plus {monthly} every month"
    height_caption: str = "Tree height: gain over {years}. On the crown: the rate a year."
    gold_caption: str = "gold at the roots: the initial amount, the same for every product"
    legend_title: str = "Risk:"
    risk_labels: dict[str, str] = field(default_factory=lambda: {"low": "low", "medium": "medium", "high": "high"})
    compounding_labels: dict[str, str] = field(
        default_factory=lambda: {"yearly": "yearly", "monthly": "monthly", "simple": "simple"}
    )
    rate_line: str = "{rate} a year · {compounding}"
    rate_line_short: str = "{rate} · {compounding}"
    footnote: tuple[str, ...] = (
        "Assumptions: rates stay constant for the whole period; top-ups arrive at the end of each month; "
        "no taxes, fees or inflation.",
        "An illustration, not an offer: returns are not guaranteed and the value of investments can fall.",
    )
    desc_intro: str = "Projection over {years} for {initial}{topup}."
    desc_topup: str = " plus {monthly} a month"
    desc_item: str = "{name}: {rate} a year, {value} ({gain_pct}, {gain})"
    tree_title: str = "{name}: {rate} a year; {value} after {years}; gain {gain_pct}, {gain}"
    years_text: tuple[str, ...] = ()  # optional: years_text[n] is the phrase for n years


@dataclass(frozen=True)
class IllustrationInput:
    client_label: str
    initial: Decimal
    years: int
    products: tuple[ProductInput, ...]
    monthly: Decimal = Decimal(0)
    currency: str = "RUB"
    locale: str = "ru"


@dataclass(frozen=True)
class Geometry:
    """Where things go in one layout. ``bases[i]`` is tree i's ground line, ``xs[i]`` its axis."""

    layout: str
    width: float
    height: float
    max_tree_h: float
    crown_w: float
    label_size: float
    text_w: float  # room for the texts of one product
    xs: tuple[float, ...]
    bases: tuple[float, ...]
    text_x: tuple[float, ...]  # where each product's texts are anchored
    text_y: tuple[float, ...]  # the first name line's baseline
    anchor: str  # "middle" (under the tree) or "start" (beside it)
    name_size: float
    legend_y: float
    id_prefix: str


@dataclass(frozen=True)
class Scene:
    """Everything computed once and shared by the SVG and the slider's data island."""

    data: IllustrationInput
    texts: Texts
    projections: tuple[Projection, ...]
    scale_max: Decimal  # the largest gain of any product in any year: the tallest possible tree
    names: tuple[str, ...]
    geometries: dict[str, Geometry]

    def height(self, gain: Decimal, layout: str = "wide") -> float:
        """A tree's height for ``gain``: strictly proportional, zero for no gain or a loss."""
        if self.scale_max <= 0 or gain <= 0:
            return 0.0
        return float(Decimal(gain) / self.scale_max) * self.geometries[layout].max_tree_h

    def years_phrase(self, n: int) -> str:
        if 0 <= n < len(self.texts.years_text):
            return self.texts.years_text[n]
        return self.texts.years.format(n=n)

    def money(self, value: Decimal, compact: bool = False) -> str:
        return format_money(value, self.data.currency, self.data.locale, compact)

    def pct(self, value: Decimal | None, signed: bool = True) -> str:
        return format_pct(value, self.data.locale, signed)

    def rate(self, index: int) -> str:
        return self.pct(self.data.products[index].rate_pct, signed=False)

    def label_place(self, h: float, layout: str) -> tuple[float, bool]:
        """The rate label's baseline offset above the ground, and whether it sits on the crown."""
        size = self.geometries[layout].label_size
        if h >= size * 2.6:
            return h * LABEL_FRAC - size * 0.36, True
        return h + 8, False

    def caption(self, index: int, year: int) -> dict:
        """Texts under tree ``index`` for ``year``: value, gain in money and in %, tone, tree scale per layout."""
        proj = self.projections[index]
        value = proj.values[year]
        gain = proj.gain(year)
        limit = self.geometries["wide"].text_w
        value_text, value_size = self._fit_money(value, 19.0, 12.0, bold=True, limit=limit)
        gain_text = signed_money(gain, self.data.currency, self.data.locale)
        gain_size = 14.0
        while gain_size > 11 and text_width(gain_text, gain_size) > limit:
            gain_size -= 0.5
        if text_width(gain_text, gain_size) > limit:
            gain_text = signed_money(gain, self.data.currency, self.data.locale, compact=True)
        tone = "pos" if gain > 0 else "neg" if gain < 0 else "zero"
        out = {
            "value": value_text,
            "value_size": _n(value_size),
            "gain": truncate(gain_text, limit, gain_size),
            "gain_size": _n(gain_size),
            "gain_pct": truncate(self.pct(proj.gain_pct(year)), limit, 13),
            "tone": tone,
        }
        for layout in LAYOUTS:
            h = self.height(gain, layout)
            offset, inside = self.label_place(h, layout)
            key = "" if layout == "wide" else "_n"
            out["scale" + key] = _n(h / UNIT, 5)
            out["label_y" + key] = _n(self.geometries[layout].bases[index] - offset)
            out["label_in" + key] = inside
        return out

    def _fit_money(self, value: Decimal, size: float, min_size: float, bold: bool, limit: float) -> tuple[str, float]:
        text = self.money(value)
        while size > min_size and text_width(text, size, bold) > limit:
            size -= 0.5
        if text_width(text, size, bold) > limit:
            text = self.money(value, compact=True)
        return truncate(text, limit, size, bold), size


def _wide(n: int) -> Geometry:
    width, base = 1000.0, 440.0
    x0, x1 = 40.0, 960.0
    col = (x1 - x0) / n
    xs = tuple(x0 + col * (i + 0.5) for i in range(n))
    return Geometry(
        layout="wide",
        width=width,
        height=690.0,
        max_tree_h=300.0,
        crown_w=min(200.0, col * 0.74),
        label_size=_n(min(30.0, max(15.0, col * 0.13))),
        text_w=col - 16,
        xs=xs,
        bases=(base,) * n,
        text_x=xs,
        text_y=(base + 44,) * n,
        anchor="middle",
        name_size=15.0 if col > 150 else 13.0,
        legend_y=632.0,
        id_prefix="ill-",
    )


def _narrow(n: int) -> Geometry:
    width, top, row = 420.0, 128.0, 220.0
    tree_top = 24.0
    max_h = 170.0
    bases = tuple(top + row * i + tree_top + max_h for i in range(n))
    return Geometry(
        layout="narrow",
        width=width,
        height=top + row * n + 120.0,
        max_tree_h=max_h,
        crown_w=128.0,
        label_size=22.0,
        text_w=218.0,
        xs=(92.0,) * n,
        bases=bases,
        text_x=(188.0,) * n,
        text_y=tuple(top + row * i + 56 for i in range(n)),
        anchor="start",
        name_size=15.0,
        legend_y=top + row * n + 30,
        id_prefix="ill-n-",
    )


def build_scene(data: IllustrationInput, texts: Texts | None = None) -> Scene:
    texts = texts or Texts()
    if not data.products:
        raise ValueError("at least one product is required")
    projections = tuple(project_all(data.initial, data.monthly, data.years, list(data.products)))
    gains = [p.gain(year) for p in projections for year in range(data.years + 1)]
    scale_max = max(max(gains), Decimal(0))
    names = tuple(clean_text(p.name) or "—" for p in data.products)
    n = len(data.products)
    return Scene(data, texts, projections, scale_max, names, {"wide": _wide(n), "narrow": _narrow(n)})


def _n(value: float, places: int = 2) -> float:
    """Coordinates rounded so that output bytes are stable and short."""
    rounded = round(value, places)
    return 0.0 if rounded == 0 else rounded


# --------------------------------------------------------------------------- drawing


def _tree_shape(dwg: svgwrite.Drawing, risk: str, width: float, scale: float, x: float, base_y: float):
    """Trunk and layered foliage, UNIT tall (y from 0 up to -UNIT), scaled vertically only. Fills only:
    strokes would skew under the vertical scale."""
    dark, mid, light = RISK_COLOURS.get(risk, RISK_COLOURS["low"])
    group = dwg.g(class_="ill-shape", transform=f"translate({_n(x)} {_n(base_y)}) scale(1 {_n(scale, 5)})")
    w = width
    if risk == "high":  # a conifer: three tiers
        group.add(
            dwg.polygon(
                [(_n(-0.05 * w), 0), (_n(-0.035 * w), -30), (_n(0.035 * w), -30), (_n(0.05 * w), 0)], fill=TRUNK
            )
        )
        tiers = ((-18, -58, 0.5, dark), (-40, -80, 0.4, mid), (-62, -100, 0.29, light))
        for base, top, spread, colour in tiers:
            group.add(dwg.polygon([(_n(-spread * w), base), (0, top), (_n(spread * w), base)], fill=colour))
        group.add(dwg.polygon([(0, -100), (_n(0.29 * w), -62), (_n(0.12 * w), -62)], fill=mid, fill_opacity=0.55))
        return group
    trunk = [(_n(-0.065 * w), 0), (_n(-0.04 * w), -52), (_n(0.04 * w), -52), (_n(0.065 * w), 0)]
    group.add(dwg.polygon(trunk, fill=TRUNK))
    group.add(
        dwg.polygon([(_n(0.02 * w), 0), (_n(0.012 * w), -50), (_n(0.04 * w), -52), (_n(0.065 * w), 0)], fill=TRUNK_DARK)
    )
    # Two branches into the crown.
    group.add(
        dwg.polygon([(_n(-0.03 * w), -36), (_n(-0.2 * w), -52), (_n(-0.17 * w), -55), (_n(-0.02 * w), -44)], fill=TRUNK)
    )
    group.add(
        dwg.polygon([(_n(0.03 * w), -40), (_n(0.19 * w), -56), (_n(0.16 * w), -59), (_n(0.02 * w), -48)], fill=TRUNK)
    )
    if risk == "medium":  # a rounder, clustered crown
        blobs = (
            (-0.26, -58, 0.26, 20, dark),
            (0.26, -58, 0.26, 20, dark),
            (0, -62, 0.42, 22, dark),
            (-0.18, -76, 0.26, 18, mid),
            (0.18, -76, 0.26, 18, mid),
            (0, -86, 0.24, 14, light),
        )
    else:  # low: a broad, layered crown
        blobs = (
            (0, -56, 0.5, 22, dark),
            (-0.3, -62, 0.2, 16, dark),
            (0.3, -62, 0.2, 16, dark),
            (0, -72, 0.42, 20, mid),
            (0, -88, 0.26, 12, light),
        )
    for cx, cy, rx, ry, colour in blobs:
        group.add(dwg.ellipse(center=(_n(cx * w), cy), r=(_n(rx * w), ry), fill=colour))
    group.add(dwg.ellipse(center=(_n(-0.16 * w), -80), r=(_n(0.12 * w), 6), fill=light, fill_opacity=0.8))
    return group


def _roots(dwg: svgwrite.Drawing, x: float, base_y: float, width: float):
    """Roots in the ground, the same for every tree (not part of the height)."""
    w = width * 0.22
    d = (
        f"M{_n(x - 6)} {_n(base_y)} q {_n(-w * 0.4)} 4 {_n(-w)} 10 "
        f"M{_n(x - 3)} {_n(base_y)} q {_n(-w * 0.2)} 7 {_n(-w * 0.45)} 13 "
        f"M{_n(x + 6)} {_n(base_y)} q {_n(w * 0.4)} 4 {_n(w)} 10 "
        f"M{_n(x + 3)} {_n(base_y)} q {_n(w * 0.2)} 7 {_n(w * 0.45)} 13 "
        f"M{_n(x)} {_n(base_y)} l 0 14"
    )
    return dwg.path(d=d, stroke=TRUNK_DARK, stroke_width=3, fill="none", stroke_linecap="round", class_="ill-roots")


def _gold(dwg: svgwrite.Drawing, x: float, base_y: float, bar: float = 22.0):
    """A pile of gold bars (3, 2, 1) standing on the ground: the initial amount, the same for every tree."""
    group = dwg.g(class_="ill-gold")
    h = bar * 0.38
    for row, count in enumerate((3, 2, 1)):
        y = base_y - h * (row + 1)
        start = x - (count * bar) / 2
        for i in range(count):
            bx = start + i * bar
            points = [(bx + 1, y + h), (bx + bar - 1, y + h), (bx + bar - 4, y), (bx + 4, y)]
            group.add(
                dwg.polygon([(_n(px), _n(py)) for px, py in points], fill=GOLD, stroke=GOLD_DARK, stroke_width=0.8)
            )
            group.add(
                dwg.line(
                    start=(_n(bx + 5), _n(y + 1.6)),
                    end=(_n(bx + bar - 5), _n(y + 1.6)),
                    stroke=GOLD_LIGHT,
                    stroke_width=1.2,
                )
            )
    return group


def _text(dwg: svgwrite.Drawing, content: str, x: float, y: float, size: float, **attrs):
    attrs.setdefault("fill", INK)
    attrs.setdefault("text_anchor", "middle")
    return dwg.text(content, insert=(_n(x), _n(y)), font_size=_n(size), **attrs)


def render_svg(
    data: IllustrationInput, texts: Texts | None = None, year: int | None = None, layout: str = "wide"
) -> str:
    """The picture as an SVG string. Same input → same bytes."""
    return render_scene(build_scene(data, texts), year, layout)


def render_scene(scene: Scene, year: int | None = None, layout: str = "wide") -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout: {layout!r}")
    data, texts = scene.data, scene.texts
    geo = scene.geometries[layout]
    p = geo.id_prefix
    year = data.years if year is None else max(0, min(int(year), data.years))
    currency_initial = scene.money(data.initial)
    years_phrase = scene.years_phrase(data.years)

    dwg = svgwrite.Drawing(size=(_n(geo.width), _n(geo.height)), debug=False, profile="full")
    dwg.viewbox(0, 0, _n(geo.width), _n(geo.height))
    dwg.attribs.update(
        {
            "role": "img",
            "aria-labelledby": f"{p}title {p}desc",
            "font-family": FONT,
            "class": f"ill-svg ill-{layout}",
            "preserveAspectRatio": "xMidYMid meet",
        }
    )
    dwg.attribs["data-layout"] = layout
    client = clean_text(data.client_label)
    title = clean_text(texts.title.format(client=client, years=years_phrase))
    monthly = Decimal(data.monthly)
    desc_parts = [
        texts.desc_intro.format(
            years=years_phrase,
            initial=currency_initial,
            topup=texts.desc_topup.format(monthly=scene.money(monthly)) if monthly > 0 else "",
        )
    ]
    for index, name in enumerate(scene.names):
        proj = scene.projections[index]
        desc_parts.append(
            texts.desc_item.format(
                name=name,
                rate=scene.rate(index),
                value=scene.money(proj.final),
                gain_pct=scene.pct(proj.gain_pct(data.years)),
                gain=signed_money(proj.gain(data.years), data.currency, data.locale),
            )
        )
    height_caption = clean_text(texts.height_caption.format(years=scene.years_phrase(year)))
    title_el, desc_el = (
        svgwrite.base.Title(title),
        svgwrite.base.Desc(clean_text(desc_parts[0] + " " + height_caption + " " + "; ".join(desc_parts[1:]) + ".")),
    )
    title_el.xml.set("id", f"{p}title")
    desc_el.xml.set("id", f"{p}desc")
    dwg.elements[:0] = [title_el, desc_el]  # first children, before <defs>

    sky = dwg.linearGradient(start=(0, 0), end=(0, 1), id=f"{p}sky")
    sky.add_stop_color(0, "#eef6fb")
    sky.add_stop_color(1, "#ffffff")
    dwg.defs.add(sky)
    ground = dwg.linearGradient(start=(0, 0), end=(0, 1), id=f"{p}ground")
    ground.add_stop_color(0, "#9cc27c")
    ground.add_stop_color(1, "#d9e8c8")
    dwg.defs.add(ground)
    background = dwg.add(dwg.rect(insert=(0, 0), size=(_n(geo.width), _n(geo.height)), fill="#ffffff"))
    if layout == "wide":
        dwg.add(dwg.rect(insert=(0, 0), size=(_n(geo.width), _n(geo.bases[0])), fill=f"url(#{p}sky)"))

    # Title block: the title, the initial amount, and what the height means.
    if layout == "wide":
        dwg.add(
            _text(
                dwg, truncate(title, geo.width - 60, 24, bold=True), 30, 44, 24, font_weight="bold", text_anchor="start"
            )
        )
        y = 72.0
    else:
        y = 34.0
        for line in wrap(title, geo.width - 40, 20, bold=True, max_lines=2):
            dwg.add(_text(dwg, line, 20, y, 20, font_weight="bold", text_anchor="start"))
            y += 25
        y += 2
    left = 30 if layout == "wide" else 20
    if monthly > 0:
        subtitle = texts.subtitle_topup.format(initial=currency_initial, monthly=scene.money(monthly))
    else:
        subtitle = texts.subtitle.format(initial=currency_initial)
    for line in wrap(clean_text(subtitle), geo.width - 2 * left, 15, max_lines=2):
        dwg.add(_text(dwg, line, left, y, 15, fill=MUTED, text_anchor="start"))
        y += 19
    caption_el = dwg.text(
        "", insert=(left, _n(y + 4)), font_size=15, fill=INK, text_anchor="start", class_="ill-caption"
    )
    caption_lines = wrap(height_caption, geo.width - 2 * left, 15, bold=True, max_lines=2)
    for i, line in enumerate(caption_lines):
        span = dwg.tspan(line, x=[left], font_weight="bold")
        if i:
            span["dy"] = "19"
        caption_el.add(span)
    dwg.add(caption_el)

    if layout == "wide":
        base = geo.bases[0]
        dwg.add(dwg.rect(insert=(20, base), size=(_n(geo.width - 40), 18), rx=9, ry=9, fill=f"url(#{p}ground)"))

    limit = geo.text_w
    for index, product in enumerate(data.products):
        cx, base = geo.xs[index], geo.bases[index]
        proj = scene.projections[index]
        caption = scene.caption(index, year)
        key = "" if layout == "wide" else "_n"
        name = scene.names[index]
        risk = product.risk if product.risk in RISK_COLOURS else "low"
        rate = scene.rate(index)
        tree = dwg.g(class_=f"ill-tree ill-risk-{risk}", tabindex="0")
        tree.attribs["data-index"] = str(index)
        tree.set_desc(
            title=texts.tree_title.format(
                name=name,
                rate=rate,
                value=scene.money(proj.values[year]),
                years=scene.years_phrase(year),
                gain_pct=scene.pct(proj.gain_pct(year)),
                gain=signed_money(proj.gain(year), data.currency, data.locale),
            )
        )
        if layout == "wide":
            hit = ((cx - (limit + 16) / 2 + 4, base - geo.max_tree_h - 10), (limit + 8, geo.max_tree_h + 180))
        else:
            hit = ((12, base - geo.max_tree_h - 20), (geo.width - 24, geo.max_tree_h + 40))
            tree.add(dwg.rect(insert=(16, _n(base)), size=(152, 14), rx=7, ry=7, fill=f"url(#{p}ground)"))
        # Invisible hit area so a short tree is still easy to hover or tap.
        tree.add(
            dwg.rect(
                insert=(_n(hit[0][0]), _n(hit[0][1])),
                size=(_n(hit[1][0]), _n(hit[1][1])),
                fill="#ffffff",
                fill_opacity=0,
                class_="ill-hit",
            )
        )
        tree.add(_roots(dwg, cx, base, geo.crown_w))
        tree.add(_tree_shape(dwg, risk, geo.crown_w, float(caption["scale" + key]), cx, base))
        tree.add(_gold(dwg, cx + geo.crown_w * 0.3, base, bar=geo.crown_w * 0.13))
        inside = caption["label_in" + key]
        tree.add(
            _text(
                dwg,
                rate,
                cx,
                caption["label_y" + key],
                geo.label_size,
                font_weight="bold",
                fill="#ffffff" if inside else INK,
                stroke=LABEL_STROKE[risk] if inside else "none",
                stroke_width=3,
                paint_order="stroke",
                class_="ill-rate-label",
            )
        )
        # Texts: the whole name (up to three lines), the final amount, the gain, the rate and compounding.
        tx, ty, anchor = geo.text_x[index], geo.text_y[index], geo.anchor
        lines = wrap(name, limit, geo.name_size, bold=True, max_lines=3)
        line_h = geo.name_size * 1.22
        name_el = dwg.text(
            "",
            insert=(_n(tx), _n(ty)),
            font_size=_n(geo.name_size),
            font_weight="bold",
            fill=INK,
            text_anchor=anchor,
            class_="ill-name",
        )
        for i, line in enumerate(lines):
            span = dwg.tspan(line, x=[_n(tx)])
            if i:
                span["dy"] = str(_n(line_h))
            name_el.add(span)
        tree.add(name_el)
        y = ty + line_h * 3 + 8
        tree.add(
            _text(
                dwg,
                caption["value"],
                tx,
                y,
                caption["value_size"],
                font_weight="bold",
                text_anchor=anchor,
                class_="ill-value",
            )
        )
        tone = {"pos": POS, "neg": NEG}.get(caption["tone"], MUTED)
        y += 22
        tree.add(
            _text(dwg, caption["gain"], tx, y, caption["gain_size"], fill=tone, text_anchor=anchor, class_="ill-gain")
        )
        y += 18
        tree.add(_text(dwg, caption["gain_pct"], tx, y, 13, fill=tone, text_anchor=anchor, class_="ill-gain-pct"))
        rate_template = texts.rate_line if limit >= 190 else texts.rate_line_short
        rate_line = rate_template.format(
            rate=rate, compounding=texts.compounding_labels.get(product.compounding, product.compounding)
        )
        for line in wrap(clean_text(rate_line), limit, 12, max_lines=2):
            y += 16
            tree.add(_text(dwg, line, tx, y, 12, fill=MUTED, text_anchor=anchor))
        dwg.add(tree)

    # Legend: foliage shape and colour for risk; the gold for the initial amount.
    legend_y = geo.legend_y
    legend = dwg.g(class_="ill-legend")
    legend.add(
        _text(dwg, texts.legend_title, left, legend_y + 5, 13, fill=MUTED, text_anchor="start", font_weight="bold")
    )
    x = left + text_width(texts.legend_title, 13, bold=True) + 14
    for risk in ("low", "medium", "high"):
        legend.add(_tree_shape(dwg, risk, 20, 0.24, x + 10, legend_y + 12))
        label = clean_text(texts.risk_labels.get(risk, risk))
        legend.add(_text(dwg, label, x + 24, legend_y + 5, 13, fill=INK, text_anchor="start"))
        x += 24 + text_width(label, 13) + 22
    gold_text = clean_text(texts.gold_caption)
    if layout == "narrow" or x + 40 + text_width(gold_text, 13) > geo.width - left:
        x, legend_y = left, legend_y + 26
    legend.add(_gold(dwg, x + 14, legend_y + 10, bar=10))
    for i, line in enumerate(wrap(gold_text, geo.width - left - x - 34, 13, max_lines=2)):
        legend_y += 18 if i else 0
        legend.add(_text(dwg, line, x + 34, legend_y + 5, 13, fill=INK, text_anchor="start"))
    dwg.add(legend)

    # Footnote: assumptions and the no-guarantee statement.
    y = legend_y + 36
    for note in texts.footnote:
        max_lines = 1 if layout == "wide" else 4
        for line in wrap(clean_text(note), geo.width - 2 * left, 11, max_lines=max_lines):
            dwg.add(_text(dwg, line, left, y, 11, fill=MUTED, text_anchor="start"))
            y += 15
        y += 2
    # The canvas ends below the last footnote line (the narrow layout's footnote wraps).
    height = _n(max(geo.height, y + 4))
    dwg["height"] = height
    dwg.viewbox(0, 0, _n(geo.width), height)
    background["height"] = height
    return dwg.tostring()


def frames(scene: Scene) -> dict:
    """Per-year data for the slider (JSON data island): tree scales, label places and captions for each year."""
    data = scene.data
    return {
        "years": data.years,
        "yearsText": [scene.years_phrase(n) for n in range(data.years + 1)],
        "captionText": [
            clean_text(scene.texts.height_caption.format(years=scene.years_phrase(n))) for n in range(data.years + 1)
        ],
        "products": [
            {
                "name": scene.names[i],
                "rate": scene.rate(i),
                "compounding": scene.texts.compounding_labels.get(p.compounding, p.compounding),
                "risk": scene.texts.risk_labels.get(p.risk, p.risk),
                "stroke": LABEL_STROKE.get(p.risk, LABEL_STROKE["low"]),
            }
            for i, p in enumerate(data.products)
        ],
        "frames": [
            [
                {
                    **scene.caption(i, year),
                    "invested": scene.money(scene.projections[i].invested[year]),
                    "full": scene.money(scene.projections[i].values[year]),
                }
                for i in range(len(data.products))
            ]
            for year in range(data.years + 1)
        ],
    }
