"""Trend maths for the dashboard and the trends page: plain rows in, plain rows out (no ORM, no I/O)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any


def fold_weekly(points: list[dict]) -> list[dict]:
    """Fold daily points ``{day, mean, calls}`` into ISO weeks (means weighted by calls), Mondays as days."""
    weeks: dict[date, dict] = {}
    for p in points:
        monday = p["day"] - timedelta(days=p["day"].weekday())
        w = weeks.setdefault(monday, {"day": monday, "total": 0.0, "rated": 0, "calls": 0})
        w["calls"] += p["calls"]
        if p["mean"] is not None:
            w["total"] += p["mean"] * p["calls"]
            w["rated"] += p["calls"]
    return [{**w, "mean": w["total"] / w["rated"] if w["rated"] else None} for w in weeks.values()]


# How far apart consecutive periods' starts may be (months: the longest); charts break their lines beyond it.
PERIOD_STEP = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}


def shift_period(start: Any, period: str, k: int) -> Any:
    """The start of the period ``k`` periods after (or before, k < 0) the one starting at ``start``: a date or a
    datetime (a time-zone aware one stays in its zone, at the same wall-clock time)."""
    if period == "month":
        index = start.year * 12 + start.month - 1 + k
        return start.replace(year=index // 12, month=index % 12 + 1, day=1)
    return start + PERIOD_STEP[period] * k


def calendar_periods(first: Any, last: Any, period: str) -> list[Any]:
    """Every period from the one starting at ``first`` to the one starting at ``last``, empty ones included."""
    out = [first]
    while (nxt := shift_period(out[-1], period, 1)) <= last:
        out.append(nxt)
    return out


def manager_grid(
    rows: list[dict], last: int = 12, period: str | None = None
) -> tuple[list[Any], dict[int, dict[Any, dict]]]:
    """Rows ``{call__manager, period, mean, calls}`` -> the last ``last`` periods, oldest first, and each
    manager's row per period.

    With ``period`` ("day", "week" or "month") these are calendar periods: every one from the first with rows to
    the latest, at most ``last`` of them, those without calls included, so that a table and a chart of them show
    the same stretch of time, gaps and all. Without it, only periods with rows count.
    """
    periods = sorted({r["period"] for r in rows})[-last:]
    if period is not None and periods:
        latest = periods[-1]
        start = max(min(r["period"] for r in rows), shift_period(latest, period, 1 - last))
        periods = calendar_periods(start, latest, period)
    cells: dict[int, dict[Any, dict]] = defaultdict(dict)
    for r in rows:
        cells[r["call__manager"]][r["period"]] = r
    return periods, cells


def client_series(rows: list[dict]) -> list[dict]:
    """Rows ``{call__client_id, call__client__pseudonym, call__created, satisfaction_pct}`` ordered by client
    and time -> one entry per client: its values, calls, mean, first, last and change (last minus first)
    over the calls that have a satisfaction figure."""
    per_client: dict[Any, dict] = {}
    for r in rows:
        entry = per_client.setdefault(
            r["call__client_id"], {"id": r["call__client_id"], "pseudonym": r["call__client__pseudonym"], "values": []}
        )
        entry["values"].append(r["satisfaction_pct"])
        entry["last_call"] = r["call__created"]
    for entry in per_client.values():
        values = [v for v in entry["values"] if v is not None]
        entry.update(
            calls=len(entry["values"]),
            mean=sum(values) / len(values) if values else None,
            first=values[0] if values else None,
            last=values[-1] if values else None,
            change=values[-1] - values[0] if len(values) > 1 else None,
        )
    return list(per_client.values())
