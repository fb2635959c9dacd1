"""WebSocket consumers of a live call: the client's camera socket and the manager's live socket.

Protocol (frame format, replies, close codes): calls.protocol and docs/live.md.

* ``ws/calls/<id>/capture/?token=...``: the client page; authenticated by the signed client link,
  refused (4010) before any frame is read unless the client has consented.
* ``ws/calls/<id>/live/``: the manager page; authenticated by the session, this call's manager
  only. It receives scores and may send frames itself (call-window capture, the fallback
  mode), which are accepted only while the client's consent exists.

One socket per call and role: a newer socket of the same browser replaces the older one (closed with 4009),
because a reconnecting browser must never be locked out by its own half-dead previous socket. The client's
socket is bound to the browser that consented (calls.devices): without its cookie a socket is refused (4010);
another browser that consented too waits (4013) while the first one's socket is open, never the other way round.
The Origin header is checked in the ASGI stack before either consumer runs (lib.origins, webapp/asgi.py).

I/O only: the admission rules are calls.protocol, the live mood rule engine.analytics.LiveMood.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from calls import devices, protocol
from calls.batching import get_batcher
from calls.broadcast import group_name, manager_group_name
from calls.health import health, queue_depth
from calls.lifecycle import end_call
from calls.models import Call, CallStatus, Consent, EmotionSample
from calls.protocol import CloseCode
from calls.scoring import QueuedFrame
from engine.analytics import LiveMood
from engine.labels import EXPRESSIONS

log = logging.getLogger(__name__)

HISTORY_MS = 5 * 60 * 1000


class _CallSocket(AsyncWebsocketConsumer):
    role = ""
    device = ""  # the client's browser (calls.devices); the manager's sockets have none
    joined = False
    watchdog: asyncio.Task | None = None
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        self.call_id = self.scope["url_route"]["kwargs"]["call_id"]
        code = await self.authorize()
        await self.accept()
        if code:
            await self.close(code)
            return
        self.group = group_name(self.call_id)
        self.opened_at = time.time()
        self.groups_joined = (self.group, manager_group_name(self.call_id)) if self.role == "manager" else (self.group,)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = True
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "socket.replaced",
                "role": self.role,
                "channel": self.channel_name,
                "opened_at": self.opened_at,
                "device": self.device,
            },
        )
        self.fps = self.call.capture_fps
        self.rate = protocol.RateGuard(self.fps)
        self.counts: Counter[str] = Counter()
        self.bad_in_a_row = 0
        self.skew_ms: int | None = None
        self.started_ms = int((self.call.started_at or timezone.now()).timestamp() * 1000)
        self.last_touch = 0.0
        self.paused_drops = 0
        if settings.MIMIC_SOCKET_IDLE_CHECK:
            self.watchdog = asyncio.create_task(self.watch_idle())
        await self.send_json(await self.hello())
        health.subscribe(self.on_health)
        if health.down:
            await self.on_health(health.down)

    async def authorize(self) -> int | None:
        raise NotImplementedError

    async def hello(self) -> dict:
        raise NotImplementedError

    async def disconnect(self, code: int) -> None:
        health.unsubscribe(self.on_health)
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.joined:
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)
            if self.counts:
                log.info("%s socket of call %s closed (%s): %s", self.role, self.call_id, code, dict(self.counts))

    async def dispatch(self, message: dict) -> None:
        # Channels first runs close_old_connections through sync_to_async before every handler: a hop to the
        # thread-sensitive executor for each frame and each score, the largest cost of daphne at load. These
        # handlers reach the database only through database_sync_to_async, which does the same in its thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send_json(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data, separators=(",", ":")))

    # --- frames -------------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            await self.receive_frame(bytes_data)
            return
        try:
            message = protocol.parse_text(text_data)
            if message["t"] == "hello":
                # The browser's clock against ours: capture times become offsets on the server's timeline.
                self.skew_ms = int(time.time() * 1000) - protocol.client_clock_ms(message.get("now"))
        except protocol.BadMessage as exc:
            self.counts["bad_message"] += 1
            log.info("%s socket of call %s sent a bad message: %s", self.role, self.call_id, exc)
            await self.close(CloseCode.BAD_MESSAGE)

    def may_send_frames(self) -> bool:
        return True

    async def drop(self, seq: int | None, reason: str, bad: bool = False) -> None:
        self.counts[f"dropped_{reason}"] += 1
        await self.send_json({"t": "drop", "seq": seq, "reason": reason})
        if bad:
            self.bad_in_a_row += 1
            if self.bad_in_a_row > protocol.MAX_BAD_IN_A_ROW:
                await self.close(CloseCode.BAD_FRAMES)

    async def receive_frame(self, data: bytes) -> None:
        seq, capture_ms, invalid = protocol.admit_frame(data, settings.MIMIC_FRAME_MAX_BYTES)
        if invalid is not None:
            await self.drop(seq, invalid, bad=True)
            return
        now_ms = int(time.time() * 1000)
        if self.skew_ms is None and 0 <= capture_ms <= protocol.MAX_CLIENT_MS:
            self.skew_ms = now_ms - capture_ms
        offset_ms = protocol.capture_offset_ms(capture_ms, self.skew_ms or 0, self.started_ms, now_ms)
        if offset_ms is None:
            # A capture time no browser clock gives: checked here, so it never reaches a batch insert.
            await self.drop(seq, "bad_time", bad=True)
            return
        self.bad_in_a_row = 0
        if not self.may_send_frames():
            await self.drop(seq, "no_consent")
            return
        now = time.monotonic()
        rate = self.rate.admit(now)
        if rate != "ok":
            await self.drop(seq, "rate")
            if rate == "abuse":
                await self.close(CloseCode.RATE_ABUSE)
            return
        if health.down:
            # Redis or the database is down: the frame could not be analysed or stored; counted, not queued.
            await self.drop_paused(seq)
            return
        batcher = get_batcher()
        if await queue_depth.get() * batcher.mean_batch_size >= settings.MIMIC_QUEUE_MAX_DEPTH:
            # Backpressure: the workers are behind; queueing more would only raise everyone's latency.
            await self.drop(seq, "backpressure")
            return
        stored_seq = seq + (protocol.MANAGER_SEQ_BASE if self.role == "manager" else 0)
        jpeg = data[protocol.HEADER_BYTES :]
        try:
            # Published with other sockets' frames as one task (calls.batching), off the event loop.
            await batcher.submit(QueuedFrame(str(self.call_id), stored_seq, offset_ms, jpeg, now_ms))
        except _BROKER_ERRORS as exc:
            log.warning("enqueue failed for call %s: %s", self.call_id, type(exc).__name__)
            await health.mark_down("redis")
            await self.drop_paused(seq)
            return
        self.counts["accepted"] += 1
        await self.send_json({"t": "ack", "seq": seq})
        # The idle-end rule only needs "a frame lately": a write every 15 s per call (at most 1/8 of the idle
        # limit) ends a silent call within 12.5 % of its limit, at a third of the UPDATEs of every 5 s.
        if now - self.last_touch >= min(15.0, settings.MIMIC_IDLE_END_SECONDS / 8):
            self.last_touch = now
            await self.touch()

    async def touch(self) -> None:
        try:
            await self._touch()
        except DatabaseError:
            await health.mark_down("database")

    @database_sync_to_async
    def _touch(self) -> None:
        Call.objects.touch(self.call_id)

    async def drop_paused(self, seq: int) -> None:
        self.paused_drops += 1
        await self.drop(seq, "paused")

    # --- outages ----------------------------------------------------------------------------------
    async def on_health(self, down: frozenset[str]) -> None:
        """Redis or the database went away or came back (calls.health)."""
        if down:
            await self.send_json({"t": "paused", "services": sorted(down)})
            return
        # Back: a restarted Redis has forgotten the groups; join them again (idempotent).
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"t": "resumed"})
        if self.paused_drops:
            # The manager's page counts the frames this socket dropped during the pause.
            await self.channel_layer.group_send(
                manager_group_name(self.call_id),
                {"type": "frames.dropped", "reason": "paused", "count": self.paused_drops, "role": self.role},
            )
            self.paused_drops = 0

    # --- ending ---------------------------------------------------------------------------------
    async def watch_idle(self) -> None:
        """Embedded mode has no Celery beat: every open socket checks its own call for idleness."""
        period = max(0.5, min(10.0, settings.MIMIC_IDLE_END_SECONDS / 4))
        try:
            while True:
                await asyncio.sleep(period)
                try:
                    await self.end_if_idle()
                except DatabaseError:
                    pass  # the database is down; the health monitor shows the pause
        except asyncio.CancelledError:
            pass

    @database_sync_to_async
    def end_if_idle(self) -> bool:
        if Call.objects.idle(settings.MIMIC_IDLE_END_SECONDS).filter(pk=self.call_id).exists():
            return end_call(self.call_id, "idle")
        return False

    # --- group events ---------------------------------------------------------------------------
    async def socket_replaced(self, event: dict) -> None:
        # Only a newer socket replaces this one: with Pub/Sub a group message reaches the members present when it
        # arrives, so an older socket's announcement can reach a socket that joined after it was sent.
        newer = (event.get("opened_at", 0.0), event["channel"]) > (self.opened_at, self.channel_name)
        if event["role"] != self.role or not newer:  # this socket's own announcement is not newer than itself
            return
        if event.get("device", "") == self.device:
            await self.close(CloseCode.REPLACED)  # the same browser reconnecting, or its second tab
        else:
            # Another consented browser: the one capturing keeps its socket; the newer one waits and retries.
            await self.channel_layer.send(event["channel"], {"type": "socket.busy"})

    async def socket_busy(self, event: dict) -> None:
        await self.close(CloseCode.DEVICE_BUSY)

    async def frame_result(self, event: dict) -> None:
        pass

    async def frame_dropped(self, event: dict) -> None:
        pass

    async def frames_dropped(self, event: dict) -> None:
        pass

    async def call_report(self, event: dict) -> None:
        pass

    async def illustration_show(self, event: dict) -> None:
        pass  # only the client's page shows it

    async def illustration_hide(self, event: dict) -> None:
        pass


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


_BROKER_ERRORS = _broker_errors()


class ClientCaptureConsumer(_CallSocket):
    """The client's camera: frames in, acks out. Refused without a valid token and active consent."""

    role = "client"

    async def authorize(self) -> int | None:
        token = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        self.token = token
        token_call = protocol.call_id_from_token(token)
        if token_call is None or token_call != self.call_id:
            return CloseCode.AUTH_REQUIRED
        return await self._check_call()

    @database_sync_to_async
    def _check_call(self) -> int | None:
        self.call = Call.objects.filter(pk=self.call_id).first()
        if self.call is None:
            return CloseCode.NOT_FOUND
        if not self.call.is_open:
            return CloseCode.CALL_ENDED
        # Only the browser that consented: a link without that browser's device cookie is refused here, before
        # it could replace the client's socket.
        self.device = devices.key_hash(self.scope.get("cookies", {}).get(devices.cookie_name(self.call_id)))
        if not Consent.objects.active().filter(call=self.call).for_device(self.device).exists():
            return CloseCode.NO_CONSENT
        if self.call.status == CallStatus.SCHEDULED and Call.objects.start(self.call.pk):
            self.call.refresh_from_db()
        return None

    async def hello(self) -> dict:
        return {"t": "hello", "role": self.role, "fps": self.fps, "next_seq": await self._next_seq()}

    @database_sync_to_async
    def _next_seq(self) -> int:
        # A reloaded page resumes after what is stored (the browser's own counter wins when higher).
        last = (
            EmotionSample.objects.filter(call_id=self.call_id, seq__lt=protocol.MANAGER_SEQ_BASE)
            .order_by("-seq")
            .values_list("seq", flat=True)
            .first()
        )
        return 0 if last is None else last + 1

    async def call_ended(self, event: dict) -> None:
        await self.send_json({"t": "ended", "feedback_url": protocol.feedback_url(self.token)})
        await self.close(CloseCode.CALL_ENDED)

    async def consent_changed(self, event: dict) -> None:
        if event["state"] == "withdrawn":
            await self.send_json({"t": "withdrawn"})
            await self.close(CloseCode.CONSENT_WITHDRAWN)

    async def illustration_show(self, event: dict) -> None:
        # What the manager chose to show: the client's page displays it and reports when it is on screen.
        keys = ("title", "url", "svg", "svg_narrow", "look")
        await self.send_json({"t": "show", **{key: str(event.get(key, "")) for key in keys}})

    async def illustration_hide(self, event: dict) -> None:
        await self.send_json({"t": "hide"})


class ManagerLiveConsumer(_CallSocket):
    """The manager's live view: smoothed scores, the negative-share alert, end and withdrawal events."""

    role = "manager"

    async def authorize(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CloseCode.AUTH_REQUIRED
        return await self._check_call(user.pk)

    @database_sync_to_async
    def _check_call(self, user_id: int) -> int | None:
        self.call = Call.objects.filter(pk=self.call_id).first()
        if self.call is None:
            return CloseCode.NOT_FOUND
        if self.call.manager_id != user_id:
            return CloseCode.FORBIDDEN
        if not self.call.is_open:
            return CloseCode.CALL_ENDED
        self.consented = Consent.objects.active().filter(call=self.call).exists()
        return None

    async def connect(self) -> None:
        self.mood = LiveMood(
            settings.MIMIC_ALERT_WINDOW_SECONDS, settings.MIMIC_ALERT_NEGATIVE_SHARE, settings.MIMIC_SMOOTHING_FRAMES
        )
        await super().connect()

    def may_send_frames(self) -> bool:
        # Call-window capture: the manager cannot consent for the client; the client's record must exist.
        return self.consented

    async def hello(self) -> dict:
        return {
            "t": "hello",
            "role": self.role,
            "fps": self.fps,
            "consent": self.consented,
            "expressions": list(EXPRESSIONS),
            "alert_window_s": settings.MIMIC_ALERT_WINDOW_SECONDS,
            "alert_share": settings.MIMIC_ALERT_NEGATIVE_SHARE,
            "history": await self._history(),
        }

    @database_sync_to_async
    def _history(self) -> list[list]:
        """The last minutes of scores, so a reloaded page redraws its timeline strip."""
        rows = list(
            EmotionSample.objects.filter(call_id=self.call_id)
            .order_by("-offset_ms")
            .values_list("offset_ms", "face_found", "label", "valence")[:600]
        )
        if not rows:
            return []
        newest = rows[0][0]
        return [list(r) for r in reversed(rows) if r[0] >= newest - HISTORY_MS]

    async def frame_result(self, event: dict) -> None:
        mood = self.mood.push(time.monotonic(), event["face_found"], event["probs"])
        await self.send_json(
            {
                "t": "score",
                "seq": event["seq"],
                "offset_ms": event["offset_ms"],
                "face_found": event["face_found"],
                "probs": event["probs"],
                "label": event["label"],
                "valence": event["valence"],
                "flags": event["flags"],
                **mood,
            }
        )

    async def frame_dropped(self, event: dict) -> None:
        await self.send_json({"t": "drop", "seq": event["seq"], "reason": event["reason"], "stage": "worker"})

    async def frames_dropped(self, event: dict) -> None:
        if event["role"] != self.role:  # this socket's own drops were already answered one by one
            await self.send_json({"t": "drops", "reason": event["reason"], "count": event["count"], "stage": "client"})

    async def call_ended(self, event: dict) -> None:
        await self.send_json({"t": "ended", "reason": event["reason"]})

    async def call_report(self, event: dict) -> None:
        await self.send_json({"t": "report", "url": event["url"]})
        await self.close(CloseCode.CALL_ENDED)

    async def consent_changed(self, event: dict) -> None:
        self.consented = event["state"] == "given"
        message = {"t": "consent", "state": event["state"], "by": event.get("by")}
        if event.get("devices", 1) > 1:
            message["devices"] = event["devices"]  # another browser consented too (a Notification says so)
        await self.send_json(message)
        if event["state"] == "withdrawn":
            await self.close(CloseCode.CONSENT_WITHDRAWN)
