"""The trend maths behind the dashboard chart and the trends page."""

from __future__ import annotations

from datetime import date, datetime

from reports.trends import client_series, fold_weekly, manager_grid


def test_days_fold_into_iso_weeks_weighted_by_calls() -> None:
    points = [
        {"day": date(2026, 11, 2), "mean": 80.0, "calls": 3},  # Monday
        {"day": date(2026, 11, 4), "mean": 40.0, "calls": 1},
        {"day": date(2026, 11, 5), "mean": None, "calls": 2},  # calls without a satisfaction figure
        {"day": date(2026, 11, 10), "mean": 50.0, "calls": 1},
    ]
    weeks = fold_weekly(points)
    assert [(w["day"], w["calls"], w["mean"]) for w in weeks] == [
        (date(2026, 11, 2), 6, 70.0),
        (date(2026, 11, 9), 1, 50.0),
    ]


def test_a_week_without_any_figure_has_no_mean() -> None:
    assert fold_weekly([{"day": date(2026, 11, 3), "mean": None, "calls": 2}])[0]["mean"] is None


def test_the_manager_grid_keeps_the_last_periods_and_each_managers_cells() -> None:
    rows = [{"call__manager": m, "period": p, "mean": 60.0 + p, "calls": 1} for p in range(14) for m in (1, 2)]
    rows = [r for r in rows if not (r["call__manager"] == 2 and r["period"] == 13)]
    periods, cells = manager_grid(rows, last=12)
    assert periods == list(range(2, 14))
    assert cells[1][13]["mean"] == 73.0
    assert 13 not in cells[2]


def test_each_client_gets_mean_first_last_and_change_over_rated_calls() -> None:
    def row(client: str, day: int, pct: float | None) -> dict:
        return {
            "call__client_id": client,
            "call__client__pseudonym": f"C-{client}",
            "call__created": datetime(2026, 11, day),
            "satisfaction_pct": pct,
        }

    series = client_series([row("a", 1, 50.0), row("a", 2, None), row("a", 3, 80.0), row("b", 4, 90.0)])
    a, b = series
    assert (a["calls"], a["mean"], a["first"], a["last"], a["change"]) == (3, 65.0, 50.0, 80.0, 30.0)
    assert a["values"] == [50.0, None, 80.0]
    assert a["last_call"] == datetime(2026, 11, 3)
    assert (b["calls"], b["change"]) == (1, None)
