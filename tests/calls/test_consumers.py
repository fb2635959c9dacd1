"""The live sockets: who may connect, what frames are accepted, and what happens to them.

Runs embedded (tasks eager in the consumer's worker thread) or, with REDIS_URL, against a real
Celery worker subprocess (see tests/live_support.py).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core import mail, signing
from django.test import Client as HttpClient

from calls import protocol as capture
from calls.models import Call, CallStatus, EmotionSample, Notification
from calls.protocol import CloseCode
from privacy.models import AuditAction, AuditEvent
from reports.models import CallReport
from tests.support.live import (
    browser_like_jpeg,
    client_path,
    communicator,
    count,
    eventually,
    expect_close,
    frame_message,
    give_consent,
    manager_path,
    not_jpeg_png,
    receive_json,
    replies_until,
    session_cookie,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def manager_cookie(manager) -> str:
    return session_cookie(manager)


async def connect_client(call, **kwargs):
    comm = communicator(client_path(call, **kwargs))
    connected, _ = await comm.connect()
    assert connected
    hello = await receive_json(comm)
    assert hello["t"] == "hello"
    return comm, hello


async def connect_manager(call, cookie):
    comm = communicator(manager_path(call), cookie=cookie)
    connected, _ = await comm.connect()
    assert connected
    hello = await receive_json(comm)
    assert hello["t"] == "hello"
    return comm, hello


async def send_frames(comm, seqs, jpeg=None) -> list[dict]:
    """Send frames and collect one reply per frame."""
    jpeg = jpeg or browser_like_jpeg()
    replies = []
    for seq in seqs:
        await comm.send_to(bytes_data=frame_message(seq, jpeg))
        replies.append(await receive_json(comm, timeout=20))
    return replies


def stored_seqs(call) -> list[int]:
    return sorted(EmotionSample.objects.filter(call=call).values_list("seq", flat=True))


# --- who may connect ---------------------------------------------------------------------------


async def test_it_refuses_an_anonymous_manager_socket(call) -> None:
    comm = communicator(manager_path(call))
    connected, _ = await comm.connect()
    assert connected  # accepted only to say why: the close code
    await expect_close(comm, CloseCode.AUTH_REQUIRED)


async def test_it_refuses_another_managers_socket(call, other_manager) -> None:
    comm = communicator(manager_path(call), cookie=await database_sync_to_async(session_cookie)(other_manager))
    await comm.connect()
    await expect_close(comm, CloseCode.FORBIDDEN)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", None, "http://127.0.0.1.evil.example", "http://127.0.0.1:8001"]
)
async def test_it_refuses_foreign_null_and_missing_origins(consented_call, manager_cookie, origin) -> None:
    for path, cookie in ((client_path(consented_call), None), (manager_path(consented_call), manager_cookie)):
        comm = communicator(path, origin=origin, cookie=cookie)
        connected, _ = await comm.connect()
        assert not connected, f"{path} accepted origin {origin!r}"


async def test_it_accepts_a_configured_dion_origin(consented_call, settings, live_worker) -> None:
    settings.MIMIC_DION_ORIGINS = ["https://dion.example"]
    comm = communicator(client_path(consented_call), origin="https://dion.example")
    connected, _ = await comm.connect()
    assert connected
    assert (await receive_json(comm))["t"] == "hello"
    await comm.disconnect()


async def test_it_refuses_a_tampered_token(consented_call) -> None:
    token = capture.make_client_token(consented_call.pk)
    comm = communicator(client_path(consented_call, token=token[:-2] + ("A" if token[-1] != "A" else "B") + "x"))
    await comm.connect()
    await expect_close(comm, CloseCode.AUTH_REQUIRED)


async def test_it_refuses_a_token_with_another_salt(consented_call) -> None:
    token = signing.dumps({"call": str(consented_call.pk)}, salt="something.else")
    comm = communicator(client_path(consented_call, token=token))
    await comm.connect()
    await expect_close(comm, CloseCode.AUTH_REQUIRED)


async def test_it_refuses_the_token_of_another_call(consented_call, manager, client_of_manager) -> None:
    other = await database_sync_to_async(Call.objects.create)(manager=manager, client=client_of_manager)
    comm = communicator(client_path(consented_call, token=capture.make_client_token(other.pk)))
    await comm.connect()
    await expect_close(comm, CloseCode.AUTH_REQUIRED)


async def test_client_socket_without_consent_is_refused_before_any_frame(call, live_worker) -> None:
    comm = communicator(client_path(call))
    connected, _ = await comm.connect()
    assert connected
    # The close comes at once; nothing the client sends is read, let alone decoded or stored.
    await expect_close(comm, CloseCode.NO_CONSENT, timeout=2)
    assert await count(EmotionSample.objects.filter(call=call)) == 0


async def test_the_link_expires_when_the_call_ends(consented_call) -> None:
    await database_sync_to_async(Call.objects.end)(consented_call.pk)
    comm = communicator(client_path(consented_call))
    await comm.connect()
    await expect_close(comm, CloseCode.CALL_ENDED)


async def test_a_second_socket_for_the_same_call_and_role_replaces_the_first(consented_call, live_worker) -> None:
    first, _ = await connect_client(consented_call)
    second, _ = await connect_client(consented_call)
    await expect_close(first, CloseCode.REPLACED)
    replies = await send_frames(second, [0])
    assert replies[0] == {"t": "ack", "seq": 0}
    await second.disconnect()


# --- frames ------------------------------------------------------------------------------------


async def test_it_stores_a_frame_and_pushes_the_score_to_the_manager(consented_call, manager_cookie, live_worker):
    manager, hello = await connect_manager(consented_call, manager_cookie)
    assert hello["consent"] is True
    client, _ = await connect_client(consented_call)
    assert await send_frames(client, [0]) == [{"t": "ack", "seq": 0}]
    score = (await replies_until(manager, lambda m: m["t"] == "score", timeout=20))[-1]
    assert score["seq"] == 0 and score["face_found"] is True
    assert len(score["probs"]) == 8 and abs(sum(score["probs"]) - 1) < 1e-3
    assert score["smoothed_label"] in hello["expressions"]
    assert -1 <= score["valence_score"] <= 1
    assert await database_sync_to_async(stored_seqs)(consented_call) == [0]
    await client.disconnect()
    await manager.disconnect()


async def test_it_rejects_an_oversized_frame(consented_call, settings, live_worker) -> None:
    client, _ = await connect_client(consented_call)
    big = browser_like_jpeg() + b"\0" * (settings.MIMIC_FRAME_MAX_BYTES + 1)
    reply = (await send_frames(client, [0], jpeg=big))[0]
    assert reply == {"t": "drop", "seq": 0, "reason": "too_large"}
    assert await send_frames(client, [1]) == [{"t": "ack", "seq": 1}]  # the socket lives on
    await eventually(lambda: _stored_is(consented_call, [1]))
    await client.disconnect()


async def _stored_is(call, seqs) -> bool:
    return await database_sync_to_async(stored_seqs)(call) == seqs


async def test_it_rejects_non_jpeg_bytes_and_closes_after_repeated_bad_frames(consented_call) -> None:
    client, _ = await connect_client(consented_call)
    replies = await send_frames(client, range(6), jpeg=not_jpeg_png())
    assert all(r["t"] == "drop" and r["reason"] == "not_jpeg" for r in replies)
    await client.send_to(bytes_data=frame_message(6, not_jpeg_png()))
    await expect_close(client, CloseCode.BAD_FRAMES)
    assert await count(EmotionSample.objects.filter(call=consented_call)) == 0


async def test_flooding_past_the_rate_limit_is_dropped_counted_then_closed(consented_call, live_worker) -> None:
    client, hello = await connect_client(consented_call)
    jpeg = browser_like_jpeg()
    for seq in range(200):
        await client.send_to(bytes_data=frame_message(seq, jpeg))
    replies = await expect_close(client, CloseCode.RATE_ABUSE, timeout=60)
    acked = [r["seq"] for r in replies if r["t"] == "ack"]
    rate = [r["seq"] for r in replies if r["t"] == "drop" and r["reason"] == "rate"]
    bucket = capture.frame_bucket(hello["fps"])
    # The burst allowance passes; beyond it frames are dropped and each drop is reported.
    assert bucket.capacity <= len(acked) <= bucket.capacity + 3
    assert len(rate) > 0
    assert sorted(acked + rate) == list(range(len(acked) + len(rate)))
    await eventually(lambda: _stored_is(consented_call, acked), timeout=30)


@pytest.mark.parametrize(
    "text",
    [
        '{"t":"hello","now":NaN}',
        '{"t":"hello","now":Infinity}',
        '{"t":"hello","now":-Infinity}',
        '{"t":"hello","now":-1e19}',
        '{"t":"hello","now":1e300}',
        '{"t":"hello","now":"soon"}',
        '{"t":"hello","now":' + "[" * 100_000 + "]" * 100_000 + "}",
        "[" * 900 + "]" * 900,
        "not json",
    ],
    ids=["nan", "inf", "-inf", "negative", "huge", "string", "deep", "deep-short", "garbage"],
)
async def test_a_bad_hello_closes_the_socket_with_a_clean_code(consented_call, text, caplog) -> None:
    client, _ = await connect_client(consented_call)
    await client.send_to(text_data=text)
    await expect_close(client, CloseCode.BAD_MESSAGE)
    await client.disconnect()
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert await count(EmotionSample.objects.filter(call=consented_call)) == 0


async def test_a_frame_with_an_impossible_capture_time_is_dropped_and_never_stored(consented_call, live_worker) -> None:
    client, _ = await connect_client(consented_call)
    now = int(time.time() * 1000)
    await client.send_to(text_data=f'{{"t":"hello","now":{now}}}')
    jpeg = browser_like_jpeg()
    for seq, capture_ms in enumerate([2**64 - 1, now + 3600_000, now - 48 * 3600_000]):
        await client.send_to(bytes_data=capture.pack_frame(seq, capture_ms, jpeg))
        assert await receive_json(client) == {"t": "drop", "seq": seq, "reason": "bad_time"}
    assert await send_frames(client, [3]) == [{"t": "ack", "seq": 3}]  # a true capture time still goes through
    await eventually(lambda: _stored_is(consented_call, [3]), timeout=20)
    await client.disconnect()


async def test_a_duplicate_seq_is_stored_once(consented_call, manager_cookie, live_worker) -> None:
    manager, _ = await connect_manager(consented_call, manager_cookie)
    client, _ = await connect_client(consented_call)
    await send_frames(client, [0, 0])
    messages = await replies_until(manager, lambda m: m["t"] == "drop", timeout=20)
    assert [m["seq"] for m in messages if m["t"] == "score"] == [0]
    assert messages[-1]["reason"] == "duplicate"
    assert await database_sync_to_async(stored_seqs)(consented_call) == [0]
    await client.disconnect()
    await manager.disconnect()


async def test_resume_after_reconnect_continues_seqs_without_duplicates(consented_call, live_worker) -> None:
    client, hello = await connect_client(consented_call)
    assert hello["next_seq"] == 0
    await send_frames(client, [0, 1, 2])
    await eventually(lambda: _stored_is(consented_call, [0, 1, 2]), timeout=20)
    await client.disconnect()
    # The browser resends its unacknowledged frame 2 under the same seq, then continues.
    client, hello = await connect_client(consented_call)
    assert hello["next_seq"] == 3
    await send_frames(client, [2, 3, 4])
    await eventually(lambda: _stored_is(consented_call, [0, 1, 2, 3, 4]), timeout=20)
    await asyncio.sleep(0.5)
    assert await database_sync_to_async(stored_seqs)(consented_call) == [0, 1, 2, 3, 4]
    await client.disconnect()


async def test_manager_window_capture_needs_the_clients_consent(call, manager_cookie, live_worker) -> None:
    manager, hello = await connect_manager(call, manager_cookie)
    assert hello["consent"] is False
    await manager.send_to(bytes_data=frame_message(0))
    assert await receive_json(manager) == {"t": "drop", "seq": 0, "reason": "no_consent"}
    await database_sync_to_async(give_consent)(call)
    assert (await receive_json(manager))["t"] == "consent"
    await manager.send_to(bytes_data=frame_message(0))
    assert (await receive_json(manager, timeout=20)) == {"t": "ack", "seq": 0}
    # Stored apart from the client camera's seqs.
    await eventually(lambda: _stored_is(call, [capture.MANAGER_SEQ_BASE]), timeout=20)
    await manager.disconnect()


# --- withdrawal and the end of the call ---------------------------------------------------------


def _stop(token: str):
    return HttpClient().post(f"/calls/c/{token}/stop/", HTTP_ACCEPT="application/json")


async def test_withdrawal_closes_the_sockets_within_a_second_and_deletes_the_data(
    consented_call, manager_cookie, live_worker
) -> None:
    manager, _ = await connect_manager(consented_call, manager_cookie)
    client, _ = await connect_client(consented_call)
    await send_frames(client, [0, 1])
    await eventually(lambda: _stored_is(consented_call, [0, 1]), timeout=20)
    started = time.monotonic()
    response = await sync_to_async(_stop)(capture.make_client_token(consented_call.pk))
    assert response.json() == {"withdrawn": True}
    assert (await expect_close(client, CloseCode.CONSENT_WITHDRAWN, timeout=1.0))[-1] == {"t": "withdrawn"}
    assert time.monotonic() - started < 1.0 + 0.5  # the POST itself included
    await expect_close(manager, CloseCode.CONSENT_WITHDRAWN, timeout=1.0)
    assert await count(EmotionSample.objects.filter(call=consented_call)) == 0
    assert await count(CallReport.objects.filter(call=consented_call)) == 0
    assert await count(AuditEvent.objects.filter(action=AuditAction.CONSENT_WITHDRAWN)) == 1
    call = await database_sync_to_async(Call.objects.get)(pk=consented_call.pk)
    assert call.status == CallStatus.ENDED


async def test_queued_frames_write_nothing_after_withdrawal(consented_call, live_worker) -> None:
    from calls.lifecycle import withdraw_consent
    from calls.tasks import analyze_frame

    await database_sync_to_async(withdraw_consent)(consented_call.pk, "client", "client-link")

    # A frame that was queued before the withdrawal runs now: nothing is written.
    await database_sync_to_async(analyze_frame.run)(  # closes its connection, or the test database cannot be dropped
        str(consented_call.pk), 7, 0, browser_like_jpeg(), int(time.time() * 1000)
    )
    assert await count(EmotionSample.objects.filter(call=consented_call)) == 0


def _end(cookie_user, call):
    client = HttpClient()
    client.force_login(cookie_user)
    return client.post(f"/calls/{call.pk}/end/", HTTP_ACCEPT="application/json")


async def test_ending_the_call_builds_the_report_and_notifies_the_manager(
    consented_call, manager, manager_cookie, live_worker
) -> None:
    await database_sync_to_async(_set_email)(manager)
    live, _ = await connect_manager(consented_call, manager_cookie)
    client, _ = await connect_client(consented_call)
    await send_frames(client, [0, 1, 2])
    await replies_until(live, lambda m: m["t"] == "score" and m["seq"] == 2, timeout=30)
    started = time.monotonic()
    response = await sync_to_async(_end)(manager, consented_call)
    assert response.json()["ended"] is True
    assert (await expect_close(client, CloseCode.CALL_ENDED, timeout=2))[-1]["t"] == "ended"
    messages = await expect_close(live, CloseCode.CALL_ENDED, timeout=5)
    report_msg = next(m for m in messages if m["t"] == "report")
    assert time.monotonic() - started < 2.0 + 1.0  # within 2 s (plus the test's own HTTP round trip)
    report = await database_sync_to_async(CallReport.objects.get)(call=consented_call)
    assert report_msg["url"] and str(consented_call.pk) in report_msg["url"]
    assert report.summary["frames"] == 3
    note = await database_sync_to_async(Notification.objects.get)(user=manager, call=consented_call)
    assert note.url == report_msg["url"] and note.read_at is None
    if not live_worker:  # the worker process has its own outbox
        assert len(mail.outbox) == 1 and manager.email in mail.outbox[0].to


def _set_email(user) -> None:
    user.email = "anna@bank.example"
    user.save(update_fields=["email"])


async def test_an_idle_call_ends_by_itself_without_celery_beat(
    consented_call, manager_cookie, settings, live_worker
) -> None:
    settings.MIMIC_IDLE_END_SECONDS = 1
    settings.MIMIC_SOCKET_IDLE_CHECK = True  # the embedded default; with Redis, beat's end_idle_calls does it
    live, _ = await connect_manager(consented_call, manager_cookie)
    messages = await expect_close(live, CloseCode.CALL_ENDED, timeout=10)
    assert {"t": "ended", "reason": "idle"} in messages
    call = await database_sync_to_async(Call.objects.get)(pk=consented_call.pk)
    assert call.status == CallStatus.ENDED


def test_end_idle_calls_ends_only_silent_calls(manager, client_of_manager, settings, time_machine) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from calls.tasks import end_idle_calls

    time_machine.move_to(timezone.now(), tick=False)
    now = timezone.now()
    silent = Call.objects.create(
        manager=manager, client=client_of_manager, status=CallStatus.LIVE, started_at=now - timedelta(minutes=10),
        last_frame_at=now - timedelta(seconds=settings.MIMIC_IDLE_END_SECONDS + 1),
    )  # fmt: skip
    busy = Call.objects.create(
        manager=manager, client=client_of_manager, status=CallStatus.LIVE, started_at=now - timedelta(minutes=10),
        last_frame_at=now - timedelta(seconds=5),
    )  # fmt: skip
    never = Call.objects.create(
        manager=manager, client=client_of_manager, status=CallStatus.LIVE,
        started_at=now - timedelta(seconds=settings.MIMIC_IDLE_END_SECONDS + 1),
    )  # fmt: skip
    assert end_idle_calls() == 2
    assert Call.objects.get(pk=silent.pk).status == CallStatus.ENDED
    assert Call.objects.get(pk=never.pk).status == CallStatus.ENDED
    assert Call.objects.get(pk=busy.pk).status == CallStatus.LIVE
    assert end_idle_calls() == 0
