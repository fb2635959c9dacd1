"""The live-capture protocol: client links, the binary frame format, the admission rules, close codes.

Plain logic (no ORM), shared by the consumer, the views, the tests and bench/live_load.py.

Frame message (browser -> server, one binary WebSocket message per frame)::

    bytes 0..3   seq         uint32 big-endian, 0, 1, 2, ... per call and capture source
    bytes 4..11  capture_ms  uint64 big-endian, the browser's Date.now() when the frame was grabbed
    bytes 12..   JPEG        baseline JPEG, long side <= 320 px, quality ~0.7

Every frame gets exactly one JSON text reply: ``{"t": "ack", "seq": n}`` once it is queued for
analysis, or ``{"t": "drop", "seq": n, "reason": r}``. The browser keeps unacknowledged frames and
resends them after a reconnect, so nothing sent is lost; the server stores each (call, seq) once, so
nothing is duplicated.

Drop reasons at the socket: ``short``, ``too_large``, ``not_jpeg`` (``admit_frame``), ``bad_time`` (a capture
time no browser clock gives, ``capture_offset_ms``), ``no_consent``,
``rate``, ``paused`` (Redis or the database is down), ``backpressure`` (the workers are behind). After
the worker (on the manager's socket, ``stage: worker``): ``stale``, ``bad_jpeg``, ``duplicate``,
``ended``, ``no_consent``, ``paused``, ``dead_letter``, ``invalid`` (a row the database cannot store).
"""

from __future__ import annotations

import json
import math
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from django.core import signing
from django.urls import reverse

from engine.frames import JPEG_MAGIC

# The app label, not the folder: changing the salt would invalidate every client link already sent.
CLIENT_TOKEN_SALT = "emotions.client-capture"
HEADER = struct.Struct(">IQ")
HEADER_BYTES = HEADER.size  # 12
# Frames of the manager's call-window capture (fallback mode) are stored from this seq up, so that
# they never collide with the client camera's seqs of the same call.
MANAGER_SEQ_BASE = 1 << 30
# Unacknowledged frames a browser may have in flight; the server's burst allowance covers a resend of all.
MAX_UNACKED = 8


class CloseCode:
    """WebSocket close codes (4000-4999 are application codes, RFC 6455 section 7.4.2)."""

    AUTH_REQUIRED = 4001  # no session / bad or tampered client token
    FORBIDDEN = 4003  # signed in, but not this call's manager
    NOT_FOUND = 4004  # no such call
    REPLACED = 4009  # a newer socket for the same call and role took over
    NO_CONSENT = 4010  # the client has not consented (client socket refused before any frame)
    CONSENT_WITHDRAWN = 4011
    CALL_ENDED = 4012  # the call has ended (the client link expires with it)
    DEVICE_BUSY = 4013  # another browser that consented is capturing; this one retries later
    BAD_FRAMES = 4400  # too many invalid frames in a row
    BAD_MESSAGE = 4422  # a text message that is not the protocol's (bad JSON, NaN, a clock out of range)
    RATE_ABUSE = 4429  # kept flooding past the rate limit


# Client-supplied numbers. Date.now() is never outside +-8.64e15 ms (ECMA-262), and never before 1970 on a live
# browser; a capture time is checked against the server's clock once corrected by the hello's skew.
MAX_CLIENT_MS = 8_640_000_000_000_000
# A frame may be this much "in the future" of the server's clock (skew estimated from a hello sent earlier),
# or captured this long before the call started (the page's first frames, a jittery skew) and stored at 0.
CLOCK_SLACK_MS = 60_000
# Offsets and seqs are stored in 32-bit integer columns (EmotionSample); no live call lasts a day.
MAX_OFFSET_MS = 24 * 3600 * 1000
MAX_STORED_INT = 2**31 - 1
# A text message is a hello of a few dozen bytes; anything longer is not the protocol.
MAX_TEXT_BYTES = 1024


class BadMessage(ValueError):
    """A text message the protocol does not allow; the socket is closed with BAD_MESSAGE."""


def _refuse_constant(name: str) -> float:
    raise BadMessage(f"{name} is not a number")


def parse_text(text: str | None) -> dict:
    """One text message from a browser as a dict, or BadMessage: too long, not JSON, NaN/Infinity, too deep."""
    if not text or len(text) > MAX_TEXT_BYTES:
        raise BadMessage("empty or too long")
    try:
        message = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise BadMessage("nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and BadMessage itself
        raise BadMessage(str(exc)) from exc
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        raise BadMessage("not a message object")
    return message


def client_clock_ms(value: object) -> int:
    """A browser's Date.now() as sent in a hello, or BadMessage (NaN, Infinity, negative, huge, not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadMessage("now is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadMessage("now is not finite")
    if not 0 <= value <= MAX_CLIENT_MS:
        raise BadMessage("now is out of range")
    return int(value)


def capture_offset_ms(capture_ms: int, skew_ms: int, started_ms: int, now_ms: int) -> int | None:
    """Where a frame captured at the browser's ``capture_ms`` lies on the call's timeline (ms from its start),
    or None when the capture time cannot be true: in the future, long before the call, past a day of call."""
    if not 0 <= capture_ms <= MAX_CLIENT_MS:
        return None
    at = capture_ms + skew_ms  # on the server's clock
    if at > now_ms + CLOCK_SLACK_MS or at < started_ms - CLOCK_SLACK_MS:
        return None
    offset = max(0, at - started_ms)
    return offset if offset <= MAX_OFFSET_MS else None


# Consecutive invalid frames (too large, not JPEG, truncated header) before the socket is closed.
MAX_BAD_IN_A_ROW = 5
# Frames over the rate limit tolerated within RATE_WINDOW_S before the socket is closed as abusive.
MAX_RATE_DROPS = 20
RATE_WINDOW_S = 10.0


def make_client_token(call_id: uuid.UUID | str) -> str:
    """The signed capture link token of one call (no expiry in the signature: it expires with the call)."""
    return signing.dumps({"call": str(call_id)}, salt=CLIENT_TOKEN_SALT, compress=False)


def call_id_from_token(token: str) -> uuid.UUID | None:
    """The call id a token was signed for; None when it is tampered, malformed or signed with another salt."""
    try:
        data = signing.loads(token, salt=CLIENT_TOKEN_SALT)
        return uuid.UUID(data["call"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def feedback_url(token: str) -> str:
    """Where the client's link leads once the call has ended: the short feedback form."""
    return reverse("reports:client_feedback", args=[token])


def pack_frame(seq: int, capture_ms: int, jpeg: bytes) -> bytes:
    return HEADER.pack(seq, capture_ms) + jpeg


def unpack_header(message: bytes) -> tuple[int, int]:
    """(seq, capture_ms); the caller has checked the length."""
    return HEADER.unpack_from(message)


def admit_frame(message: bytes, max_jpeg_bytes: int) -> tuple[int | None, int, str | None]:
    """The cheap checks of one frame message, in order of cost; nothing here decodes a pixel.

    Returns (seq, capture_ms, None) for a frame to analyse, or (seq, capture_ms, reason) for one to drop as
    invalid (seq None when even the header is missing). Seqs from MANAGER_SEQ_BASE up are the server's own.
    """
    if len(message) < HEADER_BYTES + len(JPEG_MAGIC):
        return None, 0, "short"
    seq, capture_ms = unpack_header(message)
    if len(message) > max_jpeg_bytes + HEADER_BYTES:
        return seq, capture_ms, "too_large"
    if message[HEADER_BYTES : HEADER_BYTES + len(JPEG_MAGIC)] != JPEG_MAGIC or seq >= MANAGER_SEQ_BASE:
        return seq, capture_ms, "not_jpeg"
    return seq, capture_ms, None


@dataclass
class TokenBucket:
    """Allows ``rate`` frames per second with bursts of ``capacity`` (a reconnect resends a backlog at once)."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def frame_bucket(fps: int) -> TokenBucket:
    """The per-socket limit: the call's fps plus 50 % slack, bursts up to a full resend of unacked frames."""
    return TokenBucket(rate=fps * 1.5 + 0.5, capacity=MAX_UNACKED + 2 * fps)


class RateGuard:
    """A socket's rate limit: ``admit(now)`` says "ok", "drop" (over the limit) or "abuse" (kept flooding:
    more than MAX_RATE_DROPS drops within RATE_WINDOW_S, so the socket is closed)."""

    def __init__(self, fps: int) -> None:
        self.bucket = frame_bucket(fps)
        self.drops: deque[float] = deque()

    def admit(self, now: float) -> str:
        if self.bucket.take(now):
            return "ok"
        self.drops.append(now)
        while self.drops and self.drops[0] < now - RATE_WINDOW_S:
            self.drops.popleft()
        return "abuse" if len(self.drops) > MAX_RATE_DROPS else "drop"
