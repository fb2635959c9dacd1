"""Idempotence of every live-call task (each runs twice), the consent cache, pause and backpressure drops.

Fast and in-process; the real-process faults are in test_reliability_faults.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import simplejpeg
from django.core import mail

from calls import tasks
from calls.health import health
from calls.lifecycle import end_call, withdraw_consent
from calls.models import Call, CallStatus, EmotionSample, Notification
from reports.models import CallReport
from reports.tasks import build_call_report
from tests.support.live import (
    browser_like_jpeg,
    client_path,
    communicator,
    frame_message,
    receive_json,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _frame(call, seq: int) -> None:
    jpeg = browser_like_jpeg()
    tasks.analyze_frame.run(str(call.pk), seq, seq * 500, jpeg, int(time.time() * 1000))


def test_a_frame_task_run_twice_stores_one_sample(consented_call) -> None:
    _frame(consented_call, 3)
    _frame(consented_call, 3)  # a redelivery after a worker crash
    assert list(EmotionSample.objects.filter(call=consented_call).values_list("seq", flat=True)) == [3]


def test_a_withdrawal_wins_over_the_cached_consent_state(consented_call) -> None:
    _frame(consented_call, 0)  # caches "open and consented" for a second
    withdraw_consent(consented_call.pk, "client", "client-link")
    _frame(consented_call, 1)
    assert EmotionSample.objects.filter(call=consented_call).count() == 0


def test_finalize_run_twice_stores_one_report_one_notification_one_mail(consented_call, manager) -> None:
    manager.email = "anna@bank.example"
    manager.save()
    _frame(consented_call, 0)
    Call.objects.end(consented_call.pk)
    assert build_call_report.run(str(consented_call.pk)) is True
    assert build_call_report.run(str(consented_call.pk)) is True
    assert CallReport.objects.filter(call=consented_call).count() == 1
    assert Notification.objects.filter(call=consented_call).count() == 1
    assert len(mail.outbox) == 1


def test_ending_idle_calls_twice_ends_each_call_once(consented_call) -> None:
    Call.objects.filter(pk=consented_call.pk).update(last_frame_at=None, started_at="2020-01-01T00:00:00Z")
    first = tasks.end_idle_calls.run()
    second = tasks.end_idle_calls.run()
    assert (first, second) == (1, 0)
    assert Call.objects.get(pk=consented_call.pk).status == CallStatus.ENDED
    assert end_call(consented_call.pk, "manager") is False


async def test_frames_are_dropped_as_paused_while_a_service_is_down_and_flow_again_after(
    consented_call, live_worker, monkeypatch
) -> None:
    from channels.db import database_sync_to_async

    down = {"database"}

    async def probe():
        return frozenset(down)

    monkeypatch.setattr(health, "probe", probe)
    monkeypatch.setattr("django.conf.settings.MIMIC_HEALTH_PROBE_MS", 50)
    comm = communicator(client_path(consented_call))
    assert (await comm.connect())[0]
    assert (await receive_json(comm))["t"] == "hello"
    assert await receive_json(comm) == {"t": "paused", "services": ["database"]}
    await comm.send_to(bytes_data=frame_message(0))
    assert await receive_json(comm) == {"t": "drop", "seq": 0, "reason": "paused"}
    down.clear()
    assert await receive_json(comm) == {"t": "resumed"}
    await comm.send_to(bytes_data=frame_message(1))
    assert await receive_json(comm, timeout=30) == {"t": "ack", "seq": 1}
    await comm.disconnect()
    assert await database_sync_to_async(lambda: EmotionSample.objects.filter(call=consented_call).count())() <= 1


async def test_frames_are_dropped_as_backpressure_when_the_queue_is_full(consented_call, monkeypatch) -> None:
    monkeypatch.setattr("django.conf.settings.MIMIC_QUEUE_MAX_DEPTH", 0)  # any queue is "full"
    comm = communicator(client_path(consented_call))
    assert (await comm.connect())[0]
    await receive_json(comm)
    await comm.send_to(bytes_data=frame_message(0))
    assert await receive_json(comm) == {"t": "drop", "seq": 0, "reason": "backpressure"}
    await comm.disconnect()


def _dark_frame(call, seq: int) -> None:
    rgb = simplejpeg.decode_jpeg(browser_like_jpeg(), colorspace="RGB")
    dark = simplejpeg.encode_jpeg(np.ascontiguousarray((rgb * 0.12).astype(np.uint8)), quality=70)
    tasks.analyze_frame.run(str(call.pk), seq, seq * 500, dark, int(time.time() * 1000))


def test_a_poorly_seen_face_is_stored_without_a_reading_and_the_report_states_its_share(consented_call) -> None:
    for seq in range(6):
        _frame(consented_call, seq)
    for seq in range(6, 10):
        _dark_frame(consented_call, seq)
    dark = EmotionSample.objects.get(call=consented_call, seq=7)
    assert not dark.face_found and dark.probs is None and dark.label == "" and "too_dark" in dark.flags
    Call.objects.end(consented_call.pk)
    assert build_call_report.run(str(consented_call.pk)) is True
    summary = CallReport.objects.get(call=consented_call).summary
    assert summary["poor_view_pct"] == pytest.approx(40.0)
    assert summary["face_visible_pct"] == pytest.approx(60.0)
    assert sum(summary["valence_pct"].values()) == pytest.approx(100.0, abs=0.1)


def test_a_starting_worker_process_loads_its_engine_sessions(settings, classifier_path) -> None:
    from calls import scoring

    settings.MIMIC_CLASSIFIER_PATH = str(classifier_path)
    scoring.reset()
    try:
        tasks.worker_process_init.send(sender=None)
        engine = scoring.get_engine()
        assert engine._detector is not None
        assert engine._classifier is not None and engine._classifier.adaptive
    finally:
        scoring.reset()


def test_a_worker_process_without_its_classifier_still_starts_and_says_why(settings, tmp_path, caplog) -> None:
    from calls import scoring

    settings.MIMIC_CLASSIFIER_PATH = str(tmp_path / "missing.onnx")
    scoring.reset()
    try:
        with caplog.at_level("ERROR", logger="calls.scoring"):
            tasks.worker_process_init.send(sender=None)
        assert "engine models not loaded: FileNotFoundError" in caplog.text
        assert scoring.get_engine()._classifier is None
    finally:
        scoring.reset()
