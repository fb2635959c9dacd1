"""Report pages, dashboard, trends and the pilot: content, scoping, audit, queries."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from calls.models import Call, CallStatus, Client
from calls.protocol import make_client_token
from engine.analytics import SATISFACTION_FOOTNOTE
from lib.timefmt import format_local
from privacy.models import AuditAction, AuditEvent
from reports import pilot
from reports.models import ClientFeedback
from tests.conftest import PASSWORD
from tests.support.reports import make_call

EXPRESSION_ORDER = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral", "Contempt"]
EXPRESSION_KEYS = [name.lower() for name in EXPRESSION_ORDER]


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def outsider_call(outsider):
    client = Client.objects.create(display_name="Чужой клиент", manager=outsider)
    return make_call(outsider, client, negative=[(10, 20)])


@pytest.fixture
def report_call(manager, client_of_manager):
    now = timezone.now()
    make_call(manager, client_of_manager, created=now - timedelta(days=20), negative=[(5, 60)])
    make_call(manager, client_of_manager, created=now - timedelta(days=10), negative=[(5, 30)])
    return make_call(
        manager,
        client_of_manager,
        created=now - timedelta(days=1),
        seconds=180,
        negative=[(30, 42)],
        happy=[(60, 90)],
        gaps=[(100, 110)],
    )


def _text(response) -> str:
    return response.content.decode()


def test_report_shows_expressions_valences_satisfaction_and_footnote(manager_client, report_call):
    response = manager_client.get(reverse("reports:call_report", args=[report_call.id]))
    assert response.status_code == 200
    html = _text(response)
    table = html[
        html.index('data-testid="expressions"') : html.index("</table>", html.index('data-testid="expressions"'))
    ]
    positions = [table.index(f"<td>{name}</td>") for name in EXPRESSION_ORDER]
    assert positions == sorted(positions)
    for group in ("Positive", "Neutral", "Negative"):
        assert group in html
    assert SATISFACTION_FOOTNOTE.replace("'", "&#x27;") in html
    summary = report_call.report.summary
    assert f"{summary['satisfaction_pct']:.0f}&nbsp;%" in html
    assert report_call.client.pseudonym in html
    # The call's own manager sees the client's name in the header only (tests/calls/test_names.py); the body of
    # the report (facts, charts, comparison) never shows it.
    body = html[html.index("</header>", html.index('class="report-head"')) :]
    assert "Иван Петров" not in body
    assert report_call.client.pseudonym in body


def _table_rows(html: str) -> list[tuple[str, str]]:
    """(data-row, value cell) of each row of the report's satisfaction and expressions table, top to bottom."""
    start = html.index('data-testid="emotions"')
    table = html[start : html.index("</table>", start)]
    return re.findall(r'<tr[^>]*data-row="([a-z]+)"[^>]*>.*?<td class="num"[^>]*>([^<]*)</td>', table, re.S)


def test_report_table_has_satisfaction_then_the_three_shares_then_each_expression(manager_client, design_call):
    html = _text(manager_client.get(reverse("reports:call_report", args=[design_call.id])))
    rows = _table_rows(html)
    assert [key for key, _ in rows] == ["satisfaction", "negative", "neutral", "positive", *EXPRESSION_KEYS]
    # The design's table: 79 % overall for these shares (79.3 with one decimal, as the shares are shown).
    assert rows[:4] == [("satisfaction", "79.3"), ("negative", "15.3"), ("neutral", "52.0"), ("positive", "32.7")]
    assert 'data-row="satisfaction"><td>Overall satisfaction*</td>' in html
    assert 'data-testid="footnote">* ' in html


def test_report_csv_lists_satisfaction_shares_and_expressions_in_the_tables_order(manager_client, design_call):
    response = manager_client.get(reverse("reports:call_report_csv", args=[design_call.id]))
    rows = [r for r in csv.reader(io.StringIO(response.content.decode()))][1:]
    rows = [r for r in rows if r[0] != "call"]
    figures = [(section, item) for section, item, _ in rows if section.endswith("_pct")]
    assert figures == [
        ("satisfaction_pct", "overall"),
        ("valence_pct", "negative"),
        ("valence_pct", "neutral"),
        ("valence_pct", "positive"),
        *[("expression_pct", key) for key in EXPRESSION_KEYS],
    ]
    assert rows[0] == ["satisfaction_pct", "overall", "79.32"]


def test_report_lists_negative_episodes_and_gaps_with_timestamps(manager_client, report_call):
    html = _text(manager_client.get(reverse("reports:call_report", args=[report_call.id])))
    assert "00:30–00:41" in html  # the angry stretch 30-42 s (last sample at 41.5 s)
    assert 'class="episode"' in html
    assert 'class="gap"' in html and "01:40–01:50" in html
    assert "<title" in html and "<desc" in html


def test_report_compares_with_the_clients_previous_calls(manager_client, report_call):
    html = _text(manager_client.get(reverse("reports:call_report", args=[report_call.id])))
    assert 'data-testid="previous"' in html
    table = html[html.index('data-testid="previous"') :]
    assert table.count("<tr>") >= 3  # header + two earlier calls
    assert "points in this call" in html


def test_viewing_and_exporting_a_report_is_audited(manager_client, manager, report_call):
    manager_client.get(reverse("reports:call_report", args=[report_call.id]))
    manager_client.get(reverse("reports:call_report_csv", args=[report_call.id]))
    events = AuditEvent.objects.filter(actor=manager, object_id=str(report_call.report.pk))
    assert set(events.values_list("action", flat=True)) == {AuditAction.VIEW_REPORT, AuditAction.EXPORT_REPORT}


@pytest.mark.parametrize(
    "name",
    ["reports:call_report", "reports:call_report_pdf", "reports:call_report_csv", "reports:call_report_pdf_status"],
)
def test_another_managers_report_is_404(manager_client, outsider_call, name):
    assert manager_client.get(reverse(name, args=[outsider_call.id])).status_code == 404


def test_supervisor_sees_the_team_report_but_not_another_teams(client, supervisor, report_call, outsider_call):
    client.force_login(supervisor)
    assert client.get(reverse("reports:call_report", args=[report_call.id])).status_code == 200
    assert client.get(reverse("reports:call_report", args=[outsider_call.id])).status_code == 404


def test_other_manager_in_the_same_team_cannot_see_the_report(client, other_manager, report_call):
    client.force_login(other_manager)
    assert client.get(reverse("reports:call_report_csv", args=[report_call.id])).status_code == 404


def test_report_csv_has_every_expression_and_neutralises_formulas(client, supervisor):
    evil = User.objects.create_user("=cmd", password=PASSWORD, role=Role.MANAGER, supervisor=supervisor)
    client_obj = Client.objects.create(display_name="X", manager=evil)
    call = make_call(evil, client_obj, negative=[(10, 20)])
    client.force_login(evil)
    response = client.get(reverse("reports:call_report_csv", args=[call.id]))
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert ["call", "manager", "'=cmd"] in rows
    assert {r[1] for r in rows if r[0] == "expression_pct"} == {x.lower() for x in EXPRESSION_ORDER}
    assert any(r[0] == "satisfaction_pct" for r in rows)


# --- dashboard --------------------------------------------------------------------------------------


@pytest.fixture
def team_calls(manager, other_manager, client_of_manager, outsider_call):
    other_client = Client.objects.create(display_name="Клиент Бориса", manager=other_manager)
    now = timezone.now()
    calls = {
        "old_good": make_call(manager, client_of_manager, created=now - timedelta(days=40)),
        "recent_bad": make_call(manager, client_of_manager, created=now - timedelta(days=3), negative=[(0, 80)]),
        "boris": make_call(other_manager, other_client, created=now - timedelta(days=2), negative=[(10, 20)]),
    }
    return calls


def _dashboard(http, **params):
    response = http.get(reverse("reports:dashboard"), params)
    assert response.status_code == 200
    return response


def _call_ids(response) -> set:
    return {r.call_id for r in response.context["page"].object_list}


def test_dashboard_shows_the_team_to_the_supervisor_and_only_own_calls_to_a_manager(
    client, supervisor, manager, team_calls, outsider_call
):
    client.force_login(supervisor)
    assert _call_ids(_dashboard(client)) == {c.id for c in team_calls.values()}
    client.force_login(manager)
    assert _call_ids(_dashboard(client)) == {team_calls["old_good"].id, team_calls["recent_bad"].id}


def test_dashboard_admin_sees_everything(client, admin_user, team_calls, outsider_call):
    client.force_login(admin_user)
    assert outsider_call.id in _call_ids(_dashboard(client))


def test_dashboard_filters(client, supervisor, manager, other_manager, team_calls):
    client.force_login(supervisor)
    start = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert _call_ids(_dashboard(client, start=start)) == {team_calls["recent_bad"].id, team_calls["boris"].id}
    assert _call_ids(_dashboard(client, manager=other_manager.pk)) == {team_calls["boris"].id}
    assert _call_ids(_dashboard(client, client=team_calls["old_good"].client_id)) == {
        team_calls["old_good"].id,
        team_calls["recent_bad"].id,
    }
    assert _call_ids(_dashboard(client, below=50)) == {team_calls["recent_bad"].id}
    assert _call_ids(_dashboard(client, negative="no")) == {team_calls["old_good"].id}
    end = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert _call_ids(_dashboard(client, end=end)) == {team_calls["old_good"].id}


def test_dashboard_rejects_a_manager_outside_the_team_as_a_filter(client, supervisor, outsider, team_calls):
    client.force_login(supervisor)
    response = _dashboard(client, manager=outsider.pk)
    assert response.context["form"].errors and not _call_ids(response)


def test_dashboard_sorting_and_headline(client, supervisor, team_calls):
    client.force_login(supervisor)
    ordered = [r.call_id for r in _dashboard(client, sort="satisfaction").context["page"].object_list]
    assert ordered[0] == team_calls["recent_bad"].id and ordered[-1] == team_calls["old_good"].id
    headline = _dashboard(client).context["headline"]
    assert headline["calls"] == 3
    assert headline["negative_share_pct"] == pytest.approx(200 / 3)
    expected = sum(c.report.satisfaction_pct for c in team_calls.values()) / 3
    assert headline["mean_satisfaction"] == pytest.approx(expected)
    assert "<svg" in _dashboard(client).context["chart_svg"]


def test_dashboard_paginates_without_n_plus_one(
    client, supervisor, manager, client_of_manager, django_assert_max_num_queries
):
    from reports.models import CallReport

    summary = {"satisfaction_pct": 90.0, "valence_pct": {"negative": 10.0}, "negative_episodes": [], "duration_ms": 1}
    now = timezone.now()
    for i in range(60):
        call = Call.objects.create(
            manager=manager, client=client_of_manager, status=CallStatus.ENDED, created=now - timedelta(hours=i)
        )
        CallReport.store(call, summary)
    client.force_login(supervisor)
    with django_assert_max_num_queries(10):
        first = _dashboard(client)
    with django_assert_max_num_queries(10):
        third = _dashboard(client, page=3)
    assert len(first.context["page"].object_list) == 25
    assert len(third.context["page"].object_list) == 10
    assert "Page 3 of 3" in _text(third)


def test_dashboard_csv_export_is_filtered_scoped_and_audited(client, supervisor, team_calls, outsider_call):
    client.force_login(supervisor)
    response = client.get(reverse("reports:dashboard_csv"), {"negative": "yes"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["call_id"] for r in rows} == {str(team_calls["recent_bad"].id), str(team_calls["boris"].id)}
    assert AuditEvent.objects.filter(actor=supervisor, action=AuditAction.EXPORT_REPORT).exists()


# --- trends ------------------------------------------------------------------------------------------


def test_trends_show_managers_by_week_and_month_and_clients(client, supervisor, team_calls, outsider_call):
    client.force_login(supervisor)
    weekly = client.get(reverse("reports:trends"))
    names = {row["name"] for row in weekly.context["manager_rows"]}
    assert names == {"anna", "boris"}
    assert {c["pseudonym"] for c in weekly.context["client_rows"]} == {
        team_calls["old_good"].client.pseudonym,
        team_calls["boris"].client.pseudonym,
    }
    assert outsider_call.client.pseudonym not in _text(weekly)
    monthly = client.get(reverse("reports:trends"), {"period": "month"})
    assert monthly.context["period"] == "month"
    assert 'id="trend-managers"' in _text(monthly)


def test_a_manager_sees_only_own_clients_in_trends(client, manager, team_calls):
    client.force_login(manager)
    response = client.get(reverse("reports:trends"))
    assert [c["pseudonym"] for c in response.context["client_rows"]] == [team_calls["old_good"].client.pseudonym]
    row = response.context["client_rows"][0]
    assert row["calls"] == 2 and row["change"] < 0  # the recent call was worse
    assert client.get(reverse("reports:client_trend", args=[team_calls["boris"].client_id])).status_code == 404
    own = client.get(reverse("reports:client_trend", args=[team_calls["old_good"].client_id]))
    assert own.status_code == 200 and len(own.context["reports"]) == 2


def _svg(html: str, chart_id: str) -> str:
    start = html.index(f'id="{chart_id}"')
    return html[start : html.index("</svg>", start)]


def test_trends_chart_and_table_show_the_same_weeks_gap_month_included(client, supervisor, manager, client_of_manager):
    # A call a week for 21 weeks, but none for five weeks in the middle: 16 weeks with calls. The table and the
    # chart used to keep only the last 12 of them, so the oldest month vanished from both.
    now = timezone.now()
    calls = [
        make_call(manager, client_of_manager, created=now - timedelta(weeks=k), seconds=10)
        for k in range(21)
        if not 8 <= k <= 12
    ]
    mondays = sorted({(d := timezone.localtime(c.created).date()) - timedelta(days=d.weekday()) for c in calls})
    every_week = [mondays[0] + timedelta(weeks=w) for w in range((mondays[-1] - mondays[0]).days // 7 + 1)]
    client.force_login(supervisor)
    response = client.get(reverse("reports:trends"))
    html = _text(response)

    assert response.context["period_labels"] == [format_local(m, "SHORT_DATE_FORMAT") for m in every_week]
    table = html[
        html.index('data-testid="manager-trends"') : html.index("</thead>", html.index('data-testid="manager-trends"'))
    ]
    assert table.count('<th class="num">') == len(every_week) == 21
    cells = response.context["manager_rows"][0]["cells"]
    assert [c is not None for c in cells] == [m in mondays for m in every_week]

    chart = _svg(html, "trend-managers")
    assert sorted(set(re.findall(r'data-x="(\d{4}-\d\d-\d\d)', chart))) == [m.isoformat() for m in mondays]
    assert chart.count('class="no-data"') == 1  # the month without calls, hatched
    assert 'data-testid="earlier-note"' not in html  # nothing left out
    # The client's sparkline has every call, as the table's first, last and mean do.
    spark = _svg(html, f"spark-{client_of_manager.id}")
    assert spark.count("L") + spark.count("M") == len(calls) == 16


def test_trends_say_when_older_calls_are_left_out(client, supervisor, manager, client_of_manager):
    now = timezone.now()
    make_call(manager, client_of_manager, created=now - timedelta(weeks=40), seconds=10)
    make_call(manager, client_of_manager, created=now, seconds=10)
    client.force_login(supervisor)
    html = _text(client.get(reverse("reports:trends")))
    assert "1 earlier call is not shown: the table and the chart begin with" in html
    assert "earlier" not in _text(client.get(reverse("reports:trends"), {"period": "month"}))


def test_the_dashboard_chart_places_days_by_date_and_hatches_days_without_calls(client, supervisor, team_calls):
    client.force_login(supervisor)
    chart = _dashboard(client).context["chart_svg"]
    # Calls 40, 3 and 2 days ago: the 37 days between them are hatched, not bridged by a line.
    assert chart.count('class="no-data"') == 1
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', chart)]
    assert (xs[1] - xs[0]) > 30 * (xs[2] - xs[1])
    assert 'class="chart-title"' in chart


# --- client feedback and the pilot -------------------------------------------------------------------


def test_feedback_form_after_the_call(client, call):
    token = make_client_token(call.id)
    url = reverse("reports:client_feedback", args=[token])
    assert client.get(url).context["state"] == "not_ended"
    Call.objects.filter(pk=call.pk).update(status=CallStatus.ENDED, ended_at=timezone.now())
    assert client.get(url).context["state"] == "form"
    response = client.post(url, {"rating": "2", "upset": "yes", "upset_moment": "про комиссию, минуте на пятой"})
    assert response.status_code == 302
    feedback = ClientFeedback.objects.get(call=call)
    assert (feedback.rating, feedback.upset, feedback.upset_moment) == (2, True, "про комиссию, минуте на пятой")
    client.post(url, {"rating": "5", "upset": "no"})
    assert ClientFeedback.objects.get(call=call).rating == 2  # a second answer changes nothing
    assert client.get(url).context["state"] == "thanks"


def test_feedback_rejects_a_tampered_token_and_an_invalid_rating(client, call):
    assert client.get(reverse("reports:client_feedback", args=[make_client_token(call.id) + "x"])).status_code == 404
    Call.objects.filter(pk=call.pk).update(status=CallStatus.ENDED, ended_at=timezone.now())
    url = reverse("reports:client_feedback", args=[make_client_token(call.id)])
    assert client.post(url, {"rating": "9", "upset": "no"}).status_code == 200
    assert not ClientFeedback.objects.exists()


def test_feedback_link_expires_a_week_after_the_call(client, call):
    Call.objects.filter(pk=call.pk).update(status=CallStatus.ENDED, ended_at=timezone.now() - timedelta(days=8))
    url = reverse("reports:client_feedback", args=[make_client_token(call.id)])
    assert client.get(url).context["state"] == "expired"


def test_pilot_compares_model_with_clients(client, supervisor, manager, client_of_manager, tmp_path, monkeypatch):
    # Model negative & client negative (tp), model negative & client fine (fp), model fine & client upset (fn),
    # both fine (tn) x2.
    cases = [({"negative": [(0, 30)]}, 1, False), ({"negative": [(0, 30)]}, 5, False), ({}, 4, True), ({}, 5, False)]
    cases.append(({}, 4, False))
    for shape, rating, upset in cases:
        c = make_call(manager, client_of_manager, **shape)
        ClientFeedback.objects.create(call=c, rating=rating, upset=upset)
    metrics = tmp_path / "expression.metrics.json"
    metrics.write_text(json.dumps({"f1_negative": 0.6789}))
    monkeypatch.setattr(pilot, "MODEL_METRICS_PATH", metrics)
    client.force_login(supervisor)
    response = client.get(reverse("reports:pilot"))
    stats = response.context["stats"]
    assert (stats["tp"], stats["fp"], stats["fn"], stats["tn"]) == (1, 1, 1, 2)
    assert stats["f1"] == pytest.approx(0.5)
    html = _text(response)
    assert "0.68" in html and "20.0 %" in html  # the model card's F1 and the stated threshold
