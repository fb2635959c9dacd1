"""'Send to the client in Dion': a link a page showed its manager goes into one of the manager's chats with the
bot, and only such a link, only by that manager, only into their chats (fake Dion with mutual TLS)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from dion import bot, services
from dion.models import BotChat
from dion.worker import BotWorker
from tests.dion.conftest import MANAGER_DION_ID

SHARE_URL = "https://mimic.bank.example/i/s/share-token/"
pytestmark = pytest.mark.usefixtures("english")


def _form(user, url: str = SHARE_URL) -> str:
    request = RequestFactory().get("/illustrations/1/")
    request.user = user
    return Template("{% load dion %}{% dion_send_link_form url %}").render(
        Context({"request": request, "url": url, "csrf_token": "x"})
    )


@pytest.fixture
def group_chat(dion_settings, dion_server, dion_manager) -> BotChat:
    """The manager added the bot to the chat with the client and wrote /help there."""
    dion_server.message("/help", sender=MANAGER_DION_ID, chat_id=-300, chat_type="group")
    BotWorker(bot.client_from_settings()).run_once()
    dion_server.sent.clear()
    return BotChat.objects.get(manager=dion_manager)


def test_writing_to_the_bot_in_a_chat_makes_it_one_the_manager_can_send_to(group_chat):
    assert (group_chat.chat_id, group_chat.type, group_chat.name) == ("-300", "group", "Mimic")


def test_the_manager_sends_a_link_shown_to_them_into_their_chat(group_chat, dion_server, dion_manager, client):
    client.force_login(dion_manager)
    html = _form(dion_manager)
    token = html.split('name="link" value="')[1].split('"')[0]

    response = client.post(reverse("dion:send_link"), {"link": token, "chat": group_chat.pk, "next": "/illustrations/"})

    assert response.status_code == 302 and response["Location"] == "/illustrations/"
    (message,) = dion_server.sent
    assert message["chat_id"] == -300 and SHARE_URL in message["text"]


def test_a_link_signed_for_someone_else_or_a_chat_of_someone_else_is_refused(
    group_chat, dion_server, dion_manager, other_manager, client
):
    client.force_login(other_manager)
    token = services.sign_link(dion_manager.pk, SHARE_URL)
    client.post(reverse("dion:send_link"), {"link": token, "chat": group_chat.pk})
    own = services.sign_link(other_manager.pk, SHARE_URL)
    client.post(reverse("dion:send_link"), {"link": own, "chat": group_chat.pk})  # not their chat
    client.force_login(dion_manager)
    client.post(reverse("dion:send_link"), {"link": "forged", "chat": group_chat.pk})
    assert dion_server.sent == []


def test_the_form_lists_the_chats_or_says_how_to_get_one_and_is_absent_without_the_bot(
    dion_settings, group_chat, dion_manager, other_manager
):
    assert "Send to the client in Dion" in _form(dion_manager) and "Mimic" in _form(dion_manager)
    assert "add the Mimic bot to that chat" in _form(other_manager)
    dion_settings.DION_BOT_EMAIL = ""
    assert _form(dion_manager).strip() == ""


def test_the_illustration_page_offers_its_owner_to_send_each_active_link_in_dion(
    group_chat, dion_manager, other_manager, client
):
    from tests.illustrations.test_showing import make_illustration

    illustration = make_illustration(dion_manager)
    client.force_login(dion_manager)
    client.post(reverse("illustrations:share_create", args=[illustration.pk]), {"days": 7})
    page = client.get(reverse("illustrations:detail", args=[illustration.pk])).content.decode()
    assert reverse("dion:send_link") in page and 'name="chat"' in page
    client.force_login(other_manager)  # not theirs: no such page at all
    assert client.get(reverse("illustrations:detail", args=[illustration.pk])).status_code == 404
