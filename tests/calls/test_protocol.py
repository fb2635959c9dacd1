"""The capture protocol's plain rules: frame admission, the rate guard, client tokens."""

from __future__ import annotations

import uuid

from calls import protocol
from calls.protocol import HEADER_BYTES, MANAGER_SEQ_BASE, MAX_RATE_DROPS, RATE_WINDOW_S, RateGuard, admit_frame
from engine.frames import JPEG_MAGIC

JPEG = JPEG_MAGIC + b"\xe0" + b"\0" * 100


def test_it_admits_a_jpeg_frame_and_reads_its_header() -> None:
    assert admit_frame(protocol.pack_frame(7, 1234, JPEG), max_jpeg_bytes=1000) == (7, 1234, None)


def test_it_rejects_a_message_shorter_than_header_and_magic() -> None:
    assert admit_frame(b"\0" * (HEADER_BYTES + 2), max_jpeg_bytes=1000) == (None, 0, "short")


def test_it_rejects_an_oversized_frame_by_its_jpeg_bytes() -> None:
    exactly = JPEG + b"\0" * (1000 - len(JPEG))
    assert admit_frame(protocol.pack_frame(3, 5, exactly), max_jpeg_bytes=1000)[2] is None
    assert admit_frame(protocol.pack_frame(3, 5, exactly + b"\0"), max_jpeg_bytes=1000)[2] == "too_large"


def test_it_rejects_what_is_not_a_jpeg() -> None:
    assert admit_frame(protocol.pack_frame(1, 5, b"\x89PNG" + b"\0" * 50), max_jpeg_bytes=1000) == (1, 5, "not_jpeg")


def test_a_browser_cannot_claim_the_managers_seq_range() -> None:
    assert admit_frame(protocol.pack_frame(MANAGER_SEQ_BASE, 5, JPEG), max_jpeg_bytes=1000)[2] == "not_jpeg"


def test_the_rate_guard_allows_a_burst_then_the_calls_rate() -> None:
    guard = RateGuard(fps=2)
    guard.bucket.stamp = 0.0
    burst = [guard.admit(0.0) for _ in range(int(guard.bucket.capacity))]
    assert burst == ["ok"] * len(burst)
    assert guard.admit(0.0) == "drop"
    assert guard.admit(1.0) == "ok"  # 3.5 frames/s refill


def test_the_rate_guard_calls_abuse_after_too_many_drops_in_the_window() -> None:
    guard = RateGuard(fps=1)
    guard.bucket.tokens = 0
    answers = [guard.admit(0.001 * i) for i in range(MAX_RATE_DROPS + 1)]
    assert set(answers[:MAX_RATE_DROPS]) == {"drop"}
    assert answers[-1] == "abuse"


def test_old_rate_drops_leave_the_window() -> None:
    guard = RateGuard(fps=1)
    for i in range(MAX_RATE_DROPS):
        guard.bucket.tokens = 0
        guard.bucket.stamp = 0.001 * i
        assert guard.admit(0.001 * i) == "drop"
    later = RATE_WINDOW_S + 1
    guard.bucket.tokens, guard.bucket.stamp = 0, later
    assert guard.admit(later) == "drop"  # the earlier drops no longer count towards abuse


def test_a_client_token_names_its_call_and_nothing_else() -> None:
    call_id = uuid.uuid4()
    token = protocol.make_client_token(call_id)
    assert protocol.call_id_from_token(token) == call_id
    assert protocol.call_id_from_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert protocol.call_id_from_token("not-a-token") is None
