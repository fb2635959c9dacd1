"""The Mimic bot in Dion chats, against the fake Dion (mutual TLS, the documented bot API): one command from the
manager gives the call, the meeting and three working links; strangers get nothing; restarts neither lose nor
repeat an update; an expired bot token is fetched again once."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from calls.models import Call, CallStatus, Client
from dion import bot
from dion.models import BotUpdate, DionAccount, DionMeeting
from dion.worker import BotWorker, parse_command
from tests.dion.conftest import MANAGER_DION_ID, MANAGER_EMAIL
from tests.support.dion_fake import Scripted

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker(dion_settings) -> BotWorker:
    return BotWorker(bot.client_from_settings(), sleep=lambda s: None)


def _sent_texts(server) -> list[str]:
    return [m["text"] for m in server.sent]


def test_call_command_gives_the_meeting_the_client_link_and_the_live_page_in_one_answer(
    worker, dion_server, dion_manager, client_of_manager, client, manager_client
):
    dion_server.message("/call Иван Петров", sender=MANAGER_DION_ID, chat_id=501)

    assert worker.run_once() == 1

    call = Call.objects.get()
    assert (call.manager, call.client, call.status) == (dion_manager, client_of_manager, CallStatus.LIVE)
    # The order: who wrote -> Dion account's e-mail -> the call's meeting (owner: that e-mail) -> the answer.
    lookups = dion_server.requests("GET", "/v1/user/")
    assert [s.route for s in lookups] == [f"/v1/user/{MANAGER_DION_ID}"]
    (post,) = dion_server.requests("POST", "/v1/events")
    assert post.payload == {"owner_email": MANAGER_EMAIL, "title": f"Mimic · {client_of_manager.pseudonym}"}
    assert dion_server.seen.index(lookups[0]) < dion_server.seen.index(post)
    (event,) = dion_server.events.values()
    assert call.dion_meeting_url == event["link"]

    (answer,) = dion_server.sent  # one answer, in the chat the command came from (no second direct message)
    assert answer["chat_id"] == 501
    text = answer["text"]
    assert "Встреча в Dion" in text and event["link"] in text
    client_link = next(w for w in text.split() if "/calls/c/" in w)
    live_link = next(w for w in text.split() if w.endswith(f"/calls/{call.pk}/live/"))
    assert client_link.startswith("https://mimic.bank.example/") and live_link.startswith("https://mimic.bank.example/")
    assert "Иван" not in text  # the client's name stays in Mimic

    # The links work: the client's opens the consent page, the manager's shows the live call.
    consent_page = client.get(client_link.removeprefix("https://mimic.bank.example"))
    assert consent_page.status_code == 200 and 'name="agree"' in consent_page.content.decode()
    live_page = manager_client.get(live_link.removeprefix("https://mimic.bank.example"))
    assert live_page.status_code == 200 and live_page.context["call"] == call
    assert DionMeeting.objects.get(call=call).chat_id == "501"
    assert DionAccount.objects.get(user=dion_manager).dm_chat_id == "501"


def test_the_russian_command_without_a_label_makes_a_new_client(worker, dion_server, dion_manager):
    dion_server.message("/звонок", sender=MANAGER_DION_ID)
    worker.run_once()
    call = Call.objects.get()
    assert call.client.display_name == "Клиент из Dion" and call.status == CallStatus.LIVE
    assert len(dion_server.sent) == 1


def test_a_sender_unknown_to_dion_is_refused_and_nothing_is_created(worker, dion_server, dion_manager):
    dion_server.message("/call Иван", sender="dion-user-stranger", chat_id=502)

    worker.run_once()

    (answer,) = dion_server.sent
    assert answer["chat_id"] == 502 and "Извините" in answer["text"] and "Ничего не создано" in answer["text"]
    assert not Call.objects.exists() and not Client.objects.exists()
    assert dion_server.requests("POST", "/v1/events") == []


def test_a_dion_user_who_is_not_a_mimic_manager_is_refused_and_nothing_is_created(
    worker, dion_server, dion_manager, supervisor
):
    supervisor.email = "svetlana@bank.example"
    supervisor.save(update_fields=["email"])
    dion_server.add_user("dion-user-svetlana", "svetlana@bank.example")
    dion_server.add_user("dion-user-olga", "olga@bank.example")
    dion_server.message("/call", sender="dion-user-svetlana")
    dion_server.message("/call", sender="dion-user-olga")

    assert worker.run_once() == 2

    assert len(dion_server.sent) == 2 and all("Извините" in t for t in _sent_texts(dion_server))
    assert not Call.objects.exists() and not DionAccount.objects.exists()
    assert dion_server.requests("POST", "/v1/events") == []


def test_a_restart_asks_from_the_stored_offset_and_ignores_a_repeated_update(dion_settings, dion_server, dion_manager):
    update = dion_server.message("/call", sender=MANAGER_DION_ID)
    BotWorker(bot.client_from_settings()).run_once()
    assert Call.objects.count() == 1

    # A new process: the offset comes from the database. Dion sends the same update again all the same.
    bot.reset_token_caches()
    dion_server.script.append(Scripted(200, {"ok": True, "result": [update]}, path="/chats/v2/getUpdates"))
    restarted = BotWorker(bot.client_from_settings())
    assert restarted.run_once() == 0

    (get_updates, *_rest) = [s for s in dion_server.requests("POST", "/chats/v2/getUpdates")][1:]
    assert get_updates.payload["offset"] == update["update_id"] + 1
    assert get_updates.payload["allowed_updates"] == ["message"]
    assert Call.objects.count() == 1 and len(dion_server.sent) == 1
    # And the next new update is not lost.
    dion_server.message("/help", sender=MANAGER_DION_ID)
    assert restarted.run_once() == 1
    assert len(dion_server.sent) == 2


def test_a_command_cut_off_by_a_crash_is_not_run_twice_and_the_sender_is_told(worker, dion_server, dion_manager):
    update = dion_server.message("/call", sender=MANAGER_DION_ID, chat_id=503)
    BotUpdate.objects.create(update_id=update["update_id"], chat_id="503")  # claimed, never handled

    assert worker.run_once() == 0

    (answer,) = dion_server.sent
    assert answer["chat_id"] == 503 and "перезапустился" in answer["text"]
    assert not Call.objects.exists()
    assert BotUpdate.objects.get().handled_at is not None


def test_a_bot_token_expiring_mid_run_is_fetched_again_once(worker, dion_server, dion_manager):
    dion_server.message("/help", sender=MANAGER_DION_ID)
    worker.run_once()
    assert dion_server.bot_tokens == ["bot-1"]

    dion_server.expire_bot_token()  # Dion ended the token before its 12 h
    dion_server.message("/help", sender=MANAGER_DION_ID)
    assert worker.run_once() == 1

    assert dion_server.bot_tokens == ["bot-1", "bot-2"]
    assert len(dion_server.requests("POST", "/platform/v1/token")) == 2
    assert len(dion_server.sent) == 2
    refused = [s for s in dion_server.requests("POST", "/chats/v2/") if s.headers["Authorization"] == "Bearer bot-1"]
    assert refused[-1].route == "/chats/v2/getUpdates"  # the one request refused, then repeated with bot-2


def test_a_token_that_stays_refused_is_an_error_not_a_loop(worker, dion_server, dion_settings):
    worker.run_once()
    dion_server.script.extend(Scripted(401, {"ok": False, "description": "Unauthorized"}) for _ in range(2))
    with pytest.raises(bot.DionError) as err:
        worker.run_once()
    assert err.value.status == 401
    assert len(dion_server.requests("POST", "/platform/v1/token")) == 2  # one refresh, no more


def test_the_bot_token_is_cached_until_shortly_before_12_hours(dion_settings):
    clock = [1_000.0]
    fetched = []
    cache = bot.BotTokenCache(lambda: (fetched.append(1), (f"t{len(fetched)}", None))[1], clock=lambda: clock[0])
    assert cache.get() == "t1"
    clock[0] += 11 * 3600
    assert cache.get() == "t1"
    clock[0] += 3600 - bot.REFRESH_MARGIN_S  # 12 h minus the margin: refresh before Dion expires it
    assert cache.get() == "t2"


def test_setup_tells_dion_the_settings_and_the_commands_in_russian(worker, dion_server):
    me = worker.setup()
    assert me == {"id": "bot-1", "name": "Mimic"}
    assert dion_server.bot_settings == {"can_send_dm": True, "can_join_groups": True, "can_join_channels": False}
    commands = {c["command"]: c["description"] for c in dion_server.bot_commands}
    assert set(commands) == {"call", "meeting", "end", "help"}
    assert commands["call"].startswith("Начать звонок")


def test_end_ends_the_managers_running_call_and_points_at_the_report(worker, dion_server, dion_manager, eager_celery):
    dion_server.message("/call", sender=MANAGER_DION_ID)
    worker.run_once()
    call = Call.objects.get()
    dion_server.message("/end", sender=MANAGER_DION_ID)

    worker.run_once()

    call.refresh_from_db()
    assert call.status == CallStatus.ENDED
    assert "завершён" in dion_server.sent[-1]["text"]
    assert reverse("reports:call_report", args=[call.pk]) in dion_server.sent[-1]["text"]
    dion_server.message("/end", sender=MANAGER_DION_ID)
    worker.run_once()
    assert dion_server.sent[-1]["text"] == "У вас нет текущего звонка."


def test_help_and_plain_text_explain_the_commands(worker, dion_server):
    dion_server.message("/help", sender="anyone")
    dion_server.message("hello", sender="anyone")
    worker.run_once()
    assert len(dion_server.sent) == 2
    assert all("/call" in t and "/end" in t for t in _sent_texts(dion_server))


def test_in_a_group_chat_the_answer_goes_to_the_group_and_no_direct_chat_is_recorded(worker, dion_server, dion_manager):
    dion_server.message("/call@mimic_bot", sender=MANAGER_DION_ID, chat_id=900, chat_type="group")
    worker.run_once()
    assert [m["chat_id"] for m in dion_server.sent] == [900]
    assert DionAccount.objects.get(user=dion_manager).dm_chat_id == ""


def test_a_5xx_on_post_events_is_reported_in_the_answer_and_not_retried(worker, dion_server, dion_manager):
    dion_server.script.append(Scripted(503, {"message": "try later"}, method="POST", path="/v1/events"))
    dion_server.message("/call", sender=MANAGER_DION_ID)

    worker.run_once()

    assert len(dion_server.requests("POST", "/v1/events")) == 1
    call = Call.objects.get()
    assert call.status == CallStatus.LIVE and call.dion_meeting_url == ""
    (answer,) = dion_server.sent
    assert "Dion не подтвердил создание встречи" in answer["text"]
    assert "/calls/c/" in answer["text"]  # the call goes on: the client link is there
    assert "/meeting" in answer["text"]


def test_the_manager_retries_the_meeting_with_one_command_and_only_once(worker, dion_server, dion_manager):
    dion_server.script.append(Scripted(504, method="POST", path="/v1/events"))
    dion_server.message("/call", sender=MANAGER_DION_ID)
    worker.run_once()
    call = Call.objects.get()

    dion_server.message("/meeting", sender=MANAGER_DION_ID)
    worker.run_once()

    assert len(dion_server.requests("POST", "/v1/events")) == 2  # the failed one and the manager's retry
    (event,) = dion_server.events.values()
    call.refresh_from_db()
    assert call.dion_meeting_url == event["link"] and event["link"] in dion_server.sent[-1]["text"]
    assert DionMeeting.objects.get(call=call).error == ""
    dion_server.message("/встреча", sender=MANAGER_DION_ID)  # already has one: no third meeting
    worker.run_once()
    assert len(dion_server.requests("POST", "/v1/events")) == 2
    assert event["link"] in dion_server.sent[-1]["text"]


def test_a_429_on_get_updates_waits_for_its_retry_after(worker, dion_server, monkeypatch):
    slept = []
    worker.client.transport.sleep = slept.append
    dion_server.script.append(Scripted(429, {"ok": False}, headers={"Retry-After": "3"}, path="/chats/v2/getUpdates"))
    dion_server.message("/help", sender="anyone")
    assert worker.run_once() == 1
    assert slept == [3.0]


def test_manage_py_dion_bot_once_handles_one_batch(dion_settings, dion_server, dion_manager, capsys):
    dion_server.message("/call", sender=MANAGER_DION_ID)
    call_command("dion_bot", "--once")
    assert Call.objects.count() == 1 and len(dion_server.sent) == 1
    assert "1 new update(s)" in capsys.readouterr().out


def test_manage_py_dion_bot_without_configuration_says_what_to_set(settings):
    from django.core.management.base import CommandError

    settings.DION_BOT_EMAIL = ""
    with pytest.raises(CommandError, match="DION_BOT_EMAIL"):
        call_command("dion_bot", "--once")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("/call Иван Петров", ("call", "Иван Петров")), ("/ЗВОНОК", ("звонок", "")), ("/end@mimic", ("end", ""))],
)
def test_commands_are_parsed_with_their_argument(text, parsed):
    assert parse_command(text) == parsed
    assert parse_command("call me") is None
