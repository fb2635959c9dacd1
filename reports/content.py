"""Everything a call report shows, gathered once for the HTML page, the PDF and the CSV."""

from __future__ import annotations

from django.utils.translation import gettext as _

from calls.models import EXPRESSION_NAMES, EmotionSample, Showing, Valence
from engine.analytics import SATISFACTION_FOOTNOTE, valence_series
from engine.exposure import reaction
from engine.labels import valence_of
from lib.palette import ACCENT, NEG, NEUTRAL, POS
from lib.timefmt import csv_datetime, csv_zone_column, duration_seconds, format_duration, format_local
from reports import charts
from reports.models import CallReport
from reports.trends import PERIOD_STEP

# The order the report lists expressions in.
EXPRESSION_ORDER: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
VALENCE_NAMES = dict(Valence.choices)
VALENCE_COLOURS = {"positive": POS, "neutral": NEUTRAL, "negative": NEG}
VALENCE_ORDER: tuple[str, ...] = ("negative", "neutral", "positive")
PREVIOUS_CALLS = 10


def satisfaction_footnote() -> str:
    # The English text lives in engine.analytics; translated here at render time.
    return _(SATISFACTION_FOOTNOTE)


def previous_reports(report: CallReport, limit: int = PREVIOUS_CALLS) -> list[CallReport]:
    """Earlier calls of the same client with the same manager, newest first (the viewer may see them all)."""
    call = report.call
    return list(
        CallReport.objects.filter(
            call__client_id=call.client_id, call__manager_id=call.manager_id, call__created__lt=call.created
        )
        .select_related("call")
        .order_by("-call__created")[:limit]
    )


def call_duration_ms(call, timeline_ms: float | None) -> int | None:
    """A call's duration, by one rule for the report, the dashboard and the CSVs: from start to end where both
    are known, else the analysed timeline's (the summary's ``duration_ms``); None when neither is known.

    Shown with lib.timefmt.format_duration, exported as lib.timefmt.duration_seconds.
    """
    if call.started_at is not None and call.ended_at is not None:
        return call.duration_ms
    return None if timeline_ms is None else int(timeline_ms)


def shown_items(call, t_ms: list[int], found: list[bool], probs: list) -> list[dict]:
    """What was on the client's screen during the call (calls.Showing), one entry per thing shown, lettered
    A, B, … in the order first shown: its intervals, and the client's reaction while it was on screen against
    the rest of the call (the time when nothing was shown)."""
    by_subject: dict = {}
    for showing in Showing.objects.filter(call=call).order_by("started_at"):
        interval = showing.interval_ms(call)
        if interval is not None:
            by_subject.setdefault(showing.subject, {"label": showing.label, "intervals": []})["intervals"].append(
                interval
            )
    every = [iv for item in by_subject.values() for iv in item["intervals"]]
    items = []
    for n, (subject, item) in enumerate(by_subject.items()):
        mark = chr(ord("A") + n) if n < 26 else str(n + 1)
        result = reaction(t_ms, found, probs, item["intervals"], every)
        rows = []
        for key, name in (("during", _("While shown")), ("rest", _("Rest of the call"))):
            part = result[key]
            rows.append(
                {
                    "key": key,
                    "name": name,
                    "frames": part["frames_with_face"],
                    "valences": [{"key": v, "pct": part["valence_pct"][v]} for v in VALENCE_ORDER],
                    "satisfaction_pct": part["satisfaction_pct"],
                }
            )
        items.append(
            {
                "subject": subject,
                "mark": mark,
                "label": item["label"],
                "intervals": [
                    {"start_ms": a, "end_ms": b, "start": charts.format_ms(a), "end": charts.format_ms(b)}
                    for a, b in item["intervals"]
                ],
                "seconds": round(result["shown_ms"] / 1000),
                "rows": rows,
            }
        )
    return items


def build_report_context(report: CallReport, chart_prefix: str = "report") -> dict:
    call = report.call
    summary = report.summary or {}
    t_ms, found, probs = EmotionSample.objects.filter(call=call).timeline()
    series = valence_series(t_ms, found, probs)
    duration_ms = call_duration_ms(call, summary.get("duration_ms"))

    expr_pct = summary.get("expressions_pct", {})
    expressions = [
        {
            "key": key,
            "name": EXPRESSION_NAMES[key],
            "pct": float(expr_pct.get(key, 0.0)),
            "valence": valence_of(key),
            "valence_name": VALENCE_NAMES[valence_of(key)],
            "colour": VALENCE_COLOURS[valence_of(key)],
        }
        for key in EXPRESSION_ORDER
    ]
    val_pct = summary.get("valence_pct", {})
    # The design's order: negative, neutral, positive, under overall satisfaction.
    valences = [
        {"key": key, "name": VALENCE_NAMES[key], "pct": float(val_pct.get(key, 0.0)), "colour": VALENCE_COLOURS[key]}
        for key in VALENCE_ORDER
    ]
    episodes = [
        {
            "n": n,
            "start": charts.format_ms(ep["start_ms"]),
            "end": charts.format_ms(ep["end_ms"]),
            "peak": charts.format_ms(ep.get("peak_ms", ep["start_ms"])),
            "seconds": round((ep["end_ms"] - ep["start_ms"]) / 1000),
            "peak_score": ep.get("peak_score"),
        }
        for n, ep in enumerate(summary.get("negative_episodes", []), start=1)
    ]
    gaps = [
        {"start": charts.format_ms(g["start_ms"]), "end": charts.format_ms(g["end_ms"]), **g}
        for g in summary.get("gaps", [])
    ]

    shown = shown_items(call, t_ms, found, probs)
    timeline_svg = charts.timeline_chart(
        series,
        shown=[
            {**iv, "mark": item["mark"], "label": f"{item['mark']}: {item['label']}"}
            for item in shown
            for iv in item["intervals"]
        ],
        duration_ms=max(duration_ms or 0, max(t_ms) if t_ms else 0),  # the whole call and every sample
        episodes=summary.get("negative_episodes", []),
        gaps=summary.get("gaps", []),
        title=_("Client's valence over the call"),
        desc=_(
            "Valence score from -1 (negative) to +1 (positive) per analysed frame; "
            "%(episodes)d negative episodes and %(gaps)d gaps without data are marked."
        )
        % {"episodes": len(episodes), "gaps": len(gaps)},
        labels={
            "positive": _("positive"),
            "negative": _("negative"),
            "no_data": _("no data"),
            "episode": _("negative episode"),
            "valence": _("valence"),
            "shown": _("illustration on screen"),
        },
        chart_id=f"{chart_prefix}-timeline",
        tooltips=chart_prefix != "pdf",
    )
    previous = previous_reports(report)
    prev_sat = [p.satisfaction_pct for p in previous if p.satisfaction_pct is not None]
    prev_mean = sum(prev_sat) / len(prev_sat) if prev_sat else None
    delta = (
        report.satisfaction_pct - prev_mean if prev_mean is not None and report.satisfaction_pct is not None else None
    )
    comparison_svg = ""
    if previous:
        chronological = [*reversed(previous), report]
        comparison_svg = charts.time_chart(
            [p.call.created for p in chronological],
            [{"name": _("Satisfaction"), "values": [p.satisfaction_pct for p in chronological]}],
            labels=[format_local(p.call.created, "SHORT_DATE_FORMAT") for p in chronological],
            step=PERIOD_STEP["month"],  # a month without a call is a gap
            title=_("Satisfaction in this client's calls"),
            desc=_("Satisfaction in the last %(n)d calls with this client; the last point is this call.")
            % {"n": len(chronological)},
            chart_id=f"{chart_prefix}-comparison",
            height=220,
            highlight_index=len(chronological) - 1,
            legend=False,
        )

    return {
        "report": report,
        "call": call,
        "summary": summary,
        "duration_ms": duration_ms,
        "duration": format_duration(duration_ms),
        "expressions": expressions,
        "valences": valences,
        "satisfaction_colour": ACCENT,
        "episodes": episodes,
        "gaps": gaps,
        "footnote": satisfaction_footnote(),
        "timeline_svg": timeline_svg,
        "previous": previous,
        "previous_mean": prev_mean,
        "delta": delta,
        "comparison_svg": comparison_svg,
        "recording": getattr(call, "recording", None),
        "feedback": getattr(call, "feedback", None),
        "dominant_name": EXPRESSION_NAMES.get(summary.get("dominant") or "", ""),
        "shown": shown,
    }


def report_csv_rows(ctx: dict) -> list[tuple]:
    """Rows (section, item, value) for the per-call CSV, in the report table's order: overall satisfaction, the
    negative, neutral and positive shares, then each expression."""
    call = ctx["call"]
    report = ctx["report"]
    rows: list[tuple] = [
        ("call", "client", call.client.pseudonym),
        ("call", "manager", call.manager.get_username()),
        ("call", csv_zone_column("date"), csv_datetime(call.created)),
        ("call", "duration_s", duration_seconds(ctx["duration_ms"])),
        ("call", "face_visible_pct", report.face_visible_pct),
        ("call", "source", call.source),
    ]
    rows.append(("satisfaction_pct", "overall", report.satisfaction_pct))
    rows += [("valence_pct", v["key"], v["pct"]) for v in ctx["valences"]]
    rows += [("expression_pct", e["key"], e["pct"]) for e in ctx["expressions"]]
    for ep in ctx["episodes"]:
        rows.append(("negative_episode", f"{ep['n']}", f"{ep['start']}–{ep['end']}"))
    for g in ctx["gaps"]:
        rows.append(("gap", f"{g['start']}", f"{g['start']}–{g['end']}"))
    for item in ctx.get("shown", ()):
        intervals = ", ".join(f"{iv['start']}–{iv['end']}" for iv in item["intervals"])
        rows.append(("shown", f"{item['mark']}: {item['label']}", intervals))
        for row in item["rows"]:
            rows.append((f"shown_{row['key']}", f"{item['mark']} satisfaction_pct", row["satisfaction_pct"]))
    return rows
