"""Celery tasks of live calls: frame batches (the work itself is calls.scoring) and ending idle calls.

Frames travel as raw JPEG bytes in msgpack task messages (transient: no result backend, results
ignored); JSON would carry them base64-encoded, a third larger, with an encode and a decode per frame.
They are never logged: Celery shows ``argsrepr`` (ids and sizes) instead of the arguments, and a frame
task's failures log only the call id and seq.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from calls.lifecycle import end_call
from calls.models import Call
from calls.scoring import QueuedFrame, analyze_batch, load_engine_sessions

log = logging.getLogger(__name__)


@worker_process_init.connect
def _load_engine_sessions(**kwargs) -> None:
    load_engine_sessions()


FRAME_TASK_OPTIONS = {
    "ignore_result": True,
    "acks_late": settings.MIMIC_FRAME_ACKS_LATE,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.MIMIC_FRAME_SOFT_TIME_LIMIT,
    "time_limit": settings.MIMIC_FRAME_TIME_LIMIT,
    "serializer": "msgpack",
}


@shared_task(bind=True, **FRAME_TASK_OPTIONS)
def analyze_frames(self, frames: list[list]) -> None:
    """A batch of frames from one daphne process (calls.batching), usually of several calls.

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


@shared_task(**FRAME_TASK_OPTIONS)
def analyze_frame(call_id: str, seq: int, offset_ms: int, jpeg: bytes, queued_ms: int) -> None:
    """One frame on its own (a split batch): ReliableTask dead-letters it by call and seq if it keeps
    killing workers. Running it twice stores once."""
    analyze_batch([QueuedFrame(call_id, seq, offset_ms, bytes(jpeg), queued_ms)])


def _argsrepr(frames: list[QueuedFrame]) -> str:
    # Celery logs and events show argsrepr instead of the arguments: never the frame.
    return repr([f"{f.call_id}#{f.seq} <jpeg {len(f.jpeg)} bytes>" for f in frames])


def enqueue_frame(frame: QueuedFrame) -> None:
    analyze_frame.apply_async(frame.as_message(), argsrepr=_argsrepr([frame]), retry=False)


def enqueue_frames(frames: list[QueuedFrame]) -> None:
    """Publish a batch (no publish retries: during a Redis outage the frames are dropped and counted at once)."""
    analyze_frames.apply_async(([f.as_message() for f in frames],), argsrepr=_argsrepr(frames), retry=False)


@shared_task(ignore_result=True)
def end_idle_calls() -> int:
    """End every live call without frames for MIMIC_IDLE_END_SECONDS (Celery beat, every 30 s)."""
    ended = 0
    for call_id in Call.objects.idle(settings.MIMIC_IDLE_END_SECONDS).values_list("pk", flat=True):
        ended += end_call(call_id, "idle")
    return ended
