"""Showing an illustration during a live call: both paths mark the interval on the call's timeline, and the
report and the pilot page set the client's reaction beside it."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client as HttpClient
from django.urls import reverse

from calls.lifecycle import start_call
from calls.models import Call, Showing, ShowingSource
from illustrations.models import Illustration, Product, ShareLink
from reports.content import shown_items
from tests.support.live import client_path, communicator, give_consent, receive_json
from tests.support.reports import make_call

pytestmark = pytest.mark.django_db(transaction=True)


def make_illustration(manager, client=None) -> Illustration:
    ill = Illustration.objects.create(
        manager=manager, client=client, client_label="Иван", initial_amount=D(1000000), horizon_years=5
    )
    for i, name in enumerate(("обычный депозит", "золото в слитках")):
        Product.objects.create(illustration=ill, position=i, name=name, rate_pct=10 + i)
    return ill


@pytest.fixture
def live_call(call) -> Call:
    start_call(call)
    give_consent(call)
    call.refresh_from_db()
    return call


def look(url: str, state: str):
    """What the client's page sends (sendBeacon: text/plain, no cookies, no CSRF token)."""
    return HttpClient(enforce_csrf_checks=True).post(url, json.dumps({"state": state}), content_type="text/plain")


def post_as(user, url: str):
    client = HttpClient()
    client.force_login(user)
    return client.post(url, HTTP_ACCEPT="application/json")


# --- the manager's Show ------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_the_managers_show_opens_it_on_the_clients_page_which_marks_the_interval(live_call, manager):
    ill = await database_sync_to_async(make_illustration)(manager)
    socket = communicator(client_path(live_call))
    assert (await socket.connect())[0]
    assert (await receive_json(socket))["t"] == "hello"

    url = reverse("illustrations:show_on_call", args=[live_call.pk, ill.pk])
    response = await sync_to_async(post_as)(manager, url)
    assert response.status_code == 200 and response.json() == {"shown": str(ill.pk)}
    shown = await receive_json(socket)
    assert shown["t"] == "show" and shown["title"] == "обычный депозит, золото в слитках"
    assert "/illustrations/s/" in shown["url"] and shown["svg"].endswith("/illustration.svg")
    # Nothing is marked until the client's page says the picture is on screen.
    assert not await database_sync_to_async(Showing.objects.exists)()

    assert (await sync_to_async(look)(shown["look"], "start")).json() == {"marked": True}
    showing = await database_sync_to_async(Showing.objects.get)()
    assert showing.call_id == live_call.pk and showing.subject == ill.pk
    assert showing.source == ShowingSource.MANAGER and showing.ended_at is None
    # Shown to this client, the illustration now belongs to them (listed on their next calls).
    assert (await database_sync_to_async(Illustration.objects.get)(pk=ill.pk)).client_id == live_call.client_id

    response = await sync_to_async(post_as)(manager, reverse("illustrations:hide_on_call", args=[live_call.pk]))
    assert response.json() == {"shown": None}
    assert (await receive_json(socket)) == {"t": "hide"}
    await sync_to_async(look)(shown["look"], "stop")  # the page's own stop finds nothing left open
    showing = await database_sync_to_async(Showing.objects.get)()
    assert showing.ended_at is not None and showing.ended_at >= showing.started_at
    await socket.disconnect()


def test_a_supervisor_cannot_show_on_a_managers_call(client, supervisor, manager, live_call):
    ill = make_illustration(manager)
    client.force_login(supervisor)
    assert client.post(reverse("illustrations:show_on_call", args=[live_call.pk, ill.pk])).status_code == 404
    assert client.post(reverse("illustrations:hide_on_call", args=[live_call.pk])).status_code == 404


def test_another_managers_illustration_cannot_be_shown(client, manager, other_manager, live_call):
    theirs = make_illustration(other_manager)
    client.force_login(manager)
    assert client.post(reverse("illustrations:show_on_call", args=[live_call.pk, theirs.pk])).status_code == 404


def test_a_forged_call_in_the_look_url_marks_nothing(manager, live_call):
    link = ShareLink.issue(make_illustration(manager))
    url = reverse("illustrations:share_look", args=[link.token]) + f"?c={live_call.pk}"
    assert look(url, "start").json() == {"marked": False}
    assert not Showing.objects.exists()


# --- the client opens the link ---------------------------------------------------------------------------


def test_opening_the_link_during_the_clients_live_call_marks_the_interval(manager, client_of_manager, live_call):
    ill = make_illustration(manager, client=client_of_manager)
    link = ShareLink.issue(ill)
    share_url = link.get_share_url()
    page = HttpClient().get(share_url).content.decode()
    look_url = share_url + "look/"  # the token in the page's URL (a token is signed with the time)
    assert f'"lookUrl": "{look_url}"' in page
    assert look(look_url, "start").json() == {"marked": True}
    assert look(look_url, "start").json() == {"marked": True}  # a reload: still the one showing
    showing = Showing.objects.get()
    assert showing.source == ShowingSource.LINK and showing.call_id == live_call.pk
    assert showing.label == "обычный депозит, золото в слитках"
    look(look_url, "stop")
    showing.refresh_from_db()
    assert showing.ended_at is not None


def test_opening_the_link_outside_a_call_or_before_consent_marks_nothing(manager, client_of_manager, call):
    link = ShareLink.issue(make_illustration(manager, client=client_of_manager))
    look_url = reverse("illustrations:share_look", args=[link.token])
    assert look(look_url, "start").json() == {"marked": False}  # scheduled, not live
    start_call(call)
    assert look(look_url, "start").json() == {"marked": False}  # live, but the client has not consented
    assert not Showing.objects.exists()


@pytest.mark.parametrize("body", ["", "{}", '{"state": "jump"}', "[]", "x" * 300])
def test_bad_looks_get_400(manager, body):
    link = ShareLink.issue(make_illustration(manager))
    url = reverse("illustrations:share_look", args=[link.token])
    assert HttpClient().post(url, body, content_type="text/plain").status_code == 400


def test_a_look_on_a_revoked_link_gets_410(manager):
    link = ShareLink.issue(make_illustration(manager))
    link.revoke()
    assert look(reverse("illustrations:share_look", args=[link.token]), "start").status_code == 410


# --- the report and the pilot page ---------------------------------------------------------------------


def known_call(manager, client):
    """60 s at 2 fps: happy 20–30 s while the illustration was shown, angry 40–50 s, neutral otherwise."""
    call = make_call(manager, client, seconds=60, happy=[(20, 30)], negative=[(40, 50)])
    ill = make_illustration(manager, client=client)
    start = call.started_at
    Showing.objects.create(
        call=call,
        subject=ill.pk,
        label=ill.products_label,
        source=ShowingSource.MANAGER,
        started_at=start + timedelta(seconds=20),
        ended_at=start + timedelta(seconds=30),
    )
    return call, ill


def test_the_reaction_table_of_a_known_timeline(manager, client_of_manager):
    call, ill = known_call(manager, client_of_manager)
    from calls.models import EmotionSample

    (item,) = shown_items(call, *EmotionSample.objects.filter(call=call).timeline())
    assert item["mark"] == "A" and item["subject"] == ill.pk and item["seconds"] == 10
    assert item["intervals"] == [{"start_ms": 20_000, "end_ms": 30_000, "start": "00:20", "end": "00:30"}]
    during, rest = item["rows"]
    assert [v["pct"] for v in during["valences"]] == [0.0, 0.0, 100.0]  # negative, neutral, positive
    assert during["satisfaction_pct"] == 100.0
    assert [v["pct"] for v in rest["valences"]] == [20.0, 80.0, 0.0]
    assert rest["satisfaction_pct"] == pytest.approx(66.67)


def test_the_report_marks_the_interval_on_the_chart_and_shows_the_table(manager, client_of_manager, english):
    call, _ = known_call(manager, client_of_manager)
    client = HttpClient()
    client.force_login(manager)
    html = client.get(reverse("reports:call_report", args=[call.pk])).content.decode()
    assert 'class="shown" data-start-ms="20000" data-end-ms="30000"' in html
    table = html.split('data-testid="shown-A"', 1)[1].split("</table>", 1)[0]
    during = table.split('data-row="during"', 1)[1].split("</tr>", 1)[0]
    rest = table.split('data-row="rest"', 1)[1].split("</tr>", 1)[0]
    assert [cell.split("<", 1)[0] for cell in during.split('<td class="num">')[1:]] == ["0.0", "0.0", "100.0", "100.0"]
    assert [cell.split("<", 1)[0] for cell in rest.split('<td class="num">')[1:]] == ["20.0", "80.0", "0.0", "66.7"]


def test_the_report_csv_lists_the_showing_and_its_satisfaction(manager, client_of_manager):
    call, _ = known_call(manager, client_of_manager)
    client = HttpClient()
    client.force_login(manager)
    csv = client.get(reverse("reports:call_report_csv", args=[call.pk])).content.decode()
    assert "shown,A: обычный депозит, золото в слитках,00:20–00:30" in csv.replace('"', "")
    assert "shown_during,A satisfaction_pct,100.0" in csv and "shown_rest,A satisfaction_pct,66.67" in csv


def test_a_report_without_showings_has_no_such_section(manager, client_of_manager):
    call = make_call(manager, client_of_manager, seconds=20)
    client = HttpClient()
    client.force_login(manager)
    html = client.get(reverse("reports:call_report", args=[call.pk])).content.decode()
    assert 'data-testid="shown"' not in html and 'class="shown"' not in html


def test_the_pilot_page_sets_clarity_beside_the_reaction_while_viewing(manager, client_of_manager, english):
    from illustrations.models import ShareView

    _, ill = known_call(manager, client_of_manager)
    link = ShareLink.issue(ill)
    view = ShareView.objects.create(link=link, opened_at=link.created)
    view.record("slider")
    view.record("rating", 4)
    client = HttpClient()
    client.force_login(manager)
    html = client.get(reverse("illustrations:pilot")).content.decode()
    table = html.split('id="pilot-by-illustration"', 1)[1].split("</table>", 1)[0]
    row, total = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0], table.split("<tfoot>", 1)[1]
    for part in (row, total):
        assert '<td class="num">4.0</td>' in part or '<td class="num">4</td>' in part
        assert '<td class="num" data-valence="positive">100.0</td>' in part
        assert '<td class="num" data-satisfaction="during">100.0</td>' in part
        assert '<td class="num" data-satisfaction="rest">66.7</td>' in part
    assert "обычный депозит, золото в слитках" in row and "All illustrations" in total
