"""The Dion side of a call started in the portal, against the fake mutual-TLS Dion: the meeting, the manager's
direct message with the three links, failures reported (never a blind second POST), pasted links."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from calls import protocol as capture
from dion import services
from dion.models import DionAccount, DionMeeting
from tests.dion.conftest import MANAGER_EMAIL
from tests.support.dion_fake import Scripted

CLIENT_LINK = "https://mimic.bank.example/calls/c/very-secret-token/"


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def dion_call(call, dion_manager):
    return call


@pytest.fixture
def known_to_the_bot(dion_manager):
    """The manager has written to the bot once: Mimic knows her direct chat with it."""
    return DionAccount.objects.create(user=dion_manager, dion_user_id="dion-user-anna", dm_chat_id="777")


def test_it_creates_the_meeting_with_a_neutral_title(dion_settings, dion_server, dion_call):
    outcome = services.start_meeting(dion_call, CLIENT_LINK)

    (event,) = dion_server.events.values()
    assert outcome == services.MeetingOutcome(room_url=event["link"], chat_posted=False, error=None)
    dion_call.refresh_from_db()
    assert dion_call.dion_meeting_url == event["link"]
    assert DionMeeting.objects.get(call=dion_call).room_id == event["id"]
    post = dion_server.requests("POST", "/v1/events")[0]
    # The pseudonym, never the client's name.
    assert post.payload == {"owner_email": MANAGER_EMAIL, "title": f"Mimic · {dion_call.client.pseudonym}"}
    assert "Иван" not in str(post.payload)
    assert dion_server.sent == []  # the bot does not know the manager's chat yet


def test_with_the_bot_it_sends_the_manager_the_three_links(dion_settings, dion_server, dion_call, known_to_the_bot):
    dion_settings.LANGUAGE_CODE = "ru"  # the site's language, which the bot speaks
    outcome = services.start_meeting(dion_call, CLIENT_LINK)

    assert outcome.chat_posted and outcome.error is None
    (message,) = dion_server.sent
    assert message["chat_id"] == 777
    live = f"https://mimic.bank.example/calls/{dion_call.pk}/live/"
    for link in (outcome.room_url, CLIENT_LINK, live):
        assert link in message["text"]
    assert "Встреча в Dion" in message["text"]  # Russian first
    assert DionMeeting.objects.get(call=dion_call).chat_id == "777"


def test_starting_twice_makes_no_second_meeting_and_no_second_message(
    dion_settings, dion_server, dion_call, known_to_the_bot
):
    first = services.start_meeting(dion_call, CLIENT_LINK)
    dion_server.seen.clear()
    second = services.start_meeting(dion_call, CLIENT_LINK)
    assert second == first
    assert dion_server.seen == [] and len(dion_server.sent) == 1


def test_a_5xx_on_post_events_is_reported_and_not_retried(dion_settings, dion_server, dion_call):
    dion_server.script.append(Scripted(502, {"message": "bad gateway"}, method="POST"))

    outcome = services.start_meeting(dion_call, CLIENT_LINK)

    assert outcome.room_url is None
    assert "Dion did not confirm the meeting" in outcome.error and "HTTP 502" in outcome.error
    assert "look in Dion before you create another one" in outcome.error
    assert len(dion_server.requests("POST", "/v1/events")) == 1
    assert DionMeeting.objects.get(call=dion_call).error == outcome.error


def test_a_manager_without_a_dion_account_is_told_so(dion_settings, dion_server, call):
    call.manager.email = "anna@gmail.example"
    call.manager.save(update_fields=["email"])
    outcome = services.start_meeting(call, CLIENT_LINK)
    assert "Dion did not accept anna@gmail.example as the meeting owner" in outcome.error
    assert "signed in to Dion at least once" in outcome.error


def test_a_manager_without_email_is_told_why(dion_settings, dion_server, call):
    outcome = services.start_meeting(call, CLIENT_LINK)
    assert outcome.room_url is None and "e-mail" in outcome.error
    assert dion_server.seen == []


def test_dion_unreachable_is_a_clear_message(dion_settings, dion_call):
    dion_settings.DION_IAPI_URL = "https://127.0.0.1:9/v1"
    dion_settings.DION_IAPI_RETRIES = 1
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert outcome.room_url is None
    assert "Dion cannot be reached" in outcome.error and "paste its link" in outcome.error


def test_a_bot_failure_keeps_the_meeting(dion_settings, dion_server, dion_call, known_to_the_bot):
    dion_settings.DION_BOT_PASSWORD = "wrong"
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert outcome.room_url and outcome.chat_posted is False
    assert "The links were not sent to you in Dion" in outcome.error
    assert CLIENT_LINK not in outcome.error


def test_without_dion_configuration_nothing_is_called_and_nothing_is_an_error(settings, dion_server, call):
    settings.DION_ACCESS_TOKEN = settings.DION_ACCESS_TOKEN_FILE = settings.DION_BOT_EMAIL = ""
    assert services.start_meeting(call, CLIENT_LINK) == services.MeetingOutcome(room_url=None)
    assert dion_server.seen == []


def test_a_pasted_link_is_kept_and_no_meeting_is_created(dion_settings, dion_server, dion_call):
    services.set_meeting_url(dion_call, "https://dion.example/pasted")
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert outcome.room_url == "https://dion.example/pasted" and outcome.error is None
    assert dion_server.seen == []


# The manager pastes the link -----------------------------------------------------------------------------------------


def _link_url(call) -> str:
    return reverse("dion:meeting_link", args=[call.id])


def test_the_manager_pastes_the_meeting_link(manager_client, call):
    response = manager_client.post(_link_url(call), {"dion_meeting_url": "https://dion.example/abc"})
    assert response.status_code == 302 and response["Location"] == call.get_absolute_url()
    call.refresh_from_db()
    assert call.dion_meeting_url == "https://dion.example/abc"
    assert DionMeeting.objects.get(call=call).room_url == "https://dion.example/abc"


def test_another_manager_cannot_set_the_link(client, other_manager, call):
    client.force_login(other_manager)
    response = client.post(_link_url(call), {"dion_meeting_url": "https://dion.example/abc"})
    assert response.status_code == 404
    call.refresh_from_db()
    assert call.dion_meeting_url == ""


@pytest.mark.parametrize("url", ["http://dion.example/abc", "https://evil.example/abc", "not a link"])
def test_only_https_links_to_the_configured_hosts_are_accepted(manager_client, call, settings, url):
    settings.DION_MEETING_HOSTS = ["dion.example"]
    manager_client.post(_link_url(call), {"dion_meeting_url": url})
    call.refresh_from_db()
    assert call.dion_meeting_url == ""


def test_the_redirect_after_saving_stays_on_this_site(manager_client, call):
    response = manager_client.post(
        _link_url(call), {"dion_meeting_url": "https://dion.example/abc", "next": "https://evil.example/"}
    )
    assert response["Location"] == call.get_absolute_url()


def test_the_link_of_an_ended_call_cannot_change(manager_client, call):
    call.status = "ended"
    call.save(update_fields=["status"])
    manager_client.post(_link_url(call), {"dion_meeting_url": "https://dion.example/abc"})
    call.refresh_from_db()
    assert call.dion_meeting_url == ""


def test_the_panel_shows_the_link_the_error_and_the_form_to_the_manager(call, manager, supervisor):
    services.set_meeting_url(call, "https://dion.example/abc")
    DionMeeting.objects.filter(call=call).update(error="Dion is failing (HTTP 503)")
    template = Template("{% load dion %}{% dion_meeting_panel call %}")

    request = RequestFactory().get("/calls/x/")
    request.user = manager
    html = template.render(Context({"call": call, "request": request}))
    assert 'href="https://dion.example/abc"' in html
    assert "Dion is failing (HTTP 503)" in html
    assert reverse("dion:meeting_link", args=[call.id]) in html

    request.user = supervisor
    html = template.render(Context({"call": call, "request": request}))
    assert 'href="https://dion.example/abc"' in html
    assert reverse("dion:meeting_link", args=[call.id]) not in html  # only the call's manager edits it


# Through the manager's "Start call" ----------------------------------------------------------------------------------


def _start(manager_client, client_of_manager):
    return manager_client.post(
        reverse("calls:start_call"), {"client": str(client_of_manager.pk), "capture_fps": "2"}, follow=True
    )


def test_start_call_creates_the_meeting_dms_the_links_and_the_live_page_shows_it(
    dion_settings, dion_server, dion_manager, known_to_the_bot, manager_client, client_of_manager
):
    response = _start(manager_client, client_of_manager)

    assert response.status_code == 200
    call = dion_manager.calls.get()
    assert call.status == "live"
    (event,) = dion_server.events.values()
    assert call.dion_meeting_url == event["link"]
    html = response.content.decode()
    assert f'href="{call.dion_meeting_url}"' in html and 'id="dion-chat-posted"' in html
    (message,) = dion_server.sent
    # The client link of this call, as on the page's copy button (each is signed when made, so the two can
    # differ in their signing second, never in the call they open).
    posted = re.search(r"https?://\S+/calls/c/(\S+?)/", message["text"])
    assert posted is not None and capture.call_id_from_token(posted.group(1)) == call.pk
    assert f"/calls/{call.pk}/live/" in message["text"] and call.dion_meeting_url in message["text"]
    assert 'id="copy-link"' in html  # the fallback stays


def test_start_call_still_starts_when_dion_is_unreachable(
    dion_settings, dion_manager, manager_client, client_of_manager
):
    dion_settings.DION_IAPI_URL = "https://127.0.0.1:9/v1"
    dion_settings.DION_IAPI_RETRIES = 0

    response = _start(manager_client, client_of_manager)

    call = dion_manager.calls.get()
    assert call.status == "live" and call.dion_meeting_url == ""
    html = response.content.decode()
    assert "Dion cannot be reached" in html
    assert 'name="dion_meeting_url"' in html  # the manager can paste the link instead
    assert 'id="copy-link"' in html


def test_start_call_reports_a_5xx_without_a_second_post(
    dion_settings, dion_server, dion_manager, manager_client, client_of_manager
):
    dion_server.script.append(Scripted(500, {"message": "internal error"}, method="POST"))

    response = _start(manager_client, client_of_manager)

    assert dion_manager.calls.get().status == "live"
    assert "Dion did not confirm the meeting" in response.content.decode()
    assert len(dion_server.requests("POST", "/v1/events")) == 1
