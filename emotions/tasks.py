"""Celery tasks of live calls: per-frame analysis, the report at hang-up, ending idle calls.

Frames travel as base64 in the task message (transient: no result backend, results ignored)
and are never logged: task arguments are not in any log line below, and a frame task's
failures log only the call id and seq.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from emotions.analytics import summarize
from emotions.live import end_call, report_url, send_to_call, send_to_calls
from emotions.models import Call, CallStatus, Consent, EmotionSample, Notification

if TYPE_CHECKING:
    from emotions.inference import FrameResult

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


# call id -> (valid until, monotonic s; None if open and consented, else the drop reason)
_call_states: OrderedDict[str, tuple[float, str | None]] = OrderedDict()


def _call_states_for(call_ids: set[str]) -> dict[str, str | None]:
    """Why frames of each call cannot be stored now (None: they can), cached for MIMIC_CALL_STATE_CACHE_MS.

    Only saves inference on frames that could not be stored: the write re-checks consent under a row
    lock, so a withdrawal is honoured at once whatever this cache says. One query for all cache misses.
    """
    now = time.monotonic()
    states: dict[str, str | None] = {}
    for call_id in call_ids:
        cached = _call_states.get(call_id)
        if cached is not None and cached[0] > now:
            states[call_id] = cached[1]
    missing = call_ids - states.keys()
    if not missing:
        return states
    # Plain SQL: building the equivalent ORM query cost more than running it, once per call and second.
    call, consent = Call._meta.db_table, Consent._meta.db_table
    pk = Call._meta.pk
    ids = [pk.get_db_prep_value(call_id, connection) for call_id in missing]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT k.id, k.status, EXISTS (SELECT 1 FROM {consent} c WHERE c.call_id = k.id "
            f"AND c.withdrawn_at IS NULL) FROM {call} k WHERE k.id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        found = {str(pk.to_python(row[0])): (row[1], bool(row[2])) for row in cursor.fetchall()}
    valid_until = now + settings.MIMIC_CALL_STATE_CACHE_MS / 1000
    for call_id in missing:
        state = found.get(call_id)
        states[call_id] = "ended" if state is None or state[0] not in OPEN else None if state[1] else "no_consent"
        _call_states[call_id] = (valid_until, states[call_id])
        _call_states.move_to_end(call_id)
    while len(_call_states) > _PREV_BOXES_MAX:
        _call_states.popitem(last=False)
    return states


@dataclass
class QueuedFrame:
    """One frame as it travels in a task message: ``[call_id, seq, offset_ms, jpeg_b64, queued_ms]``."""

    call_id: str
    seq: int
    offset_ms: int
    jpeg_b64: str
    queued_ms: int

    @classmethod
    def from_message(cls, item: list | tuple) -> QueuedFrame:
        call_id, seq, offset_ms, jpeg_b64, queued_ms = item
        return cls(str(call_id), int(seq), int(offset_ms), jpeg_b64, int(queued_ms))

    def as_message(self) -> list:
        return [self.call_id, self.seq, self.offset_ms, self.jpeg_b64, self.queued_ms]


@dataclass
class _Scored:
    frame: QueuedFrame
    result: FrameResult
    fields: dict[str, str]


def _insert_samples(scored: list[_Scored]) -> set[tuple[str, int]]:
    """One statement for the whole batch: store each sample unless it exists, and only while its call is open
    and consented. Returns the (call id, seq) pairs inserted.

    Each row is ``SELECT … WHERE EXISTS (active consent FOR SHARE)``, the rows joined by UNION ALL, then
    ``ON CONFLICT DO NOTHING``: on PostgreSQL the consent row is share-locked, so a withdrawal (which locks it
    FOR UPDATE, then deletes the samples) either waits for this write and deletes it, or commits first and
    this inserts nothing for that call. SQLite serialises writers, which gives the same.
    """
    table, consent, call = EmotionSample._meta.db_table, Consent._meta.db_table, Call._meta.db_table
    names = ["call_id", "seq", "offset_ms", "face_found", "probs", "label", "valence", "flags", "created"]
    meta = EmotionSample._meta
    fields = [meta.get_field(n if n != "call_id" else "call") for n in names]
    lock = " FOR SHARE OF c" if connection.vendor == "postgresql" else ""
    row_sql = (
        f"SELECT {', '.join(['%s'] * len(names))} "
        f"WHERE EXISTS (SELECT 1 FROM {consent} c JOIN {call} k ON k.id = c.call_id "
        f"WHERE c.call_id = %s AND c.withdrawn_at IS NULL AND k.status IN (%s, %s){lock})"
    )
    now = timezone.now()
    params: list = []
    for item in scored:
        sample = EmotionSample(
            call_id=item.frame.call_id,
            seq=item.frame.seq,
            offset_ms=item.frame.offset_ms,
            face_found=item.result.face_found,
            probs=item.result.probs,
            flags=item.result.flags,
            created=now,
            **item.fields,
        )
        params += [f.get_db_prep_save(getattr(sample, n), connection) for n, f in zip(names, fields, strict=True)]
        params += [Call._meta.pk.get_db_prep_value(sample.call_id, connection), *OPEN]
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) {' UNION ALL '.join([row_sql] * len(scored))} "
        f"ON CONFLICT (call_id, seq) DO NOTHING RETURNING call_id, seq"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(str(uuid.UUID(str(call_id))), seq) for call_id, seq in cursor.fetchall()}


def _send_all(messages: list[tuple[str, dict]]) -> None:
    """Best-effort messages to the managers' sockets, in one hop: a Redis outage must not fail stored frames."""
    if not messages:
        return
    try:
        send_to_calls(messages, managers_only=True)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not notify %s calls: %s", len({c for c, _ in messages}), type(exc).__name__)


def _drop_message(call_id: str, seq: int, reason: str) -> tuple[str, dict]:
    # Counted on the manager's socket (and by bench/live_load.py): no frame disappears silently.
    return call_id, {"type": "frame.dropped", "seq": seq, "reason": reason}


def _result_message(item: _Scored) -> tuple[str, dict]:
    result = item.result
    return item.frame.call_id, {
        "type": "frame.result",
        "seq": item.frame.seq,
        "offset_ms": item.frame.offset_ms,
        "face_found": result.face_found,
        "probs": result.probs,
        "label": item.fields["label"],
        "valence": item.fields["valence"],
        "flags": result.flags,
    }


def analyze_batch(frames: list[QueuedFrame]) -> None:
    """Analyse frames of any live calls and store each one's scores once per (call, seq); tell the managers.

    Frames of the same call are analysed in order (the face is tracked from one to the next); every face
    of the batch is classified in one ONNX run, stored in one statement and announced in one hop to the
    channel layer. A frame that waited longer than MIMIC_FRAME_STALE_MS is dropped as "stale" (counted): a
    late score is worthless live. Running a batch twice stores each frame once.
    """
    from emotions.frames import BadFrame, decode_jpeg
    from emotions.inference import get_engine

    messages: list[tuple[str, dict]] = []
    now_ms = time.time() * 1000
    fresh = []
    for frame in frames:
        if now_ms - frame.queued_ms > settings.MIMIC_FRAME_STALE_MS:
            messages.append(_drop_message(frame.call_id, frame.seq, "stale"))
        else:
            fresh.append(frame)
    try:
        states = _call_states_for({f.call_id for f in fresh}) if fresh else {}
        engine = get_engine()
        located = []
        for frame in sorted(fresh, key=lambda f: (f.call_id, f.seq)):
            reason = states[frame.call_id]
            if reason is not None:
                messages.append(_drop_message(frame.call_id, frame.seq, reason))
                continue
            try:
                result, crop = engine.locate(
                    decode_jpeg(base64.b64decode(frame.jpeg_b64)), _prev_boxes.get(frame.call_id)
                )
            except BadFrame as exc:
                messages.append(_drop_message(frame.call_id, frame.seq, "bad_jpeg"))
                log.info("frame %s#%s rejected: %s", frame.call_id, frame.seq, exc.reason)
                continue
            _remember_box(frame.call_id, result.box)
            located.append((frame, result, crop))
        results = engine.classify_located([(result, crop) for _, result, crop in located])
        scored = [
            _Scored(frame, result, EmotionSample.fields_from_probs(result.probs))
            for (frame, _, _), result in zip(located, results, strict=True)
        ]
        stored = _insert_samples(scored) if scored else set()
        refused = [item for item in scored if (item.frame.call_id, item.frame.seq) not in stored]
        if refused:
            # Already stored (a redelivery), or the call ended / consent went away since the cached check.
            for item in refused:
                _call_states.pop(item.frame.call_id, None)
            states = _call_states_for({item.frame.call_id for item in refused})
            existing = set(
                EmotionSample.objects.filter(
                    call_id__in=states.keys(), seq__in={item.frame.seq for item in refused}
                ).values_list("call_id", "seq")
            )
            for item in refused:
                key = (item.frame.call_id, item.frame.seq)
                duplicate = (uuid.UUID(key[0]), key[1]) in existing
                reason = "duplicate" if duplicate else states[item.frame.call_id] or "no_consent"
                messages.append(_drop_message(*key, reason))
        messages += [_result_message(item) for item in scored if (item.frame.call_id, item.frame.seq) in stored]
    except (OperationalError, InterfaceError) as exc:
        # The database is down: these frames are dropped and counted; the page shows "analysis paused".
        connection.close()
        log.warning("%s frames dropped, database unavailable: %s", len(fresh), type(exc).__name__)
        settled = {(call_id, message["seq"]) for call_id, message in messages}
        messages += [_drop_message(f.call_id, f.seq, "paused") for f in fresh if (f.call_id, f.seq) not in settled]
    _send_all(messages)


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=settings.MIMIC_FRAME_ACKS_LATE,
    reject_on_worker_lost=True,
    soft_time_limit=settings.MIMIC_FRAME_SOFT_TIME_LIMIT,
    time_limit=settings.MIMIC_FRAME_TIME_LIMIT,
)
def analyze_frames(self, frames: list[list]) -> None:
    """A batch of frames from one daphne process (emotions.batching), usually of several calls.

    Acks-late: a worker that dies mid-batch gets it delivered again. A batch delivered again is split into
    one ``analyze_frame`` task per frame, so a frame that kills workers (poison) is dead-lettered alone by
    ReliableTask instead of taking the frames of other calls with it.
    """
    batch = [QueuedFrame.from_message(item) for item in frames]
    if getattr(self.request, "deliveries", 0) > 1 and len(batch) > 1:
        log.warning("batch %s delivered again: splitting %s frames", self.request.id, len(batch))
        for frame in batch:
            enqueue_frame(frame)
        return
    analyze_batch(batch)


@shared_task(
    ignore_result=True,
    acks_late=settings.MIMIC_FRAME_ACKS_LATE,
    reject_on_worker_lost=True,
    soft_time_limit=settings.MIMIC_FRAME_SOFT_TIME_LIMIT,
    time_limit=settings.MIMIC_FRAME_TIME_LIMIT,
)
def analyze_frame(call_id: str, seq: int, offset_ms: int, jpeg_b64: str, queued_ms: int) -> None:
    """One frame on its own (a split batch): ReliableTask dead-letters it by call and seq if it keeps
    killing workers. Running it twice stores once."""
    analyze_batch([QueuedFrame(call_id, seq, offset_ms, jpeg_b64, queued_ms)])


def _argsrepr(frames: list[QueuedFrame]) -> str:
    # Celery logs and events show argsrepr instead of the arguments: never the frame.
    return repr([f"{f.call_id}#{f.seq} <jpeg {len(f.jpeg_b64) * 3 // 4} bytes>" for f in frames])


def enqueue_frame(frame: QueuedFrame) -> None:
    analyze_frame.apply_async(frame.as_message(), argsrepr=_argsrepr([frame]), retry=False)


def enqueue_frames(frames: list[QueuedFrame]) -> None:
    """Publish a batch (no publish retries: during a Redis outage the frames are dropped and counted at once)."""
    analyze_frames.apply_async(([f.as_message() for f in frames],), argsrepr=_argsrepr(frames), retry=False)


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
