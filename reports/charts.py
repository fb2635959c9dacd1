"""Pure SVG charts for reports: data in, an SVG string out.

Every chart carries <title> and <desc> (screen readers, tooltips), uses DejaVu Sans
so Cyrillic renders the same in the browser and in WeasyPrint, and stays readable
in black-and-white print: negative episodes are labelled with numbers, gaps are
hatched, and series differ by dash pattern as well as colour. Lines are never
drawn across missing data. Charts over dates (time_chart) place points by their date,
with ticks on calendar days, Mondays or months, and hatch stretches without data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from lib.palette import ACCENT, FONT, GRID, INK, MUTED, NEG, POS, SERIES
from lib.palette import SERIES as PALETTE
from lib.timefmt import format_duration, format_local

SHOWN = SERIES[0]  # blue: apart from the valence line's green and the episodes' red
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 2 1 2", "3 3")

# Units for ``unit=``: English msgids, translated when the chart is drawn (" " + SECONDS reads "12 с" in Russian).
SECONDS = gettext_noop("s")
MINUTES = gettext_noop("min")


def _t(value: object) -> str:
    return escape(str(value))


def _unit(unit: str) -> str:
    """The unit written after a number, in the active language: "s" -> "с", " min" -> " мин"; "%" stays as it is."""
    word = unit.strip()
    if not any(c.isalpha() for c in word):
        return unit
    return unit.replace(word, gettext(word), 1)


def _open(chart_id: str, width: int, height: int, title: str, desc: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class={quoteattr(css_class)} id={quoteattr(chart_id)} '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{_t(chart_id)}-title {_t(chart_id)}-desc" font-family="{FONT}" font-size="11">',
        f'<title id="{_t(chart_id)}-title">{_t(title)}</title>',
        f'<desc id="{_t(chart_id)}-desc">{_t(desc)}</desc>',
    ]


def format_ms(ms: float) -> str:
    """A moment of the call (an offset from its start) as the durations are written: mm:ss, or h:mm:ss."""
    return format_duration(ms)


def _time_step(duration_ms: float, max_ticks: int = 10) -> int:
    for step_s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration_ms / (step_s * 1000) <= max_ticks:
            return step_s * 1000
    return 7200 * 1000


def _segments(points: Sequence[tuple[int, float | None]], max_gap_ms: int) -> list[list[tuple[int, float]]]:
    """Split into runs with data and no time jump over max_gap_ms: a line never bridges a gap."""
    segments: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    last_t: int | None = None
    for t, value in points:
        if value is None or (last_t is not None and t - last_t > max_gap_ms):
            if current:
                segments.append(current)
            current = []
        if value is not None:
            current.append((t, value))
        last_t = t
    if current:
        segments.append(current)
    return segments


def _downsample(segment: list[tuple[int, float]], bucket_ms: float) -> list[tuple[float, float]]:
    if bucket_ms <= 0 or len(segment) < 3:
        return [(float(t), v) for t, v in segment]
    out: list[tuple[float, float]] = []
    bucket: list[tuple[int, float]] = []
    start = segment[0][0]
    for t, v in segment:
        if bucket and t - start >= bucket_ms:
            out.append((sum(p[0] for p in bucket) / len(bucket), sum(p[1] for p in bucket) / len(bucket)))
            bucket, start = [], t
        bucket.append((t, v))
    if bucket:
        out.append((sum(p[0] for p in bucket) / len(bucket), sum(p[1] for p in bucket) / len(bucket)))
    return out


def timeline_chart(
    series: Sequence[dict],
    *,
    duration_ms: int,
    episodes: Sequence[dict] = (),
    gaps: Sequence[dict] = (),
    title: str,
    desc: str,
    labels: dict[str, str] | None = None,
    chart_id: str = "timeline",
    width: int = 760,
    height: int = 250,
    max_gap_ms: int = 2000,
    max_points: int = 600,
    tooltips: bool = True,
    shown: Sequence[dict] = (),
) -> str:
    """Valence over the call (score -1..1 per frame, None where no face), with episodes and gaps marked.

    ``shown``: intervals when something was on the client's screen (``start_ms``, ``end_ms``, ``mark`` (a short
    letter), ``label``), drawn as bands under a marker strip at the plot's foot.
    ``labels`` translates the fixed words: positive, negative, no_data, episode, valence, shown.
    ``tooltips=False`` drops per-element <title>s (print has no hover; fewer nodes render faster).
    """
    words = {
        "positive": "positive",
        "negative": "negative",
        "no_data": "no data",
        "episode": "negative episode",
        "valence": "valence",
        "shown": "illustration on screen",
    }
    words.update({k: str(v) for k, v in (labels or {}).items()})
    left, right, top, bottom = 62, 14, 22, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(int(duration_ms), 1)

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0), span) / span

    def y(v: float) -> float:
        return top + plot_h * (1 - (v + 1) / 2)

    out = _open(chart_id, width, height, title, desc, "chart chart-timeline")
    pid = f"{chart_id}-hatch"
    out.append(
        f'<defs><pattern id="{_t(pid)}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f4f6"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#9aa5b1" stroke-width="2"/></pattern></defs>'
    )
    # Positive and negative halves, tinted lightly so print stays clean.
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h / 2:.1f}" fill="#eef7f1"/>')
    out.append(f'<rect x="{left}" y="{y(0):.1f}" width="{plot_w}" height="{plot_h / 2:.1f}" fill="#fbeeed"/>')
    for v in (-1, -0.5, 0, 0.5, 1):
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="{INK if v == 0 else GRID}" stroke-width="{1 if v == 0 else 0.7}"/>'
        )
        sign = "+" if v > 0 else ""
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{sign}{v:g}</text>')
    out.append(
        f'<text x="{left + 4}" y="{top + 12}" fill="{POS}" font-size="10">{_t(words["positive"])}</text>'
        f'<text x="{left + 4}" y="{top + plot_h - 4}" fill="{NEG}" font-size="10">{_t(words["negative"])}</text>'
    )
    for gap in gaps:
        gx, gw = x(gap["start_ms"]), max(x(gap["end_ms"]) - x(gap["start_ms"]), 1.5)
        tip = f"<title>{_t(words['no_data'])}: {format_ms(gap['start_ms'])}–{format_ms(gap['end_ms'])}</title>"
        out.append(
            f'<rect class="gap" x="{gx:.1f}" y="{top}" width="{gw:.1f}" height="{plot_h}" fill="url(#{_t(pid)})">'
            f"{tip if tooltips else ''}</rect>"
        )
    last_label_x = -1e9
    for n, ep in enumerate(episodes, start=1):
        ex, ew = x(ep["start_ms"]), max(x(ep["end_ms"]) - x(ep["start_ms"]), 3)
        tip = f"<title>{_t(words['episode'])} {n}: {format_ms(ep['start_ms'])}–{format_ms(ep['end_ms'])}</title>"
        out.append(
            f'<rect class="episode" x="{ex:.1f}" y="{top}" width="{ew:.1f}" height="{plot_h}" fill="{NEG}" '
            f'fill-opacity="0.18" stroke="{NEG}" stroke-width="0.8">{tip if tooltips else ""}</rect>'
        )
        # Numbers that would overlap the previous one are skipped: unreadable, and slow to lay out in PDFs.
        cx = ex + ew / 2
        if cx - last_label_x >= 6 + 7 * len(str(n)):
            last_label_x = cx
            out.append(
                f'<text x="{cx:.1f}" y="{top - 6}" text-anchor="middle" font-weight="bold" fill="{NEG}">{n}</text>'
            )
    for item in shown:
        sx, sw = x(item["start_ms"]), max(x(item["end_ms"]) - x(item["start_ms"]), 2)
        tip = f"<title>{_t(item['label'])}: {format_ms(item['start_ms'])}–{format_ms(item['end_ms'])}</title>"
        out.append(
            f'<g class="shown" data-start-ms="{int(item["start_ms"])}" data-end-ms="{int(item["end_ms"])}">'
            f'<rect x="{sx:.1f}" y="{top}" width="{sw:.1f}" height="{plot_h}" fill="{SHOWN}" fill-opacity="0.10"/>'
            f'<rect x="{sx:.1f}" y="{top + plot_h - 12}" width="{sw:.1f}" height="12" fill="{SHOWN}" '
            f'fill-opacity="0.85">'
            f"{tip if tooltips else ''}</rect>"
            f'<text x="{sx + 3:.1f}" y="{top + plot_h - 2.5}" fill="#ffffff" font-size="10" font-weight="bold">'
            f"{_t(item['mark'])}</text></g>"
        )
    points = [(int(p["t_ms"]), p["score"]) for p in series]
    bucket = span / max_points if len(points) > max_points else 0
    for seg in _segments(points, max_gap_ms):
        pts = _downsample(seg, bucket)
        if len(pts) == 1:
            out.append(f'<circle cx="{x(pts[0][0]):.1f}" cy="{y(pts[0][1]):.1f}" r="1.8" fill="{ACCENT}"/>')
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(pts))
        out.append(f'<path class="valence" d="{d}" fill="none" stroke="{ACCENT}" stroke-width="1.6"/>')
    step = _time_step(span)
    t = 0
    while t <= span:
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="{MUTED}"/>'
            f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{MUTED}">{format_ms(t)}</text>'
        )
        t += step
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{GRID}"/>')
    ly = height - 14
    out.append(
        f'<line x1="{left}" x2="{left + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="{ACCENT}" stroke-width="2"/>'
        f'<text x="{left + 28}" y="{ly}">{_t(words["valence"])}</text>'
        f'<rect x="{left + 150}" y="{ly - 10}" width="16" height="11" fill="{NEG}" fill-opacity="0.18" stroke="{NEG}"/>'
        f'<text x="{left + 172}" y="{ly}">{_t(words["episode"])}</text>'
        f'<rect x="{left + 350}" y="{ly - 10}" width="16" height="11" fill="url(#{_t(pid)})" stroke="#9aa5b1"/>'
        f'<text x="{left + 372}" y="{ly}">{_t(words["no_data"])}</text>'
    )
    if shown:
        out.append(
            f'<rect x="{left + 490}" y="{ly - 10}" width="16" height="11" fill="{SHOWN}" fill-opacity="0.85"/>'
            f'<text x="{left + 512}" y="{ly}">{_t(words["shown"])}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def hbar_chart(
    rows: Sequence[tuple[str, float, str]],
    *,
    title: str,
    desc: str,
    chart_id: str = "bars",
    width: int = 420,
    bar_h: int = 18,
    max_value: float = 100.0,
    unit: str = "%",
) -> str:
    """Horizontal bars: (label, value, colour) per row, value printed at the end of each bar."""
    left, right, top = 120, 56, 6
    height = top * 2 + len(rows) * (bar_h + 6)
    plot_w = width - left - right
    unit = _unit(unit)
    out = _open(chart_id, width, height, title, desc, "chart chart-bars")
    for i, (label, value, colour) in enumerate(rows):
        by = top + i * (bar_h + 6)
        w = plot_w * max(0.0, min(value, max_value)) / max_value if max_value else 0
        out.append(
            f'<text x="{left - 8}" y="{by + bar_h * 0.72:.1f}" text-anchor="end" fill="{INK}">{_t(label)}</text>'
            f'<rect x="{left}" y="{by}" width="{plot_w}" height="{bar_h}" fill="#f2f4f6"/>'
            f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
            f"<title>{_t(label)}: {value:.1f}{_t(unit)}</title></rect>"
            f'<text x="{left + plot_w + 6}" y="{by + bar_h * 0.72:.1f}" fill="{INK}">{value:.1f}{_t(unit)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _days(value: date) -> float:
    """A date or datetime as days on one axis (an aware datetime at the site's wall-clock time)."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return value.toordinal() + seconds / 86400
    return float(value.toordinal())


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# Tick steps, finest first: (unit, how many). Weeks start on Mondays, months on the 1st, years on 1 January.
_TICK_STEPS = (("day", 1), ("day", 2), ("week", 1), ("week", 2), ("month", 1), ("month", 3), ("month", 6))


def _ticks(lo: float, hi: float, max_ticks: int, finest: int = 0) -> tuple[list[date], str]:
    """Calendar dates between lo and hi (day numbers) at the finest step, from ``_TICK_STEPS[finest]`` on, that
    gives at most max_ticks."""
    first, last = date.fromordinal(int(-(-lo // 1))), date.fromordinal(int(hi))

    def at(unit: str, k: int) -> list[date]:
        if unit == "day":
            return [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1, k)]
        if unit == "week":
            monday = first + timedelta(days=-first.weekday() % 7)
            return [monday + timedelta(weeks=w) for w in range(0, (last - monday).days // 7 + 1, k)]
        if unit == "month":
            day = first if first.day == 1 else _add_months(first, 1)
            out = []
            while day <= last:
                if (day.month - 1) % k == 0:
                    out.append(day)
                day = _add_months(day, 1)
            return out
        years = range(first.year + (first > date(first.year, 1, 1)), last.year + 1)
        return [date(y, 1, 1) for y in years if y % k == 0]

    for unit, k in _TICK_STEPS[finest:]:
        ticks = at(unit, k)
        if len(ticks) <= max_ticks:
            return ticks, unit
    k = 1
    while len(ticks := at("year", k)) > max_ticks:
        k *= 2
    return ticks, "year"


def _finest_tick(x_values: Sequence[date]) -> int:
    """Ticks no finer than the data's own periods: months for points on the 1st, weeks for Mondays."""
    midnight = [v for v in x_values if not isinstance(v, datetime) or (v.hour, v.minute, v.second) == (0, 0, 0)]
    if not x_values or len(midnight) < len(x_values):
        return 0
    if all(v.day == 1 for v in x_values):
        return _TICK_STEPS.index(("month", 1))
    if all(v.weekday() == 0 for v in x_values):
        return _TICK_STEPS.index(("week", 1))
    return 0


def _tick_label(day: date, unit: str, several_years: bool) -> str:
    """A tick in the language's own formats (lib.timefmt): a day as 15.11 (with its year where the axis spans
    years), a month as 11.2026, a year as 2026."""
    if unit == "year":
        return str(day.year)
    if unit == "month":
        return format_local(day, "YEAR_MONTH_FORMAT")
    return format_local(day, "SHORT_DATE_FORMAT" if several_years else "MONTH_DAY_FORMAT")


def time_chart(
    x_values: Sequence[date],
    series: Sequence[dict],
    *,
    title: str,
    desc: str,
    labels: Sequence[str] | None = None,
    step: timedelta | None = None,
    x_range: tuple[date, date] | None = None,
    chart_id: str = "time",
    width: int = 760,
    height: int = 280,
    y_min: float = 0.0,
    y_max: float = 100.0,
    unit: str = "%",
    highlight_index: int | None = None,
    legend: bool = True,
    no_data: str | None = None,
) -> str:
    """Series over real time: x is proportional to the dates (or datetimes) in ``x_values``, oldest first.

    Each series is {"name": str, "values": [float | None, ...]} aligned with ``x_values``; colour and dash come
    from its position. A line never crosses a missing value, nor, with ``step`` (the data's period: a day, a
    week, 31 days for months), two points further apart than one step. Where no series has data (a missing
    value in all, a jump over a step, an empty start or end of ``x_range``) the chart is hatched and the
    legend says "no data". ``labels`` name the points in tooltips (the table's own headers, say). The title is
    drawn at the top as well as in <title>.
    """
    n = len(x_values)
    xs = [_days(v) for v in x_values]
    unit = _unit(unit)
    no_data = no_data if no_data is not None else gettext("no data")
    labels = list(labels) if labels is not None else [format_local(v, "SHORT_DATE_FORMAT") for v in x_values]
    step_days = step.total_seconds() / 86400 if step else None
    slack = 1.2  # a week across a daylight-saving change is an hour longer than seven days

    def bridged(a: int, b: int) -> bool:
        return step_days is None or xs[b] - xs[a] <= step_days * slack

    has_data = [any(s["values"][i] is not None for s in series) for i in range(n)]
    data_idx = [i for i in range(n) if has_data[i]]

    if x_range is not None:
        lo, hi = _days(x_range[0]), _days(x_range[1])
    else:
        lo, hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    pad = max((hi - lo) * 0.03, 0.5)  # room for the first and last dot
    pad = min(pad, step_days / 2) if step_days else pad
    lo_edge, hi_edge = lo - pad, hi + pad
    span = (hi_edge - lo_edge) or 1.0

    # Stretches without data: between data points that a line would have had to bridge, and at either end.
    bands: list[tuple[float, float]] = []
    if not data_idx:
        bands.append((lo_edge, hi_edge))
    else:
        first, last = data_idx[0], data_idx[-1]
        if first > 0 or (x_range is not None and step_days and xs[first] - lo > step_days * slack):
            bands.append((lo_edge, xs[first]))
        for a, b in zip(data_idx, data_idx[1:], strict=False):
            if b > a + 1 or not bridged(a, b):
                bands.append((xs[a], xs[b]))
        if last < n - 1 or (x_range is not None and step_days and hi - xs[last] > step_days * slack):
            bands.append((xs[last], hi_edge))

    items = [(s_i, s) for s_i, s in enumerate(series)] if legend else []
    legend_items = len(items) + (1 if bands else 0)
    legend_rows = (legend_items + 2) // 3
    left, right, top = 46, 30, 32
    bottom = 36 + legend_rows * 16
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(day: float) -> float:
        return left + plot_w * (min(max(day, lo_edge), hi_edge) - lo_edge) / span

    def y(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, y_min), y_max) - y_min) / ((y_max - y_min) or 1))

    out = _open(chart_id, width, height, title, desc, "chart chart-time")
    pid = f"{chart_id}-hatch"
    out.append(
        f'<defs><pattern id="{_t(pid)}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f4f6"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#9aa5b1" stroke-width="2"/></pattern></defs>'
    )
    out.append(
        f'<text class="chart-title" x="{left}" y="16" font-size="12" font-weight="bold" fill="{INK}">{_t(title)}</text>'
    )
    for a, b in bands:
        bx, bw = x(a), max(x(b) - x(a), 4.0)
        out.append(
            f'<rect class="no-data" x="{bx:.1f}" y="{top}" width="{bw:.1f}" height="{plot_h}" '
            f'fill="url(#{_t(pid)})" fill-opacity="0.6"><title>{_t(no_data)}</title></rect>'
        )
        if bw >= 9 + 6.5 * len(no_data):
            out.append(
                f'<text x="{bx + bw / 2:.1f}" y="{top + plot_h - 6}" text-anchor="middle" font-size="10" '
                f'fill="{MUTED}">{_t(no_data)}</text>'
            )
    for k in range(5):
        v = y_min + (y_max - y_min) * k / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{v:g}{_t(unit)}</text>'
        )
    if highlight_index is not None and 0 <= highlight_index < n:
        hx = x(xs[highlight_index])
        out.append(f'<rect x="{hx - 9:.1f}" y="{top}" width="18" height="{plot_h}" fill="#fff4d6"/>')
    ticks, tick_unit = _ticks(lo_edge, hi_edge, max(2, int(plot_w // 72)), _finest_tick(x_values))
    several_years = len({t.year for t in ticks}) > 1
    for t in ticks:
        tx = x(_days(t))
        out.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="{MUTED}"/>'
            f'<text class="tick" x="{tx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{MUTED}">'
            f"{_t(_tick_label(t, tick_unit, several_years))}</text>"
        )
    for s_i, s in enumerate(series):
        colour = s.get("color") or PALETTE[s_i % len(PALETTE)]
        dash = DASHES[s_i % len(DASHES)]
        values = s["values"]
        runs: list[list[int]] = []
        for i in range(n):
            if values[i] is None:
                continue
            if runs and runs[-1][-1] == i - 1 and bridged(i - 1, i):
                runs[-1].append(i)
            else:
                runs.append([i])
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for run in runs:
            if len(run) > 1:
                d = " ".join(f"{'M' if j == 0 else 'L'}{x(xs[i]):.1f},{y(values[i]):.1f}" for j, i in enumerate(run))
                out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for i in range(n):
            if values[i] is not None:
                out.append(
                    f'<circle cx="{x(xs[i]):.1f}" cy="{y(values[i]):.1f}" r="{4 if i == highlight_index else 2.6}" '
                    f'fill="{colour}" data-x="{_t(x_values[i].isoformat())}"><title>{_t(s["name"])} · '
                    f"{_t(labels[i])}: {values[i]:.1f}{_t(unit)}</title></circle>"
                )
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{GRID}"/>')
    col_w = plot_w / 3
    for k, (s_i, s) in enumerate(items):
        colour = s.get("color") or PALETTE[s_i % len(PALETTE)]
        dash = DASHES[s_i % len(DASHES)]
        lx, ly = left + col_w * (k % 3), top + plot_h + 32 + 16 * (k // 3)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{lx:.1f}" x2="{lx + 24:.1f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/><text x="{lx + 30:.1f}" y="{ly}">{_t(s["name"])}</text>'
        )
    if bands:
        k = len(items)
        lx, ly = left + col_w * (k % 3), top + plot_h + 32 + 16 * (k // 3)
        out.append(
            f'<rect x="{lx + 4:.1f}" y="{ly - 10}" width="16" height="11" fill="url(#{_t(pid)})" stroke="#9aa5b1"/>'
            f'<text x="{lx + 30:.1f}" y="{ly}">{_t(no_data)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def sparkline(values: Sequence[float | None], *, title: str, chart_id: str, width: int = 120, height: int = 28) -> str:
    """A tiny satisfaction trend (0..100) for table cells; None breaks the line."""
    out = _open(chart_id, width, height, title, title, "chart sparkline")
    n = len(values)

    def x(i: int) -> float:
        return 3 + (width - 6) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return 3 + (height - 6) * (1 - v / 100)

    run: list[str] = []
    for i, v in enumerate([*values, None]):
        if v is None:
            if len(run) > 1:
                out.append(f'<path d="{" ".join(run)}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>')
            run = []
        else:
            run.append(f"{'M' if not run else 'L'}{x(i):.1f},{y(v):.1f}")
    if n and values[-1] is not None:
        out.append(f'<circle cx="{x(n - 1):.1f}" cy="{y(values[-1]):.1f}" r="2.2" fill="{ACCENT}"/>')
    out.append("</svg>")
    return "".join(out)
