"""Pure SVG charts for reports: data in, an SVG string out.

Every chart carries <title> and <desc> (screen readers, tooltips), uses DejaVu Sans
so Cyrillic renders the same in the browser and in WeasyPrint, and stays readable
in black-and-white print: negative episodes are labelled with numbers, gaps are
hatched, and series differ by dash pattern as well as colour. Lines are never
drawn across missing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext, gettext_noop

from lib.palette import ACCENT, FONT, GRID, INK, MUTED, NEG, POS
from lib.palette import SERIES as PALETTE

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
    """mm:ss, or h:mm:ss from one hour."""
    total = int(ms // 1000)  # floor, like a media player
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


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
) -> str:
    """Valence over the call (score -1..1 per frame, None where no face), with episodes and gaps marked.

    ``labels`` translates the fixed words: positive, negative, no_data, episode, valence.
    ``tooltips=False`` drops per-element <title>s (print has no hover; fewer nodes render faster).
    """
    words = {
        "positive": "positive",
        "negative": "negative",
        "no_data": "no data",
        "episode": "negative episode",
        "valence": "valence",
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


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[dict],
    *,
    title: str,
    desc: str,
    chart_id: str = "lines",
    width: int = 760,
    height: int = 260,
    y_min: float = 0.0,
    y_max: float = 100.0,
    unit: str = "%",
    highlight_index: int | None = None,
    legend: bool = True,
    connect_gaps: bool = False,
) -> str:
    """Series of values over categorical x positions; ``None`` breaks the line unless ``connect_gaps``.

    Trends across weeks may connect periods without calls; a timeline within a call never does.

    Each series is {"name": str, "values": [float | None, ...]}; colour and dash come from its position.
    """
    n = len(x_labels)
    left, right, top = 46, 30, 14
    legend_rows = (len(series) + 2) // 3 if legend and series else 0
    bottom = 36 + legend_rows * 16
    plot_w, plot_h = width - left - right, height - top - bottom
    unit = _unit(unit)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n <= 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, y_min), y_max) - y_min) / ((y_max - y_min) or 1))

    out = _open(chart_id, width, height, title, desc, "chart chart-lines")
    for k in range(5):
        v = y_min + (y_max - y_min) * k / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{v:g}{_t(unit)}</text>'
        )
    if highlight_index is not None and 0 <= highlight_index < n:
        hx = x(highlight_index)
        out.append(f'<rect x="{hx - 9:.1f}" y="{top}" width="18" height="{plot_h}" fill="#fff4d6"/>')
    every = max(1, -(-n // 12))
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 15}" text-anchor="middle" fill="{MUTED}">{_t(label)}</text>'
            )
    for s_i, s in enumerate(series):
        colour = s.get("color") or PALETTE[s_i % len(PALETTE)]
        dash = DASHES[s_i % len(DASHES)]
        runs: list[list[tuple[int, float]]] = [[]]
        for i, v in enumerate(s["values"]):
            if v is None:
                if not connect_gaps:
                    runs.append([])
            else:
                runs[-1].append((i, v))
        for run in runs:
            if len(run) > 1:
                d = " ".join(f"{'M' if j == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for j, (i, v) in enumerate(run))
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for i, v in enumerate(s["values"]):
            if v is not None:
                out.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{4 if i == highlight_index else 2.6}" '
                    f'fill="{colour}"><title>{_t(s["name"])} · {_t(x_labels[i])}: {v:.1f}{_t(unit)}</title></circle>'
                )
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{GRID}"/>')
    if legend_rows:
        col_w = plot_w / 3
        for s_i, s in enumerate(series):
            colour = s.get("color") or PALETTE[s_i % len(PALETTE)]
            dash = DASHES[s_i % len(DASHES)]
            lx = left + col_w * (s_i % 3)
            ly = top + plot_h + 32 + 16 * (s_i // 3)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<line x1="{lx:.1f}" x2="{lx + 24:.1f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
                f'stroke-width="2"{dash_attr}/><text x="{lx + 30:.1f}" y="{ly}">{_t(s["name"])}</text>'
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
