"""The worker's side of a frame batch: check the calls, run the engine, store the scores, tell the managers.

Frames arrive in task messages only (calls.tasks) and exist in memory only; nothing here logs a frame.
The engine (ONNX Runtime) is imported on first use, so daphne, which publishes batches through
calls.tasks, never loads it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from calls.broadcast import send_to_calls
from calls.models import OPEN_STATUSES, Call, Consent, EmotionSample, ScoredFrame
from engine.frames import BadFrame

if TYPE_CHECKING:
    from engine.inference import Engine, FrameResult

log = logging.getLogger(__name__)

_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """This process's engine, built from settings (its ONNX sessions load on first use)."""
    global _engine
    if _engine is None:
        from engine.inference import Engine

        with _engine_lock:
            if _engine is None:
                _engine = Engine(
                    detector_path=settings.MIMIC_DETECTOR_PATH or None,
                    classifier_path=settings.MIMIC_CLASSIFIER_PATH or None,
                    max_frame_bytes=settings.MIMIC_FRAME_MAX_BYTES,
                )
    return _engine


def load_engine_sessions() -> None:
    """Load this process's ONNX sessions now (a worker process starting), so that its first frame does not
    wait for them: the classifier's load derives and checks its one-pass graph (engine.mirror)."""
    engine = get_engine()
    try:
        engine.detector  # noqa: B018 - the property loads the session
        engine.classifier  # noqa: B018
    except Exception as exc:  # noqa: BLE001 - a worker without its models still starts; each frame then fails
        log.error("engine models not loaded: %s: %s", type(exc).__name__, exc)


class CallStates:
    """Why frames of each call cannot be stored now (None: they can), cached for MIMIC_CALL_STATE_CACHE_MS.

    Only saves inference on frames that could not be stored: the write re-checks consent under a row lock,
    so a withdrawal is honoured at once whatever this cache says. One query for all cache misses.
    """

    def __init__(self, max_calls: int = 2000) -> None:
        self.max_calls = max_calls
        self._states: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    def forget(self, call_id: str) -> None:
        self._states.pop(call_id, None)

    def clear(self) -> None:
        self._states.clear()

    def get(self, call_ids: set[str]) -> dict[str, str | None]:
        now = time.monotonic()
        states: dict[str, str | None] = {}
        for call_id in call_ids:
            cached = self._states.get(call_id)
            if cached is not None and cached[0] > now:
                states[call_id] = cached[1]
        missing = call_ids - states.keys()
        if not missing:
            return states
        found = self._query(missing)
        valid_until = now + settings.MIMIC_CALL_STATE_CACHE_MS / 1000
        for call_id in missing:
            state = found.get(call_id)
            if state is None or state[0] not in OPEN_STATUSES:
                states[call_id] = "ended"
            else:
                states[call_id] = None if state[1] else "no_consent"
            self._states[call_id] = (valid_until, states[call_id])
            self._states.move_to_end(call_id)
        while len(self._states) > self.max_calls:
            self._states.popitem(last=False)
        return states

    @staticmethod
    def _query(call_ids: set[str]) -> dict[str, tuple[str, bool]]:
        # Plain SQL: building the equivalent ORM query cost more than running it, once per call and second.
        call, consent = Call._meta.db_table, Consent._meta.db_table
        pk = Call._meta.pk
        ids = [pk.get_db_prep_value(call_id, connection) for call_id in call_ids]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT k.id, k.status, EXISTS (SELECT 1 FROM {consent} c WHERE c.call_id = k.id "
                f"AND c.withdrawn_at IS NULL) FROM {call} k WHERE k.id IN ({', '.join(['%s'] * len(ids))})",
                ids,
            )
            return {str(pk.to_python(row[0])): (row[1], bool(row[2])) for row in cursor.fetchall()}


call_states = CallStates()


def reset() -> None:
    """Forget this process's engine, tracked faces and cached call states (tests; a changed model path)."""
    global _engine
    with _engine_lock:
        _engine = None
    call_states.clear()


@dataclass
class QueuedFrame:
    """One frame as it travels in a task message: ``[call_id, seq, offset_ms, jpeg, queued_ms]``, the JPEG as
    raw bytes (msgpack bin, calls.tasks)."""

    call_id: str
    seq: int
    offset_ms: int
    jpeg: bytes
    queued_ms: int

    @classmethod
    def from_message(cls, item: list | tuple) -> QueuedFrame:
        call_id, seq, offset_ms, jpeg, queued_ms = item
        return cls(str(call_id), int(seq), int(offset_ms), bytes(jpeg), int(queued_ms))

    def as_message(self) -> list:
        return [self.call_id, self.seq, self.offset_ms, self.jpeg, self.queued_ms]

    def scored(self, result: FrameResult) -> ScoredFrame:
        return ScoredFrame(
            self.call_id,
            self.seq,
            self.offset_ms,
            result.face_found,
            result.probs,
            result.label or "",
            result.valence or "",
            result.flags,
        )


def _send_all(messages: list[tuple[str, dict]]) -> None:
    """Best-effort messages to the managers' sockets, in one hop: a Redis outage must not fail stored frames."""
    if not messages:
        return
    try:
        send_to_calls(messages, managers_only=True)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not notify %s calls: %s", len({c for c, _ in messages}), type(exc).__name__)


def drop_message(call_id: str, seq: int, reason: str) -> tuple[str, dict]:
    # Counted on the manager's socket (and by bench/live_load.py): no frame disappears silently.
    return call_id, {"type": "frame.dropped", "seq": seq, "reason": reason}


def _result_message(item: ScoredFrame) -> tuple[str, dict]:
    return item.call_id, {
        "type": "frame.result",
        "seq": item.seq,
        "offset_ms": item.offset_ms,
        "face_found": item.face_found,
        "probs": item.probs,
        "label": item.label,
        "valence": item.valence,
        "flags": item.flags,
    }


def analyze_batch(frames: list[QueuedFrame]) -> None:
    """Analyse frames of any live calls and store each one's scores once per (call, seq); tell the managers.

    Frames of the same call are analysed in order (the engine tracks the face from one to the next); every
    face of the batch is classified in one ONNX run, stored in one statement and announced in one hop to the
    channel layer. A frame that waited longer than MIMIC_FRAME_STALE_MS is dropped as "stale" (counted): a
    late score is worthless live. Running a batch twice stores each frame once.
    """
    messages: list[tuple[str, dict]] = []
    now_ms = time.time() * 1000
    fresh = []
    for frame in frames:
        if now_ms - frame.queued_ms > settings.MIMIC_FRAME_STALE_MS:
            messages.append(drop_message(frame.call_id, frame.seq, "stale"))
        else:
            fresh.append(frame)
    try:
        states = call_states.get({f.call_id for f in fresh}) if fresh else {}
        runnable = []
        for frame in sorted(fresh, key=lambda f: (f.call_id, f.seq)):
            reason = states[frame.call_id]
            if reason is not None:
                messages.append(drop_message(frame.call_id, frame.seq, reason))
            else:
                runnable.append(frame)
        results = get_engine().analyze_many([(f.call_id, f.jpeg) for f in runnable])
        scored = []
        for frame, result in zip(runnable, results, strict=True):
            if isinstance(result, BadFrame):
                messages.append(drop_message(frame.call_id, frame.seq, "bad_jpeg"))
                log.info("frame %s#%s rejected: %s", frame.call_id, frame.seq, result.reason)
            else:
                scored.append(frame.scored(result))
        invalid: list[ScoredFrame] = []
        stored = EmotionSample.objects.store_live(scored, invalid)
        messages += [drop_message(item.call_id, item.seq, "invalid") for item in invalid]
        settled = stored | {(item.call_id, item.seq) for item in invalid}
        refused = [item for item in scored if (item.call_id, item.seq) not in settled]
        if refused:
            messages += _refusals(refused)
        messages += [_result_message(item) for item in scored if (item.call_id, item.seq) in stored]
    except (OperationalError, InterfaceError) as exc:
        # The database is down: these frames are dropped and counted; the page shows "analysis paused".
        connection.close()
        log.warning("%s frames dropped, database unavailable: %s", len(fresh), type(exc).__name__)
        settled = {(call_id, message["seq"]) for call_id, message in messages}
        messages += [drop_message(f.call_id, f.seq, "paused") for f in fresh if (f.call_id, f.seq) not in settled]
    _send_all(messages)


def _refusals(refused: list[ScoredFrame]) -> list[tuple[str, dict]]:
    """Why frames were not inserted: already stored (a redelivery), or the call ended or its consent went
    away since the cached check."""
    for item in refused:
        call_states.forget(item.call_id)
    states = call_states.get({item.call_id for item in refused})
    existing = set(
        EmotionSample.objects.filter(call_id__in=states.keys(), seq__in={item.seq for item in refused}).values_list(
            "call_id", "seq"
        )
    )
    messages = []
    for item in refused:
        duplicate = (uuid.UUID(item.call_id), item.seq) in existing
        reason = "duplicate" if duplicate else states[item.call_id] or "no_consent"
        messages.append(drop_message(item.call_id, item.seq, reason))
    return messages
