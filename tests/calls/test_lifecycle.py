"""A call's life and the events it sends downstream (calls.signals)."""

from __future__ import annotations

import pytest

from calls import lifecycle, signals
from calls.models import Call, CallStatus, EmotionSample, ScoredFrame
from reports.models import CallReport
from tests.support.live import give_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    """Every signal of calls.signals sent during the test, as (name, kwargs)."""
    seen: list[tuple[str, dict]] = []
    receivers = {}
    for name in ("call_started", "call_ended", "consent_withdrawn"):

        def receiver(sender, _name=name, **kwargs):
            seen.append((_name, {k: v for k, v in kwargs.items() if k != "signal"}))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, dispatch_uid=f"test-{name}")
    yield seen
    for name in receivers:
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")


def test_start_makes_the_call_live_once_and_tells_who_listens(call, received) -> None:
    assert lifecycle.start_call(call, "https://mimic.example/c/token/") == []
    assert call.status == CallStatus.LIVE and call.started_at is not None
    first_start = call.started_at
    lifecycle.start_call(call)
    assert call.started_at == first_start  # a live call is not started again
    assert [name for name, _ in received] == ["call_started", "call_started"]
    assert received[0][1] == {"call": call, "client_link": "https://mimic.example/c/token/"}


def test_start_returns_the_warnings_of_its_receivers(call) -> None:
    def warn(sender, **kwargs):
        return "Dion did not create the meeting room"

    signals.call_started.connect(warn, dispatch_uid="test-warn")
    try:
        assert lifecycle.start_call(call, "https://mimic.example/c/t/") == ["Dion did not create the meeting room"]
    finally:
        signals.call_started.disconnect(dispatch_uid="test-warn")


def test_a_call_ends_once_and_says_so_once(call, received) -> None:
    lifecycle.start_call(call)
    assert lifecycle.end_call(call.pk, "manager") is True
    assert lifecycle.end_call(call.pk, "idle") is False
    assert [(n, kw) for n, kw in received if n == "call_ended"] == [
        ("call_ended", {"call_id": str(call.pk), "reason": "manager"})
    ]
    assert Call.objects.get(pk=call.pk).status == CallStatus.ENDED


def test_the_ended_calls_report_is_built_downstream(call, eager_celery) -> None:
    lifecycle.start_call(call)
    give_consent(call)
    EmotionSample.objects.store_live([ScoredFrame(str(call.pk), 0, 0, True, [1.0] + [0.0] * 7, "neutral", "neutral")])
    lifecycle.end_call(call.pk, "manager")
    assert CallReport.objects.get(call=call).summary["frames"] == 1


def test_withdrawal_deletes_samples_and_report_and_ends_the_call(call, received) -> None:
    lifecycle.start_call(call)
    give_consent(call)
    EmotionSample.objects.store_live([ScoredFrame(str(call.pk), 0, 0, True, [1.0] + [0.0] * 7, "neutral", "neutral")])
    CallReport.store(call, {"frames": 1})
    assert lifecycle.withdraw_consent(call.pk, "client", "client-link") is True
    assert not EmotionSample.objects.filter(call=call).exists()
    assert not CallReport.objects.filter(call=call).exists()
    assert Call.objects.get(pk=call.pk).status == CallStatus.ENDED
    assert ("consent_withdrawn", {"call_id": str(call.pk)}) in received
    assert lifecycle.withdraw_consent(call.pk, "client", "client-link") is False  # nothing left to withdraw
