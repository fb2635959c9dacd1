"""Starting the Dion side of a call against the fake mutual-TLS Dion: room, chat bot, failures, pasted links."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from calls import protocol as capture
from dion import bot, iapi, services
from dion.models import DionMeeting
from dion.transport import JsonClient, SlidingWindowLimiter, make_ssl_context
from tests.support.dion_fake import BOT_LOGIN, BOT_PASSWORD, IAPI_TOKEN, Scripted

CLIENT_LINK = "https://mimic.bank.example/c/very-secret-token/"


pytestmark = pytest.mark.usefixtures("english")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _context(pki):
    return make_ssl_context(str(pki.ca), str(pki.client_cert), str(pki.client_key))


@pytest.fixture
def dion_settings(settings, dion_server, dion_pki, monkeypatch):
    """Mimic configured for the fake Dion: IAPI with mTLS, the bot with a technical account."""
    iapi.reset_process_limiter(SlidingWindowLimiter([(10, 1.0), (100, 60.0)]))
    bot.reset_token_caches()
    settings.DION_IAPI_URL = dion_server.url
    settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY = str(dion_pki.client_cert), str(dion_pki.client_key)
    settings.DION_CA_BUNDLE = str(dion_pki.ca)
    settings.DION_ACCESS_TOKEN = IAPI_TOKEN
    settings.DION_IAPI_TIMEOUT = 2.0
    settings.DION_BOT_URL = dion_server.url + "/bot"
    settings.DION_BOT_TOKEN = ""
    settings.DION_BOT_AUTH_URL = dion_server.url + "/auth/token"
    settings.DION_BOT_LOGIN, settings.DION_BOT_PASSWORD = BOT_LOGIN, BOT_PASSWORD
    return settings


@pytest.fixture
def dion_call(call):
    call.manager.email = "anna@bank.example"
    call.manager.save(update_fields=["email"])
    return call


def test_it_creates_the_room_and_posts_the_client_link_to_its_chat(dion_settings, dion_server, dion_call):
    outcome = services.start_meeting(dion_call, CLIENT_LINK)

    n = dion_server.rooms
    assert outcome == services.MeetingOutcome(room_url=f"https://dion.example/room-{n}", chat_posted=True, error=None)
    dion_call.refresh_from_db()
    assert dion_call.dion_meeting_url == outcome.room_url
    meeting = DionMeeting.objects.get(call=dion_call)
    assert (meeting.room_id, meeting.chat_id, meeting.chat_posted) == (f"room-{n}", f"chat-{n}", True)

    room_request, token_request, message_request = dion_server.seen
    assert room_request.payload == {
        "name": f"Mimic · {dion_call.client.pseudonym}",  # the pseudonym, never the client's name
        "owner_email": "anna@bank.example",
        "participants": [],
    }
    assert token_request.path == "/auth/token"
    assert message_request.path == f"/bot/chats/chat-{n}/messages"
    assert CLIENT_LINK in message_request.payload["text"]


def test_starting_twice_makes_no_second_room_and_no_second_message(dion_settings, dion_server, dion_call):
    first = services.start_meeting(dion_call, CLIENT_LINK)
    dion_server.reset()
    second = services.start_meeting(dion_call, CLIENT_LINK)
    assert second == first
    assert dion_server.seen == []


def test_a_dion_failure_is_an_error_message_and_the_call_goes_on(dion_settings, dion_server, dion_call):
    dion_server.script.extend(Scripted(503) for _ in range(4))
    dion_settings.DION_IAPI_RETRIES = 1

    outcome = services.start_meeting(dion_call, CLIENT_LINK)

    assert outcome.room_url is None and outcome.chat_posted is False
    assert "Dion did not create the meeting room" in outcome.error and "HTTP 503" in outcome.error
    assert len(dion_server.seen) == 2  # one try plus one retry; no bot message without a room
    assert DionMeeting.objects.get(call=dion_call).error == outcome.error


def test_a_manager_without_dion_account_gets_dions_reason(dion_settings, dion_call):
    dion_call.manager.email = "anna@gmail.example"
    dion_call.manager.save(update_fields=["email"])
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert "no Dion account for anna@gmail.example" in outcome.error


def test_a_manager_without_email_is_told_why(dion_settings, dion_server, call):
    outcome = services.start_meeting(call, CLIENT_LINK)
    assert outcome.room_url is None and "e-mail" in outcome.error
    assert dion_server.seen == []


def test_a_bot_failure_keeps_the_room(dion_settings, dion_server, dion_call):
    dion_settings.DION_BOT_PASSWORD = "wrong"
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert outcome.room_url and outcome.chat_posted is False
    assert "not posted to the meeting chat" in outcome.error
    assert CLIENT_LINK not in outcome.error


def test_unexpected_errors_never_reach_the_caller(dion_settings, dion_call):
    dion_settings.DION_ROOM_PAYLOAD_BUILDER = "tests.dion.test_services.broken_builder"
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert outcome.room_url is None and "failed unexpectedly" in outcome.error


def broken_builder(**kwargs):
    raise RuntimeError("bug in a custom payload builder")


def test_without_dion_configuration_nothing_is_called_and_nothing_is_an_error(settings, dion_server, call):
    settings.DION_IAPI_URL = settings.DION_BOT_URL = ""
    assert services.start_meeting(call, CLIENT_LINK) == services.MeetingOutcome(room_url=None)
    assert dion_server.seen == []


def test_a_pasted_link_is_kept_and_no_room_is_created(dion_settings, dion_server, dion_call):
    services.set_meeting_url(dion_call, "https://dion.example/pasted")
    outcome = services.start_meeting(dion_call, CLIENT_LINK)
    assert outcome.room_url == "https://dion.example/pasted" and outcome.error is None
    assert dion_server.seen == []


def test_the_bot_token_is_cached_until_shortly_before_12_hours(dion_settings, dion_server, dion_pki):
    clock = FakeClock()
    cache = bot.BotTokenCache(bot.fetch_technical_token, clock=clock)
    client = bot.BotClient(
        JsonClient(dion_server.url + "/bot", ssl_context=_context(dion_pki)),
        token=cache.get,
        invalidate=cache.invalidate,
    )

    client.post_message("chat-x", "one")
    clock.now += 11 * 3600
    client.post_message("chat-x", "two")
    assert cache.fetches == 1
    clock.now += 3600 - bot.REFRESH_MARGIN_S  # 12 h minus the margin: refresh before Dion expires it
    client.post_message("chat-x", "three")
    assert cache.fetches == 2
    assert [s.path for s in dion_server.seen].count("/auth/token") == 2


def test_a_revoked_bot_token_is_fetched_again_once(dion_settings, dion_server, dion_pki):
    cache = bot.BotTokenCache(bot.fetch_technical_token)
    client = bot.BotClient(
        JsonClient(
            dion_server.url + "/bot",
            ssl_context=_context(dion_pki),
        ),
        token=cache.get,
        invalidate=cache.invalidate,
    )
    client.post_message("chat-x", "one")
    dion_server.bot_tokens += 1  # Dion revoked the token we hold
    client.post_message("chat-x", "two")
    assert cache.fetches == 2


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


def test_start_call_creates_the_dion_room_and_the_live_page_shows_it(
    dion_settings, dion_server, manager, manager_client, client_of_manager
):
    manager.email = "anna@bank.example"
    manager.save(update_fields=["email"])

    response = _start(manager_client, client_of_manager)

    assert response.status_code == 200
    call = manager.calls.get()
    assert call.status == "live"
    assert call.dion_meeting_url == f"https://dion.example/room-{dion_server.rooms}"
    html = response.content.decode()
    assert f'href="{call.dion_meeting_url}"' in html and 'id="dion-chat-posted"' in html
    message = dion_server.seen[-1]
    client_link = response.context["client_link"]
    # The client link of this call, as on the page's copy button (each is signed when made, so the two can
    # differ in their signing second, never in the call they open).
    posted = re.search(r"https?://\S+/calls/c/(\S+?)/", message.payload["text"])
    assert posted is not None and client_link.startswith(posted.group(0).split("/calls/c/")[0] + "/calls/c/")
    assert capture.call_id_from_token(posted.group(1)) == call.pk
    assert 'id="copy-link"' in html  # the fallback stays


def test_start_call_still_starts_when_dion_fails_and_says_why(
    dion_settings, dion_server, manager, manager_client, client_of_manager
):
    manager.email = "anna@bank.example"
    manager.save(update_fields=["email"])
    dion_settings.DION_IAPI_RETRIES = 0
    dion_server.script.append(Scripted(500, {"message": "internal error"}))

    response = _start(manager_client, client_of_manager)

    call = manager.calls.get()
    assert call.status == "live" and call.dion_meeting_url == ""
    html = response.content.decode()
    assert "Dion did not create the meeting room" in html
    assert 'name="dion_meeting_url"' in html  # the manager can paste the link instead
    assert 'id="copy-link"' in html
