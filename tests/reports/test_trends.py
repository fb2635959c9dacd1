"""The trend maths behind the dashboard chart and the trends page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from reports.trends import calendar_periods, client_series, fold_weekly, manager_grid, shift_period


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


def test_calendar_periods_keep_empty_weeks_and_months_across_a_year() -> None:
    assert calendar_periods(date(2026, 8, 3), date(2026, 8, 31), "week") == [
        date(2026, 8, 3),
        date(2026, 8, 10),
        date(2026, 8, 17),
        date(2026, 8, 24),
        date(2026, 8, 31),
    ]
    assert calendar_periods(date(2026, 11, 1), date(2027, 2, 1), "month") == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    assert shift_period(date(2027, 1, 1), "month", -2) == date(2026, 11, 1)


def test_the_calendar_grid_shows_every_period_with_the_gap_and_keeps_the_oldest() -> None:
    # 14 weeks with calls over 18 calendar weeks (a month without any): the old grid kept the last 12 weeks
    # with calls and silently dropped August's first two.
    weeks = [w for w in range(18) if not 5 <= w <= 8]
    rows = [
        {"call__manager": 1, "period": date(2026, 8, 3) + timedelta(weeks=w), "mean": 70.0, "calls": 1} for w in weeks
    ]
    periods, cells = manager_grid(rows, last=26, period="week")
    assert periods == [date(2026, 8, 3) + timedelta(weeks=w) for w in range(18)]
    assert [p in cells[1] for p in periods] == [not 5 <= w <= 8 for w in range(18)]
    # At most ``last`` calendar periods, ending with the latest.
    periods, _cells = manager_grid(rows, last=4, period="week")
    assert periods == [date(2026, 8, 3) + timedelta(weeks=w) for w in range(14, 18)]


def test_the_calendar_grid_works_on_time_zone_aware_periods() -> None:
    tz = ZoneInfo("Europe/Berlin")  # with a daylight-saving change on 25 October 2026
    rows = [
        {"call__manager": 1, "period": datetime(2026, 10, 19, tzinfo=tz), "mean": 50.0, "calls": 1},
        {"call__manager": 1, "period": datetime(2026, 11, 2, tzinfo=tz), "mean": 60.0, "calls": 1},
    ]
    periods, cells = manager_grid(rows, period="week")
    assert periods == [datetime(2026, 10, d, tzinfo=tz) for d in (19, 26)] + [datetime(2026, 11, 2, tzinfo=tz)]
    assert all(p.hour == 0 for p in periods) and periods[-1] in cells[1]
