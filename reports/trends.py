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


def manager_grid(rows: list[dict], last: int = 12) -> tuple[list[Any], dict[int, dict[Any, dict]]]:
    """Rows ``{call__manager, period, mean, calls}`` -> the last ``last`` periods, oldest first, and each
    manager's row per period."""
    periods = sorted({r["period"] for r in rows})[-last:]
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
