"""The illustration: one tree per product, height proportional to money. Pure: data in, SVG string out.

Only tree HEIGHT carries the value; every tree has the same width, because
scaling both dimensions would make area (≈ value²) the perceived quantity and
exaggerate differences. All trees share one baseline and one scale: the
largest balance reached by any product in any year (rates can be negative,
so the start can be the largest), which keeps the slider's re-grown trees
comparable with each other and with the seed.

Text from users goes through :func:`clean_text` and svgwrite's XML escaping,
so any name yields valid XML without markup; long names are truncated with an
ellipsis, the full name is kept in ``<title>``.
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

# Geometry of the 1000 × 660 canvas (viewBox units ≈ CSS px at full width).
WIDTH, HEIGHT = 1000, 660
BASELINE = 410.0
MAX_TREE_H = 300.0  # tallest possible tree; the crown top is then at y=110
PLOT_X0, PLOT_X1 = 180.0, 985.0
SEED_X = 92.0
UNIT = 100.0  # tree shapes are drawn 100 units tall and scaled vertically

TRUNK = "#7a5230"
RISK_COLOURS = {
    "low": ("#3a9d5d", "#79c792"),
    "medium": ("#d19a1f", "#ecc45c"),
    "high": ("#c8553d", "#ea8a6c"),
}
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
    initial_caption: str = "Initial amount"
    reference_line: str = "initial amount"
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
    desc_item: str = "{name}: {value} ({gain_pct}, {gain})"
    tree_title: str = "{name}: {value} after {years}; gain {gain_pct}, {gain}"
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
class Scene:
    """Everything computed once and shared by the SVG and the slider's data island."""

    data: IllustrationInput
    texts: Texts
    projections: tuple[Projection, ...]
    scale_max: Decimal
    names: tuple[str, ...]
    col_width: float
    crown_width: float

    def height(self, value: Decimal) -> float:
        if self.scale_max <= 0 or value <= 0:
            return 0.0
        return float(Decimal(value) / self.scale_max) * MAX_TREE_H

    def years_phrase(self, n: int) -> str:
        if 0 <= n < len(self.texts.years_text):
            return self.texts.years_text[n]
        return self.texts.years.format(n=n)

    def money(self, value: Decimal, compact: bool = False) -> str:
        return format_money(value, self.data.currency, self.data.locale, compact)

    def pct(self, value: Decimal | None, signed: bool = True) -> str:
        return format_pct(value, self.data.locale, signed)

    def caption(self, index: int, year: int) -> dict:
        """Texts under tree ``index`` for ``year``: value, gain in money and in %, tone, tree scale."""
        proj = self.projections[index]
        value = proj.values[year]
        gain = proj.gain(year)
        value_text, value_size = self._fit_money(value, 19.0, 12.0, bold=True)
        limit = self.col_width - 14
        gain_text = signed_money(gain, self.data.currency, self.data.locale)
        gain_size = 13.0
        while gain_size > 11 and text_width(gain_text, gain_size) > limit:
            gain_size -= 0.5
        if text_width(gain_text, gain_size) > limit:
            gain_text = signed_money(gain, self.data.currency, self.data.locale, compact=True)
        tone = "pos" if gain > 0 else "neg" if gain < 0 else "zero"
        return {
            "value": value_text,
            "value_size": _n(value_size),
            "gain": truncate(gain_text, limit, gain_size),
            "gain_size": _n(gain_size),
            "gain_pct": truncate(self.pct(proj.gain_pct(year)), limit, 13),
            "tone": tone,
            "scale": _n(self.height(value) / UNIT, 5),
        }

    def _fit_money(self, value: Decimal, size: float, min_size: float, bold: bool) -> tuple[str, float]:
        limit = self.col_width - 12
        text = self.money(value)
        while size > min_size and text_width(text, size, bold) > limit:
            size -= 0.5
        if text_width(text, size, bold) > limit:
            text = self.money(value, compact=True)
        return truncate(text, limit, size, bold), size


def build_scene(data: IllustrationInput, texts: Texts | None = None) -> Scene:
    texts = texts or Texts()
    if not data.products:
        raise ValueError("at least one product is required")
    projections = tuple(project_all(data.initial, data.monthly, data.years, list(data.products)))
    scale_max = max([max(p.values) for p in projections] + [Decimal(data.initial)])
    col_width = (PLOT_X1 - PLOT_X0) / len(data.products)
    crown_width = min(118.0, col_width * 0.66)
    names = tuple(clean_text(p.name) or "—" for p in data.products)
    return Scene(data, texts, projections, scale_max, names, col_width, crown_width)


def _n(value: float, places: int = 2) -> float:
    """Coordinates rounded so that output bytes are stable and short."""
    rounded = round(value, places)
    return 0.0 if rounded == 0 else rounded


# --------------------------------------------------------------------------- drawing


def _tree_shape(
    dwg: svgwrite.Drawing,
    risk: str,
    width: float,
    scale: float,
    x: float,
    base_y: float = BASELINE,
    sapling: bool = False,
):
    """A tree UNIT tall (y from 0 up to -UNIT), scaled vertically to its value. Fills only: strokes would skew."""
    crown, light = ("#9fbfa6", "#c5dccb") if sapling else RISK_COLOURS.get(risk, RISK_COLOURS["low"])
    group = dwg.g(class_="ill-shape", transform=f"translate({_n(x)} {_n(base_y)}) scale(1 {_n(scale, 5)})")
    w = width
    if risk == "high" and not sapling:
        group.add(dwg.rect(insert=(_n(-0.06 * w), -20), size=(_n(0.12 * w), 20), fill=TRUNK))
        for base, top, spread, colour in ((-14, -56, 0.5, crown), (-38, -80, 0.4, crown), (-62, -100, 0.28, light)):
            points = [(_n(-spread * w), base), (0, top), (_n(spread * w), base)]
            group.add(dwg.polygon(points, fill=colour))
    elif risk == "medium" and not sapling:
        group.add(dwg.rect(insert=(_n(-0.07 * w), -40), size=(_n(0.14 * w), 40), fill=TRUNK))
        group.add(dwg.ellipse(center=(_n(-0.22 * w), -56), r=(_n(0.28 * w), 22), fill=crown))
        group.add(dwg.ellipse(center=(_n(0.22 * w), -56), r=(_n(0.28 * w), 22), fill=crown))
        group.add(dwg.ellipse(center=(0, -74), r=(_n(0.36 * w), 26), fill=crown))
        group.add(dwg.ellipse(center=(_n(-0.1 * w), -80), r=(_n(0.16 * w), 10), fill=light))
    else:
        group.add(dwg.rect(insert=(_n(-0.07 * w), -42), size=(_n(0.14 * w), 42), fill=TRUNK))
        group.add(dwg.ellipse(center=(0, -66), r=(_n(0.5 * w), 34), fill=crown))
        group.add(dwg.ellipse(center=(_n(-0.14 * w), -76), r=(_n(0.26 * w), 14), fill=light))
    return group


def _text(dwg: svgwrite.Drawing, content: str, x: float, y: float, size: float, **attrs):
    attrs.setdefault("fill", INK)
    attrs.setdefault("text_anchor", "middle")
    return dwg.text(content, insert=(_n(x), _n(y)), font_size=_n(size), **attrs)


def render_svg(data: IllustrationInput, texts: Texts | None = None, year: int | None = None) -> str:
    """The picture as an SVG string. Same input → same bytes."""
    return render_scene(build_scene(data, texts), year)


def render_scene(scene: Scene, year: int | None = None) -> str:
    data, texts = scene.data, scene.texts
    year = data.years if year is None else max(0, min(int(year), data.years))
    currency_initial = scene.money(data.initial)
    years_phrase = scene.years_phrase(data.years)

    dwg = svgwrite.Drawing(size=(WIDTH, HEIGHT), debug=False, profile="full")
    dwg.viewbox(0, 0, WIDTH, HEIGHT)
    dwg.attribs.update(
        {
            "role": "img",
            "aria-labelledby": "ill-title ill-desc",
            "font-family": FONT,
            "class": "ill-svg",
            "preserveAspectRatio": "xMidYMid meet",
        }
    )
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
                value=scene.money(proj.final),
                gain_pct=scene.pct(proj.gain_pct(data.years)),
                gain=signed_money(proj.gain(data.years), data.currency, data.locale),
            )
        )
    title_el, desc_el = (
        svgwrite.base.Title(title),
        svgwrite.base.Desc(clean_text(desc_parts[0] + " " + "; ".join(desc_parts[1:]) + ".")),
    )
    title_el.xml.set("id", "ill-title")
    desc_el.xml.set("id", "ill-desc")
    dwg.elements[:0] = [title_el, desc_el]  # first children, before <defs>

    defs = dwg.defs
    sky = dwg.linearGradient(start=(0, 0), end=(0, 1), id="ill-sky")
    sky.add_stop_color(0, "#f3f8fc")
    sky.add_stop_color(1, "#ffffff")
    defs.add(sky)
    ground = dwg.linearGradient(start=(0, 0), end=(0, 1), id="ill-ground")
    ground.add_stop_color(0, "#a7c98a")
    ground.add_stop_color(1, "#d9e8c8")
    defs.add(ground)

    dwg.add(dwg.rect(insert=(0, 0), size=(WIDTH, HEIGHT), fill="#ffffff"))
    dwg.add(dwg.rect(insert=(0, 0), size=(WIDTH, BASELINE), fill="url(#ill-sky)"))

    # Title block.
    dwg.add(_text(dwg, truncate(title, WIDTH - 60, 24, bold=True), 30, 44, 24, font_weight="bold", text_anchor="start"))
    if monthly > 0:
        subtitle = texts.subtitle_topup.format(initial=currency_initial, monthly=scene.money(monthly))
    else:
        subtitle = texts.subtitle.format(initial=currency_initial)
    dwg.add(_text(dwg, truncate(clean_text(subtitle), WIDTH - 60, 15), 30, 72, 15, fill=MUTED, text_anchor="start"))

    # Ground and the initial-amount reference line.
    dwg.add(dwg.rect(insert=(20, BASELINE), size=(WIDTH - 40, 14), rx=7, ry=7, fill="url(#ill-ground)"))
    seed_h = scene.height(Decimal(data.initial))
    if seed_h >= 2:
        y = _n(BASELINE - seed_h)
        dwg.add(
            dwg.line(
                start=(SEED_X + 30, y),
                end=(PLOT_X1, y),
                stroke="#8a97a3",
                stroke_width=1,
                stroke_dasharray="5 5",
                class_="ill-ref",
            )
        )

    # The seed: the initial amount at the same scale as the trees.
    seed = dwg.g(class_="ill-seed")
    seed.set_desc(title=f"{texts.initial_caption}: {currency_initial}")
    if seed_h >= 8:
        seed.add(_tree_shape(dwg, "low", 46, seed_h / UNIT, SEED_X, sapling=True))
    else:  # too small to draw at scale: a seed with a sprout stands for it
        seed.add(dwg.ellipse(center=(SEED_X, BASELINE + 1), r=(9, 5.5), fill="#8b5e34"))
        seed.add(dwg.path(d=f"M{SEED_X} {BASELINE - 4} q -6 -10 -13 -9 q 4 8 13 9 z", fill="#5fa86f"))
        seed.add(dwg.path(d=f"M{SEED_X} {BASELINE - 4} q 6 -12 14 -11 q -4 9 -14 11 z", fill="#4c9a5e"))
    seed.add(_text(dwg, truncate(texts.initial_caption, 150, 12), SEED_X, BASELINE + 38, 12, fill=MUTED))
    seed_value, seed_size = scene._fit_money(Decimal(data.initial), 15.0, 10.0, bold=True)
    seed.add(_text(dwg, seed_value, SEED_X, BASELINE + 62, min(seed_size, 15.0), font_weight="bold"))
    dwg.add(seed)

    # Trees with their captions.
    limit = scene.col_width - 14
    for index, product in enumerate(scene.data.products):
        cx = PLOT_X0 + scene.col_width * (index + 0.5)
        proj = scene.projections[index]
        caption = scene.caption(index, year)
        name = scene.names[index]
        risk = product.risk if product.risk in RISK_COLOURS else "low"
        tree = dwg.g(class_=f"ill-tree ill-risk-{risk}", tabindex="0")
        tree.attribs["data-index"] = str(index)
        tree.set_desc(
            title=texts.tree_title.format(
                name=name,
                value=scene.money(proj.values[year]),
                years=scene.years_phrase(year),
                gain_pct=scene.pct(proj.gain_pct(year)),
                gain=signed_money(proj.gain(year), data.currency, data.locale),
            )
        )
        # Invisible hit area so a short tree is still easy to hover or tap.
        tree.add(
            dwg.rect(
                insert=(_n(cx - scene.col_width / 2 + 4), BASELINE - MAX_TREE_H),
                size=(_n(scene.col_width - 8), MAX_TREE_H + 130),
                fill="#ffffff",
                fill_opacity=0,
                class_="ill-hit",
            )
        )
        tree.add(_tree_shape(dwg, risk, scene.crown_width, float(caption["scale"]), cx))
        name_size = 15.0 if scene.col_width > 150 else 13.5
        tree.add(
            _text(dwg, truncate(name, limit, name_size, bold=True), cx, BASELINE + 38, name_size, font_weight="bold")
        )
        tree.add(
            _text(
                dwg,
                caption["value"],
                cx,
                BASELINE + 64,
                caption["value_size"],
                font_weight="bold",
                class_="ill-value",
            )
        )
        tone = {"pos": POS, "neg": NEG}.get(caption["tone"], MUTED)
        tree.add(_text(dwg, caption["gain"], cx, BASELINE + 86, caption["gain_size"], fill=tone, class_="ill-gain"))
        tree.add(_text(dwg, caption["gain_pct"], cx, BASELINE + 104, 13, fill=tone, class_="ill-gain-pct"))
        rate_template = texts.rate_line if scene.col_width >= 200 else texts.rate_line_short
        rate_line = rate_template.format(
            rate=scene.pct(product.rate_pct, signed=False),
            compounding=texts.compounding_labels.get(product.compounding, product.compounding),
        )
        tree.add(_text(dwg, truncate(clean_text(rate_line), limit, 11.5), cx, BASELINE + 124, 11.5, fill=MUTED))
        dwg.add(tree)

    # Legend: colour and foliage shape both encode risk (shape helps colour-blind readers).
    legend_y = 574.0
    legend = dwg.g(class_="ill-legend")
    legend.add(
        _text(dwg, texts.legend_title, 30, legend_y + 5, 13, fill=MUTED, text_anchor="start", font_weight="bold")
    )
    x = 30 + text_width(texts.legend_title, 13, bold=True) + 18
    for risk in ("low", "medium", "high"):
        legend.add(_tree_shape(dwg, risk, 20, 0.24, x + 10, base_y=legend_y + 12))
        label = clean_text(texts.risk_labels.get(risk, risk))
        legend.add(_text(dwg, label, x + 26, legend_y + 5, 13, fill=INK, text_anchor="start"))
        x += 26 + text_width(label, 13) + 26
    if seed_h >= 2:
        legend.add(
            dwg.line(start=(_n(x + 10), legend_y), end=(_n(x + 40), legend_y), stroke="#8a97a3", stroke_dasharray="5 5")
        )
        legend.add(_text(dwg, clean_text(texts.reference_line), x + 48, legend_y + 5, 13, text_anchor="start"))
    dwg.add(legend)

    # Footnote: assumptions and the no-guarantee statement.
    y = 612.0
    for line in texts.footnote:
        dwg.add(_text(dwg, truncate(clean_text(line), WIDTH - 60, 11), 30, y, 11, fill=MUTED, text_anchor="start"))
        y += 17
    return dwg.tostring()


def frames(scene: Scene) -> dict:
    """Per-year data for the slider (JSON data island): tree scale and captions for each year."""
    data = scene.data
    return {
        "years": data.years,
        "yearsText": [scene.years_phrase(n) for n in range(data.years + 1)],
        "products": [
            {
                "name": scene.names[i],
                "rate": scene.pct(p.rate_pct, signed=False),
                "compounding": scene.texts.compounding_labels.get(p.compounding, p.compounding),
                "risk": scene.texts.risk_labels.get(p.risk, p.risk),
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
