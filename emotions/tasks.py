"""Celery tasks of live calls: per-frame analysis, the report at hang-up, ending idle calls.

Frames travel as base64 in the task message (transient: no result backend, results ignored)
and are never logged: task arguments are not in any log line below, and a frame task's
failures log only the call id and seq.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import OrderedDict

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from emotions.analytics import summarize
from emotions.live import end_call, report_url, send_after_commit, send_to_call
from emotions.models import Call, CallStatus, Consent, EmotionSample, Notification

log = logging.getLogger(__name__)

OPEN = (CallStatus.SCHEDULED, CallStatus.LIVE)
# Tracking the client's face box between frames of a call (process-local, bounded).
_prev_boxes: OrderedDict[str, tuple] = OrderedDict()
_PREV_BOXES_MAX = 2000


def _remember_box(call_id: str, box: tuple | None) -> None:
    if box is None:
        _prev_boxes.pop(call_id, None)
        return
    _prev_boxes[call_id] = tuple(box)
    _prev_boxes.move_to_end(call_id)
    while len(_prev_boxes) > _PREV_BOXES_MAX:
        _prev_boxes.popitem(last=False)


def _dropped(call_id: str, seq: int, reason: str) -> None:
    # Counted on the manager's socket (and by bench/live_load.py): no frame disappears silently.
    send_to_call(call_id, {"type": "frame.dropped", "seq": seq, "reason": reason}, managers_only=True)


@shared_task(ignore_result=True, acks_late=False)
def analyze_frame(call_id: str, seq: int, offset_ms: int, jpeg_b64: str, queued_ms: int) -> None:
    """Analyse one frame of a live call and store its scores once per (call, seq).

    acks_late is off for this task: a frame is worth nothing seconds later, so a worker crash
    loses it rather than replaying a backlog.
    """
    from emotions.inference import BadFrame, get_engine

    if time.time() * 1000 - queued_ms > settings.MIMIC_FRAME_STALE_MS:
        _dropped(call_id, seq, "stale")
        return
    state = (
        Call.objects.filter(pk=call_id)
        .annotate(
            consented=Exists(Consent.objects.active().filter(call=OuterRef("pk"))),
            done=Exists(EmotionSample.objects.filter(call=OuterRef("pk"), seq=seq)),
        )
        .values_list("status", "consented", "done")
        .first()
    )
    if state is None or state[0] not in OPEN:
        _dropped(call_id, seq, "ended")
        return
    if not state[1]:
        _dropped(call_id, seq, "no_consent")
        return
    if state[2]:
        _dropped(call_id, seq, "duplicate")
        return
    try:
        result = get_engine().analyze_jpeg(base64.b64decode(jpeg_b64), prev_box=_prev_boxes.get(call_id))
    except BadFrame as exc:
        _dropped(call_id, seq, "bad_jpeg")
        log.info("frame %s#%s rejected: %s", call_id, seq, exc.reason)
        return
    _remember_box(call_id, result.box)
    fields = EmotionSample.fields_from_probs(result.probs)
    with transaction.atomic():
        # Re-check consent under a row lock: a withdrawal that committed meanwhile wins, and one in
        # progress waits for this write and then deletes it with the rest.
        consent = (
            Consent.objects.select_for_update(of=("self",))
            .active()
            .filter(call_id=call_id, call__status__in=OPEN)
            .values_list("pk", flat=True)
            .first()
        )
        if consent is None:
            transaction.on_commit(lambda: _dropped(call_id, seq, "no_consent"))
            return
        try:
            with transaction.atomic():
                EmotionSample.objects.create(
                    call_id=call_id,
                    seq=seq,
                    offset_ms=offset_ms,
                    face_found=result.face_found,
                    probs=result.probs,
                    flags=result.flags,
                    **fields,
                )
        except IntegrityError:
            transaction.on_commit(lambda: _dropped(call_id, seq, "duplicate"))
            return
        send_after_commit(
            call_id,
            {
                "type": "frame.result",
                "seq": seq,
                "offset_ms": offset_ms,
                "face_found": result.face_found,
                "probs": result.probs,
                "label": fields["label"],
                "valence": fields["valence"],
                "flags": result.flags,
            },
            managers_only=True,
        )


@shared_task(ignore_result=True)
def finalize_call(call_id: str) -> bool:
    """Summarise an ended call into its CallReport and tell the manager (idempotent)."""
    from reports.models import CallReport

    call = Call.objects.select_related("manager", "client").filter(pk=call_id, status=CallStatus.ENDED).first()
    if call is None or not call.consents.active().exists():
        # Never consented, or consent withdrawn: there is nothing to report.
        send_to_call(call_id, {"type": "call.report", "url": None})
        return False
    t_ms, found, probs = EmotionSample.objects.filter(call=call).timeline()
    CallReport.store(call, summarize(t_ms, found, probs))
    url = report_url(call.pk)
    message = _("The report of your call with %(client)s is ready.") % {"client": call.client.pseudonym}
    _note, created = Notification.objects.get_or_create(
        user=call.manager, call=call, url=url, defaults={"message": message}
    )
    if created and call.manager.email:
        link = settings.SITE_ROOT.rstrip("/") + url
        send_mail(_("Mimic: call report ready"), f"{message}\n{link}\n", None, [call.manager.email], fail_silently=True)
    send_to_call(call_id, {"type": "call.report", "url": url})
    return True


@shared_task(ignore_result=True)
def end_idle_calls() -> int:
    """End every live call without frames for MIMIC_IDLE_END_SECONDS (Celery beat, every 30 s)."""
    ended = 0
    for call_id in Call.objects.idle(settings.MIMIC_IDLE_END_SECONDS).values_list("pk", flat=True):
        ended += end_call(call_id, "idle")
    return ended
