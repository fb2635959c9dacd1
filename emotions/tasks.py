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
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from emotions.analytics import summarize
from emotions.live import end_call, report_url, send_to_call
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


def _notify(call_id: str, message: dict) -> None:
    """Best-effort message to the manager's socket: a Redis outage must not fail a stored frame."""
    try:
        send_to_call(call_id, message, managers_only=True)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not notify call %s: %s", call_id, type(exc).__name__)


def _dropped(call_id: str, seq: int, reason: str) -> None:
    # Counted on the manager's socket (and by bench/live_load.py): no frame disappears silently.
    _notify(call_id, {"type": "frame.dropped", "seq": seq, "reason": reason})


# call id -> (valid until, monotonic s; None if open and consented, else the drop reason)
_call_states: OrderedDict[str, tuple[float, str | None]] = OrderedDict()


def _call_state(call_id: str) -> str | None:
    """Why frames of this call cannot be stored now (None: they can), cached for MIMIC_CALL_STATE_CACHE_MS.

    Only saves the query before inference: the write re-checks consent under a row lock, so a
    withdrawal is honoured at once whatever this cache says.
    """
    now = time.monotonic()
    cached = _call_states.get(call_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    state = (
        Call.objects.filter(pk=call_id)
        .annotate(consented=Exists(Consent.objects.active().filter(call=OuterRef("pk"))))
        .values_list("status", "consented")
        .first()
    )
    reason = "ended" if state is None or state[0] not in OPEN else None if state[1] else "no_consent"
    _call_states[call_id] = (now + settings.MIMIC_CALL_STATE_CACHE_MS / 1000, reason)
    _call_states.move_to_end(call_id)
    while len(_call_states) > _PREV_BOXES_MAX:
        _call_states.popitem(last=False)
    return reason


def _insert_sample(call_id: str, seq: int, offset_ms: int, result, fields: dict) -> bool:
    """One statement: store the sample unless it exists, and only while the call is open and consented.

    ``INSERT … SELECT … WHERE EXISTS (active consent FOR SHARE) ON CONFLICT DO NOTHING``: on PostgreSQL the
    consent row is share-locked, so a withdrawal (which locks it FOR UPDATE, then deletes the samples)
    either waits for this write and deletes it, or commits first and this inserts nothing. SQLite
    serialises writers, which gives the same. True if a row was inserted.
    """
    table = EmotionSample._meta.db_table
    sample = EmotionSample(
        call_id=call_id,
        seq=seq,
        offset_ms=offset_ms,
        face_found=result.face_found,
        probs=result.probs,
        flags=result.flags,
        created=timezone.now(),
        **fields,
    )
    names = ["call_id", "seq", "offset_ms", "face_found", "probs", "label", "valence", "flags", "created"]
    meta = EmotionSample._meta
    values = [meta.get_field(n if n != "call_id" else "call").get_db_prep_save(getattr(sample, n), connection)
              for n in names]  # fmt: skip
    consent, call = Consent._meta.db_table, Call._meta.db_table
    lock = " FOR SHARE OF c" if connection.vendor == "postgresql" else ""
    call_pk = Call._meta.pk.get_db_prep_value(sample.call_id, connection)
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(['%s'] * len(names))} "
        f"WHERE EXISTS (SELECT 1 FROM {consent} c JOIN {call} k ON k.id = c.call_id "
        f"WHERE c.call_id = %s AND c.withdrawn_at IS NULL AND k.status IN (%s, %s){lock}) "
        f"ON CONFLICT (call_id, seq) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, call_pk, *OPEN])
        return cursor.fetchone() is not None


@shared_task(
    ignore_result=True,
    acks_late=settings.MIMIC_FRAME_ACKS_LATE,
    reject_on_worker_lost=True,
    soft_time_limit=settings.MIMIC_FRAME_SOFT_TIME_LIMIT,
    time_limit=settings.MIMIC_FRAME_TIME_LIMIT,
)
def analyze_frame(call_id: str, seq: int, offset_ms: int, jpeg_b64: str, queued_ms: int) -> None:
    """Analyse one frame of a live call and store its scores once per (call, seq).

    Acks-late: a worker that dies mid-frame gets it delivered again (ReliableTask dead-letters a
    frame that keeps killing workers). A frame that waited longer than MIMIC_FRAME_STALE_MS is
    dropped as "stale" (counted): a late score is worthless live. Running twice stores once.
    """
    from emotions.inference import BadFrame, get_engine

    if time.time() * 1000 - queued_ms > settings.MIMIC_FRAME_STALE_MS:
        _dropped(call_id, seq, "stale")
        return
    try:
        reason = _call_state(call_id)
        if reason is not None:
            _dropped(call_id, seq, reason)
            return
        try:
            result = get_engine().analyze_jpeg(base64.b64decode(jpeg_b64), prev_box=_prev_boxes.get(call_id))
        except BadFrame as exc:
            _dropped(call_id, seq, "bad_jpeg")
            log.info("frame %s#%s rejected: %s", call_id, seq, exc.reason)
            return
        _remember_box(call_id, result.box)
        fields = EmotionSample.fields_from_probs(result.probs)
        stored = _insert_sample(call_id, seq, offset_ms, result, fields)
        if not stored:
            _call_states.pop(call_id, None)
            duplicate = EmotionSample.objects.filter(call_id=call_id, seq=seq).exists()
            _dropped(call_id, seq, "duplicate" if duplicate else _call_state(call_id) or "no_consent")
            return
    except (OperationalError, InterfaceError) as exc:
        # The database is down: this frame is dropped and counted; the page shows "analysis paused".
        connection.close()
        log.warning("frame %s#%s dropped, database unavailable: %s", call_id, seq, type(exc).__name__)
        _dropped(call_id, seq, "paused")
        return
    _notify(
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
