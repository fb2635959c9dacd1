"""Live-call state changes shared by views, consumers and tasks (sync code; call from threads).

Every change that the call's open sockets must see is broadcast to the call's channel group
after the database commit, so a socket never acts on a change that was rolled back.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from emotions.consent import current_text
from emotions.models import Call, CallStatus, Consent, EmotionSample
from privacy.audit import audit
from privacy.models import AuditAction


def group_name(call_id: uuid.UUID | str) -> str:
    """Every socket of the call (ending, consent changes, replacement)."""
    return f"call-{call_id}"


def manager_group_name(call_id: uuid.UUID | str) -> str:
    """The manager's socket only: per-frame scores go nowhere else."""
    return f"call-{call_id}-m"


class _LayerLoop:
    """One long-lived event loop thread per worker process for channel-layer sends.

    async_to_sync from a plain thread would make a new loop (and a new Redis connection) per message.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()

    def run(self, coro) -> Any:
        with self.lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="channel-layer", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)


_layer_loop = _LayerLoop()


def send_to_call(call_id: uuid.UUID | str, message: dict, managers_only: bool = False) -> None:
    """Group-send to the call's sockets from sync code (a view, a task, a consumer's DB thread)."""
    send_to_calls([(call_id, message)], managers_only)


def send_to_calls(messages: list[tuple[uuid.UUID | str, dict]], managers_only: bool = False) -> None:
    """Many group-sends (a worker's batch of scores) in one hop to the channel layer's loop."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    name = manager_group_name if managers_only else group_name

    by_call: dict[str, list[dict]] = {}
    for call_id, message in messages:
        by_call.setdefault(str(call_id), []).append(message)

    async def send_in_order(call_id: str, call_messages: list[dict]) -> None:
        for message in call_messages:  # one call's scores arrive in the order they were produced
            await layer.group_send(name(call_id), message)

    async def send_all() -> None:
        results = await asyncio.gather(
            *(send_in_order(call_id, items) for call_id, items in by_call.items()), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Embedded: the in-memory layer lives on daphne's loop; async_to_sync hops back onto it.
        async_to_sync(send_all)()
    else:
        _layer_loop.run(send_all())


def send_after_commit(call_id: uuid.UUID | str, message: dict, managers_only: bool = False) -> None:
    transaction.on_commit(lambda: send_to_call(call_id, message, managers_only))


def report_url(call_id: uuid.UUID | str) -> str:
    return reverse("reports:call_report", args=[call_id])


def feedback_url(token: str) -> str:
    """Where the client's link leads once the call has ended: the short feedback form."""
    return reverse("reports:client_feedback", args=[token])


def start_call(call: Call) -> None:
    """The manager pressed Start: the call is live; the idle clock runs from now."""
    now = timezone.now()
    Call.objects.filter(pk=call.pk, status=CallStatus.SCHEDULED).update(status=CallStatus.LIVE, started_at=now)
    call.refresh_from_db(fields=["status", "started_at"])


def end_call(call_id: uuid.UUID | str, reason: str) -> bool:
    """End an open call and build its report; True if this call ended it (False: already over)."""
    from emotions.tasks import finalize_call

    if not Call.objects.end(call_id):
        return False
    send_to_call(call_id, {"type": "call.ended", "reason": reason})
    finalize_call.delay(str(call_id))
    return True


def give_consent(call: Call, language: str) -> Consent:
    """Record the client's consent to the current text (idempotent while one is active)."""
    text = current_text(language)
    with transaction.atomic():
        existing = Consent.objects.select_for_update().active().filter(call=call).first()
        if existing is not None:
            return existing
        consent = Consent.objects.create(
            call=call,
            text_version=text.version,
            text_sha256=text.sha256,
            language=text.language,
            operator=text.operator,
        )
        audit("client-link", AuditAction.CONSENT_GIVEN, consent, call=str(call.pk), text_version=text.version)
        send_after_commit(call.pk, {"type": "consent.changed", "state": "given"})
    return consent


def withdraw_consent(call_id: uuid.UUID | str, by: str, actor: Any) -> bool:
    """Withdraw the call's consent: analysis stops, the client's derived data of this call is deleted.

    Locks the consent rows, so a frame task that already passed its first check and now waits to
    write sees the withdrawal and writes nothing (see tasks.analyze_frame).
    """
    from reports.models import CallReport

    now = timezone.now()
    with transaction.atomic():
        consents = list(Consent.objects.select_for_update().active().filter(call_id=call_id))
        if not consents:
            return False
        Consent.objects.filter(pk__in=[c.pk for c in consents]).update(withdrawn_at=now, withdrawn_by=by)
        deleted_samples, _ = EmotionSample.objects.filter(call_id=call_id).delete()
        CallReport.objects.filter(call_id=call_id).delete()
        # The analysis session is over; no report is built for it.
        Call.objects.open().filter(pk=call_id).update(status=CallStatus.ENDED, ended_at=now)
        for consent in consents:
            audit(actor, AuditAction.CONSENT_WITHDRAWN, consent, by=by, samples_deleted=deleted_samples)
        send_after_commit(call_id, {"type": "consent.changed", "state": "withdrawn", "by": by})
    return True
