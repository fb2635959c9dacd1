"""One clock, one duration (lib/timefmt.py, webapp/formats/): every page writes a date and a time in the chosen
language's one format, in the site's zone; the CSVs name that zone; a call has one duration everywhere."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from calls.lifecycle import give_consent
from calls.models import Call, CallStatus, Consent, Notification
from calls.protocol import make_client_token
from illustrations.models import Illustration, ShareLink
from lib.timefmt import csv_datetime, duration_seconds, format_duration
from reports.models import CallReport
from tests.support.reports import make_call

# 11:05:09 UTC is 14:05:09 in Moscow (the site's zone, settings.TIME_ZONE).
MOMENT = datetime(2025, 11, 15, 11, 5, 9, tzinfo=UTC)
SHOWN = {"ru": "15.11.2025 14:05", "en": "15 Nov 2025, 14:05"}
WITH_SECONDS = {"ru": "15.11.2025 14:05:09", "en": "15 Nov 2025, 14:05:09"}
ADHOC = ("2025-11-15", "15.11.25", "15 ноября 2025", "11:05")  # the old ad-hoc formats, and UTC's clock


@pytest.fixture(params=["ru", "en"])
def language(request, client):
    """Russian unless chosen; English by the language switch's cookie (Accept-Language is ignored)."""
    if request.param == "en":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return request.param


def _html(http, url: str, **params) -> str:
    response = http.get(url, params)
    assert response.status_code == 200, url
    return response.content.decode()


def _visible(html: str) -> str:
    """What the reader sees: text and tooltips, not tags and their machine-readable attributes (data-x)."""
    return re.sub(r"<[^>]*>", " ", re.sub(r"<script\b.*?</script>", " ", html, flags=re.S))


def _assert_one_format(html: str, language: str, shown: dict = SHOWN) -> None:
    html = _visible(html)
    assert shown[language] in html
    other = "en" if language == "ru" else "ru"
    assert shown[other] not in html
    for adhoc in ADHOC:
        assert adhoc not in html


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- dates and times on the pages -----------------------------------------------------------------


@pytest.fixture
def dated_call(manager, client_of_manager):
    return make_call(manager, client_of_manager, created=MOMENT, seconds=30)


@pytest.mark.parametrize(
    "page",
    [
        "calls:call_list",
        "calls:call_detail",
        "reports:call_report",
        "reports:dashboard",
        "reports:client_trend",
    ],
)
def test_call_pages_show_the_date_in_the_languages_one_format_and_the_sites_zone(
    client, manager, dated_call, language, page
):
    client.force_login(manager)
    args = {
        "calls:call_list": [],
        "calls:call_detail": [dated_call.id],
        "reports:call_report": [dated_call.id],
        "reports:dashboard": [],
        "reports:client_trend": [dated_call.client_id],
    }[page]
    _assert_one_format(_html(client, reverse(page, args=args)), language)


def test_the_report_compares_with_earlier_calls_in_the_same_format(
    client, manager, client_of_manager, dated_call, language
):
    later = make_call(manager, client_of_manager, created=MOMENT + timedelta(days=3))
    client.force_login(manager)
    html = _html(client, reverse("reports:call_report", args=[later.id]))
    table = html[html.index('data-testid="previous"') :]
    assert SHOWN[language] in table


def test_the_call_page_shows_start_and_end_in_the_same_format(client, manager, dated_call, language):
    client.force_login(manager)
    html = _html(client, reverse("calls:call_detail", args=[dated_call.id]))
    ended = {"ru": "15.11.2025 14:05", "en": "15 Nov 2025, 14:05"}  # 30 s later, the same minute
    assert html.count(SHOWN[language]) >= 1 and html.count(ended[language]) >= 2


def test_trends_label_weeks_by_their_monday_and_months_in_the_languages_format(client, manager, dated_call, language):
    client.force_login(manager)
    weekly = _html(client, reverse("reports:trends"))
    monthly = _html(client, reverse("reports:trends"), period="month")
    week = {"ru": "10.11.2025", "en": "10 Nov 2025"}[language]
    month = {"ru": "11.2025", "en": "Nov 2025"}[language]
    assert f'<th class="num">{week}</th>' in weekly
    assert f'<th class="num">{month}</th>' in monthly


def test_notifications_show_the_date_in_the_languages_format(client, manager, language):
    Notification.objects.create(user=manager, message="Отчёт готов", created=MOMENT)
    client.force_login(manager)
    _assert_one_format(_html(client, reverse("calls:notifications")), language)


def test_illustrations_list_shows_dates_in_the_languages_format_and_the_sites_zone(client, manager, language):
    ill = Illustration.objects.create(
        manager=manager, client_label="Иван", initial_amount=1000000, monthly_topup=0, horizon_years=10
    )
    Illustration.objects.filter(pk=ill.pk).update(created=MOMENT)
    link = ShareLink.issue(ill)
    # 21:30 UTC on the 15th is already the 16th in Moscow.
    ShareLink.objects.filter(pk=link.pk).update(expires_at=datetime(2025, 11, 15, 21, 30, tzinfo=UTC))
    client.force_login(manager)
    html = _html(client, reverse("illustrations:list"))
    _assert_one_format(html, language)
    assert {"ru": "16.11.2025", "en": "16 Nov 2025"}[language] in html


def test_consent_record_shows_the_moments_with_seconds_in_the_languages_format(client, call, language):
    Call.objects.filter(pk=call.pk).update(status=CallStatus.LIVE, created=MOMENT, started_at=MOMENT)
    consent = give_consent(call, "ru")
    Consent.objects.filter(pk=consent.pk).update(given_at=MOMENT, withdrawn_at=MOMENT + timedelta(minutes=1))
    html = _html(client, reverse("calls:client_consent_record", args=[make_client_token(call.id)]))
    _assert_one_format(html, language)
    assert WITH_SECONDS[language] in html
    withdrawn = {"ru": "15.11.2025 14:06:09", "en": "15 Nov 2025, 14:06:09"}[language]
    assert withdrawn in html


# --- CSV exports: the site's zone, named in the header --------------------------------------------


def test_dashboard_csv_names_the_zone_and_writes_the_moment_in_it(client, manager, dated_call):
    client.force_login(manager)
    header, *rows = _csv(client.get(reverse("reports:dashboard_csv")))
    assert header[1] == "date (Europe/Moscow)"
    assert [r[1] for r in rows] == ["2025-11-15T14:05:09+03:00"]


def test_report_csv_names_the_zone_and_writes_the_moment_in_it(client, manager, dated_call):
    client.force_login(manager)
    rows = _csv(client.get(reverse("reports:call_report_csv", args=[dated_call.id])))
    assert ["call", "date (Europe/Moscow)", "2025-11-15T14:05:09+03:00"] in rows


def test_csvs_follow_the_sites_zone_setting(client, manager, dated_call, settings):
    settings.TIME_ZONE = "Asia/Vladivostok"
    client.force_login(manager)
    header, *rows = _csv(client.get(reverse("reports:dashboard_csv")))
    assert header[1] == "date (Asia/Vladivostok)" and rows[0][1] == "2025-11-15T21:05:09+10:00"
    report_rows = _csv(client.get(reverse("reports:call_report_csv", args=[dated_call.id])))
    assert ["call", "date (Asia/Vladivostok)", "2025-11-15T21:05:09+10:00"] in report_rows


# --- one duration ---------------------------------------------------------------------------------


def _durations(http, call: Call) -> tuple[str, str, str, int, int]:
    """The call's duration on the report (headline and facts), on the dashboard, in the report's CSV and in the
    dashboard's CSV, in English (the labels are looked for)."""
    http.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    report = _html(http, reverse("reports:call_report", args=[call.id]))
    (headline,) = re.findall(r'<span class="kpi-value">([^<]*)</span><span class="kpi-label">Duration</span>', report)
    (fact,) = re.findall(r"<dt>Duration</dt><dd>([^<]*)</dd>", report)
    dashboard = _html(http, reverse("reports:dashboard"))
    link = f'href="{reverse("reports:call_report", args=[call.id])}"'
    (row,) = [tr for tr in dashboard.split("<tr>") if link in tr]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    report_csv = {(r[0], r[1]): r[2] for r in _csv(http.get(reverse("reports:call_report_csv", args=[call.id])))}
    header, *rows = _csv(http.get(reverse("reports:dashboard_csv")))
    (dash_row,) = [dict(zip(header, r, strict=True)) for r in rows if r[0] == str(call.id)]
    return headline, fact, cells[3], int(report_csv[("call", "duration_s")]), int(dash_row["duration_s"])


def test_a_call_has_one_duration_on_the_report_the_dashboard_and_both_csvs(client, manager, client_of_manager):
    # 55 s of analysed frames, but the call ran 49.6 s from start to end: the call's own times win.
    call = make_call(manager, client_of_manager, seconds=55)
    Call.objects.filter(pk=call.pk).update(ended_at=call.started_at + timedelta(milliseconds=49_600))
    client.force_login(manager)
    assert _durations(client, call) == ("00:49", "00:49", "00:49", 49, 49)


def test_without_start_and_end_the_duration_is_the_analysed_timelines(client, manager, client_of_manager):
    call = Call.objects.create(manager=manager, client=client_of_manager, status=CallStatus.ENDED)
    CallReport.store(call, {"satisfaction_pct": 80.0, "negative_episodes": [], "duration_ms": 3_725_400})
    client.force_login(manager)
    assert _durations(client, call) == ("1:02:05", "1:02:05", "1:02:05", 3725, 3725)


def test_durations_are_whole_seconds_shown_as_minutes_and_seconds_or_hours():
    assert [format_duration(ms) for ms in (None, 0, 999, 49_600, 600_000, 3_599_999, 3_600_000)] == [
        "—",
        "00:00",
        "00:00",
        "00:49",
        "10:00",
        "59:59",
        "1:00:00",
    ]
    assert [duration_seconds(ms) for ms in (None, 999, 49_600, 3_725_400)] == [None, 0, 49, 3725]
    assert csv_datetime(None) == "" and csv_datetime(MOMENT) == "2025-11-15T14:05:09+03:00"
