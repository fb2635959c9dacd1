"""One simulated live call over real WebSockets: the client's page (frontend/stream.js) and the manager's page.

The one implementation of the browser's capture protocol outside the browser, shared by the fault tests
(tests/system/test_faults.py) and the load bench (bench/live_load.py). The client side does what
``LiveSocket`` in frontend/stream.js does:

* on open it sends ``{"t": "hello", "now": <ms>}`` (the server's clock skew), then every unanswered frame
  again, oldest first, under the same seq; the server's hello raises the seq counter to its ``next_seq``
  (a reloaded page goes on after what is stored; an ongoing one keeps its own counter);
* frames are ``uint32 seq | uint64 capture_ms | JPEG`` (calls.protocol.pack_frame), one per tick at ``fps``;
  each waits for its one reply (``ack`` or ``drop`` with a reason) and is kept until then;
* backpressure: with ``max_unacked`` frames unanswered a tick takes no frame (and no seq) and counts it as
  dropped; while the server says "paused" a tick likewise only counts (unless ``send_while_paused``);
* capture goes on while the socket is away (frames wait in ``unacked``, then go on the next open);
  reconnects back off as the page does (0.5 s doubling up to 10 s, jittered, reset by the server's hello)
  and stop for good on the page's final close codes.

The manager side is the manager page's socket (frontend/live.js, the same LiveSocket): it records every
message, every ``score`` and every worker drop (``{"t": "drop", "stage": "worker"}``).

Each frame this page captured is *settled* exactly once, by the first of: its score, its worker drop, or the
server's drop reply. ``on_settle(seq, reason, latency_ms)`` reports it as it happens: ``reason`` is None for a
score (``latency_ms``: from the frame's first send to the score's arrival on the manager socket),
``"server_<reason>"`` or ``"worker_<reason>"``; a frame a tick did not take is reported with seq None and
``"client_backpressure"`` or ``"client_paused"``. ``ticks`` counts every frame the page would have sent.

Use it as an async context manager that runs until left (the fault tests), or ``await run()`` with
``seconds``: capture for that long, then drain (up to ``drain_s`` for every captured frame to settle).

No Django at import time: ``calls.protocol`` (which imports Django's signing) is imported by the constructor.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable

# frontend/stream.js: FINAL_CLOSE_CODES (auth, forbidden, not found, replaced, consent, ended, bad frames, bad message,
# abuse)
FINAL_CLOSE_CODES = frozenset({4001, 4003, 4004, 4009, 4010, 4011, 4012, 4400, 4422, 4429})
MAX_UNACKED = 8  # stream.js maxUnacked (calls.protocol.MAX_UNACKED)


def backoff_s(attempt: int) -> float:
    """stream.js's reconnect delay: min(10 s, 0.5 s * 2^attempt), times a random 0.5..1."""
    return min(10.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)


class SimulatedCall:
    """One call: the client page sends frames at ``fps``; every seq ends scored, dropped or still unanswered."""

    def __init__(
        self,
        base_url: str,
        call: dict,
        fps: float = 4.0,
        *,
        frames: list[bytes] | None = None,
        seconds: float | None = None,
        drain_s: float = 15.0,
        max_unacked: int = MAX_UNACKED,
        send_while_paused: bool = False,
        phase_s: float = 0.0,
        start_timeout: float = 30.0,
        on_settle: Callable[[int | None, str | None, float | None], None] | None = None,
    ) -> None:
        """``call``: ``call_id``, ``token`` (the client link's) and ``cookie`` (the manager's session).

        ``frames``: JPEGs, frame ``seq`` sends ``frames[seq % len]`` (default: tests/data/cremad's faces).
        ``seconds``: how long ``run()`` captures (None: until ``stop_capture()`` or leaving the context).
        ``send_while_paused``: keep sending while the server says "paused", as a page that has not heard yet
        would; the outage tests use it so that frames reach the server during the outage.
        ``phase_s``: delay of the first tick once the client socket is open (calls do not tick in lockstep).
        """
        from calls.protocol import pack_frame

        if frames is None:
            from tests.support.services import frame_jpegs

            frames = frame_jpegs()
        self._pack = pack_frame
        self.ws_base = base_url.replace("http", "ws", 1)
        self.origin = base_url
        self.call = call
        self.fps = fps
        self.frames = frames
        self.seconds = seconds
        self.drain_s = drain_s
        self.max_unacked = max_unacked
        self.send_while_paused = send_while_paused
        self.phase_s = phase_s
        self.start_timeout = start_timeout
        self.on_settle = on_settle
        # The page's state (stream.js LiveSocket)
        self.next_seq = 0
        self.unacked: dict[int, bytes] = {}  # seq -> message, until the server replies
        self.paused = False
        self.closed_for: int | None = None  # a final close code of the client socket: no reconnect
        self.reconnects = 0
        self.resent = 0
        self.skipped: Counter[str] = Counter()  # ticks that took no frame: "backpressure", "paused"
        # What the server said
        self.acked: set[int] = set()
        self.client_drops: dict[int, str] = {}  # seq -> reason, the server's drop replies on the client socket
        self.scores: list[int] = []  # seqs in arrival order on the manager socket (duplicates would show here)
        self.worker_drops: dict[int, str] = {}
        self.manager_events: list[dict] = []
        # Per frame (perf_counter): captured, first sent; and its one outcome ("scored" or the drop's reason)
        self.captured: dict[int, float] = {}
        self.sent_at: dict[int, float] = {}
        self.settled: dict[int, str] = {}
        self._ws = None  # the open client socket, set once its hello and resends are out
        self._send_lock = asyncio.Lock()
        self._closing = asyncio.Event()
        self._capture_stop = asyncio.Event()
        self._client_ready = asyncio.Event()  # the server's first hello on the client socket
        self._manager_ready = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._capture_task: asyncio.Task | None = None

    # --- figures ------------------------------------------------------------------------------------
    @property
    def ticks(self) -> int:
        """Every frame the page would have sent: those given a seq and those a tick did not take."""
        return len(self.captured) + sum(self.skipped.values())

    @property
    def unsettled(self) -> list[int]:
        return sorted(self.captured.keys() - self.settled.keys())

    def events(self, kind: str) -> list[dict]:
        return [m for m in self.manager_events if m["t"] == kind]

    def _settle(self, seq: int | None, reason: str | None) -> None:
        if seq is not None:
            if seq not in self.captured or seq in self.settled:
                return
            self.settled[seq] = reason or "scored"
        if self.on_settle is not None:
            latency = None
            if reason is None:  # sent, unless its send raised after the bytes were out: then from its capture
                latency = (time.perf_counter() - self.sent_at.get(seq, self.captured[seq])) * 1000
            self.on_settle(seq, reason, latency)

    # --- running --------------------------------------------------------------------------------------
    async def start(self) -> SimulatedCall:
        """The manager's socket, then the client's; returns once both have the server's hello."""
        self._tasks = [asyncio.create_task(self._manager_loop())]
        await self._ready(self._manager_ready, "manager")
        self._tasks.append(asyncio.create_task(self._client_loop()))
        await self._ready(self._client_ready, "client")
        self._capture_task = asyncio.create_task(self._capture())
        self._tasks.append(self._capture_task)
        return self

    async def _ready(self, event: asyncio.Event, side: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not event.is_set():
            self._raise_failed()
            if time.monotonic() > deadline or (side == "client" and self.closed_for is not None):
                await self.close()
                raise RuntimeError(f"the {side} socket of call {self.call['call_id']} did not open "
                                   f"(close code {self.closed_for})")  # fmt: skip
            await asyncio.sleep(0.02)

    def stop_capture(self) -> None:
        self._capture_stop.set()

    async def run(self) -> None:
        """Capture for ``seconds``, then drain: up to ``drain_s`` for every captured frame to be settled."""
        if self.seconds is None:
            raise ValueError("run() needs seconds")
        await self.start()
        try:
            await self._capture_task
            await self.wait_for(lambda: len(self.settled) == len(self.captured), self.drain_s, raise_=False)
        finally:
            await self.close()

    async def close(self) -> None:
        self._closing.set()
        self._capture_stop.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> SimulatedCall:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _raise_failed(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()

    async def wait_for(self, predicate, timeout: float = 20.0, raise_: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            self._raise_failed()
            if time.monotonic() > deadline:
                if raise_:
                    raise AssertionError(f"not reached in {timeout}s; manager saw {self.manager_events[-5:]}")
                return False
            await asyncio.sleep(0.05)
        return True

    # --- the client page ------------------------------------------------------------------------------
    async def _capture(self) -> None:
        """stream.js tick() at ``fps`` on a fixed schedule; a late tick is taken at once, never left out."""
        await asyncio.sleep(self.phase_s)
        start = time.monotonic()
        k = 0
        while not self._capture_stop.is_set() and (self.seconds is None or k / self.fps < self.seconds):
            delay = start + k / self.fps - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._capture_stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            await self._tick()
            k += 1

    async def _tick(self) -> None:
        if self.paused and not self.send_while_paused:
            self.skipped["paused"] += 1  # analysis paused on the server: not even encoded; counted
            self._settle(None, "client_paused")
            return
        if len(self.unacked) >= self.max_unacked:
            self.skipped["backpressure"] += 1  # the newest frame is the one not taken; counted
            self._settle(None, "client_backpressure")
            return
        seq = self.next_seq
        self.next_seq += 1
        message = self._pack(seq, int(time.time() * 1000), self.frames[seq % len(self.frames)])
        self.unacked[seq] = message
        self.captured[seq] = time.perf_counter()
        async with self._send_lock:
            if self._ws is not None:
                await self._send(self._ws, seq, message)

    async def _send(self, ws, seq: int, message: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        at = time.perf_counter()
        try:
            await ws.send(message)
        except ConnectionClosed:
            return  # kept in unacked: the next open sends it again
        self.sent_at.setdefault(seq, at)

    async def _on_open(self, ws) -> None:
        async with self._send_lock:
            await ws.send(json.dumps({"t": "hello", "now": int(time.time() * 1000)}))
            # Resume: everything not yet answered goes again, oldest first, under the same seq.
            for seq in sorted(self.unacked):
                await self._send(ws, seq, self.unacked[seq])
                self.resent += 1
            self._ws = ws

    def _on_client_message(self, msg: dict) -> None:
        kind = msg.get("t")
        if kind == "paused":
            self.paused = True
        elif kind == "resumed":
            self.paused = False
        elif kind == "hello":
            self.paused = False
            self.next_seq = max(self.next_seq, msg.get("next_seq") or 0)
            self._client_ready.set()
        elif kind == "ack":
            self.unacked.pop(msg["seq"], None)
            self.acked.add(msg["seq"])
        elif kind == "drop" and not msg.get("stage"):
            self.unacked.pop(msg["seq"], None)
            if msg["seq"] is not None:
                self.client_drops[msg["seq"]] = msg["reason"]
                self._settle(msg["seq"], f"server_{msg['reason']}")

    async def _client_loop(self) -> None:
        url = f"{self.ws_base}/ws/calls/{self.call['call_id']}/capture/?token={self.call['token']}"

        async def opened(ws) -> None:
            await self._on_open(ws)

        def closed(code: int | None) -> None:
            self._ws = None
            if code in FINAL_CLOSE_CODES:
                self.closed_for = code
                self._capture_stop.set()
            else:
                self.reconnects += 1

        await self._socket_loop(url, {}, opened, self._on_client_message, closed, lambda: self.closed_for is not None)

    # --- the manager page -----------------------------------------------------------------------------
    def _on_manager_message(self, msg: dict) -> None:
        self.manager_events.append(msg)
        kind = msg.get("t")
        if kind == "hello":
            self._manager_ready.set()
        elif kind == "score":
            self.scores.append(msg["seq"])
            self._settle(msg["seq"], None)
        elif kind == "drop":
            self.worker_drops[msg["seq"]] = msg["reason"]
            self._settle(msg["seq"], f"worker_{msg['reason']}")

    async def _manager_loop(self) -> None:
        url = f"{self.ws_base}/ws/calls/{self.call['call_id']}/live/"
        final: list[int] = []

        async def opened(ws) -> None:
            await ws.send(json.dumps({"t": "hello", "now": int(time.time() * 1000)}))  # the same LiveSocket

        def closed(code: int | None) -> None:
            if code in FINAL_CLOSE_CODES:
                final.append(code)

        headers = {"Cookie": self.call["cookie"]}
        await self._socket_loop(url, headers, opened, self._on_manager_message, closed, lambda: bool(final))

    # --- one socket, reconnecting as stream.js connect() does ------------------------------------------
    async def _socket_loop(self, url, headers, opened, on_message, closed, final) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        attempt = 0
        while not self._closing.is_set():
            code = None
            try:
                async with connect(url, origin=self.origin, additional_headers=headers, open_timeout=3,
                                   max_size=None) as ws:  # fmt: skip
                    try:
                        await opened(ws)
                        async for raw in ws:
                            if not isinstance(raw, str):
                                continue
                            try:
                                msg = json.loads(raw)
                            except ValueError:
                                continue
                            if msg.get("t") == "hello":
                                attempt = 0
                            on_message(msg)
                    finally:
                        code = ws.close_code
            except (OSError, TimeoutError, EOFError, WebSocketException):
                pass  # refused, reset or closed: the server went away; reconnect as the page does
            if self._closing.is_set():
                return
            closed(code)
            if final():
                return
            delay = backoff_s(attempt)
            attempt += 1
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
                return
            except TimeoutError:
                pass
