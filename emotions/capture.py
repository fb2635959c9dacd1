"""The live-capture protocol: client links, the binary frame format, rate limiting and close codes.

Plain logic (no ORM), shared by the consumer, the views, the tests and bench/live_load.py.

Frame message (browser -> server, one binary WebSocket message per frame)::

    bytes 0..3   seq         uint32 big-endian, 0, 1, 2, ... per call and capture source
    bytes 4..11  capture_ms  uint64 big-endian, the browser's Date.now() when the frame was grabbed
    bytes 12..   JPEG        baseline JPEG, long side <= 320 px, quality ~0.7

Every frame gets exactly one JSON text reply: ``{"t": "ack", "seq": n}`` once it is queued for
analysis, or ``{"t": "drop", "seq": n, "reason": r}`` (reasons in DROP_REASONS). The browser keeps
unacknowledged frames and resends them after a reconnect, so nothing sent is lost; the server
stores each (call, seq) once, so nothing is duplicated.
"""

from __future__ import annotations

import struct
import time
import uuid
from dataclasses import dataclass, field

from django.core import signing

CLIENT_TOKEN_SALT = "emotions.client-capture"
HEADER = struct.Struct(">IQ")
HEADER_BYTES = HEADER.size  # 12
JPEG_MAGIC = b"\xff\xd8\xff"
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
    BAD_FRAMES = 4400  # too many invalid frames in a row
    RATE_ABUSE = 4429  # kept flooding past the rate limit

    # A browser must not reconnect after these.
    FINAL = frozenset({4001, 4003, 4004, 4009, 4010, 4011, 4012, 4400, 4429})


DROP_REASONS = ("too_large", "short", "not_jpeg", "rate", "no_consent", "duplicate", "stale", "bad_jpeg", "ended")


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


def pack_frame(seq: int, capture_ms: int, jpeg: bytes) -> bytes:
    return HEADER.pack(seq, capture_ms) + jpeg


def unpack_header(message: bytes) -> tuple[int, int]:
    """(seq, capture_ms); the caller has checked the length."""
    return HEADER.unpack_from(message)


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
