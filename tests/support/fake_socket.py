"""The server's side of a page's WebSocket in Playwright (``page.route_web_socket``), for browser tests on Django's
live server, which speaks HTTP only: what the test sends is what the consumer would send (docs/live.md)."""

from __future__ import annotations

import json
import re

LIVE_PATH = re.compile(r"/ws/calls/[0-9a-f-]+/live/$")
CAPTURE_PATH = re.compile(r"/ws/calls/[0-9a-f-]+/capture/")


class FakeSocket:
    """Accepts the page's socket on ``path``; text messages are kept in ``received``, binary frames counted in
    ``frames`` and, with ``ack_frames``, answered ``{t: "ack"}`` as CaptureConsumer does."""

    def __init__(self, page, path: re.Pattern = LIVE_PATH, ack_frames: bool = False) -> None:
        self.page = page
        self.ack_frames = ack_frames
        self.routes: list = []
        self.received: list[str] = []
        self.frames = 0
        page.route_web_socket(path, self._accept)

    def _accept(self, route) -> None:
        route.on_message(lambda message: self._on_message(route, message))
        self.routes.append(route)

    def _on_message(self, route, message) -> None:
        if isinstance(message, str):
            self.received.append(message)
            return
        self.frames += 1
        if self.ack_frames:  # the frame's seq is its first four bytes, big-endian (calls/protocol.py)
            route.send(json.dumps({"t": "ack", "seq": int.from_bytes(bytes(message[:4]), "big")}))

    def wait_open(self) -> None:
        for _ in range(200):
            if self.routes and self.received:  # the page's hello arrived
                return
            self.page.wait_for_timeout(50)
        raise AssertionError("the page did not open its socket")

    def send(self, **message) -> None:
        self.routes[-1].send(json.dumps(message))

    def score(self, face: bool = True, label: str = "happy", alert: bool = False, offset_ms: int = 1000) -> None:
        """One score as ManagerLiveConsumer forwards it to the live page."""
        self.send(
            t="score",
            seq=offset_ms // 500,
            offset_ms=offset_ms,
            face_found=face,
            probs=None,
            label=label if face else None,
            valence=("positive" if label == "happy" else "negative") if face else None,
            flags=[],
            smoothed_label=label if face else None,
            valence_score=0.6 if face else None,
            alert=alert,
        )
