"""The audit log's hash chain: each event's hash covers its own fields and the previous event's hash.

Plain functions (no ORM): ``event_hash`` is what the writer stores and what ``manage.py verify_audit``
recomputes. Editing any stored field of an event, or deleting an event, breaks the chain from there on;
deleting the newest events is seen against a head recorded elsewhere (verify_audit prints it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical(fields: Mapping[str, Any]) -> bytes:
    """One byte string per event whatever the database returns: sorted keys, UTC times, no spaces."""

    def normal(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value

    data = {key: normal(value) for key, value in fields.items()}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(fields)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problems: list[str]
    head_seq: int | None
    head_hash: str | None

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(rows: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> ChainReport:
    """Check ``(seq, prev_hash, hash, fields)`` rows in seq order: seqs 1, 2, 3... without a gap, each row's
    prev_hash the previous row's hash, each hash recomputed from its fields."""
    problems: list[str] = []
    expected_seq, previous = 1, GENESIS
    checked, head_seq, head_hash = 0, None, None
    for seq, prev_hash, stored_hash, fields in rows:
        checked += 1
        if seq != expected_seq:
            problems.append(f"seq {seq}: expected seq {expected_seq} (events missing)")
        if prev_hash != previous:
            problems.append(f"seq {seq}: does not follow the previous event (an event was deleted or changed)")
        if event_hash(prev_hash, fields) != stored_hash:
            problems.append(f"seq {seq}: its fields do not match its hash (the event was changed)")
        expected_seq, previous = seq + 1, stored_hash
        head_seq, head_hash = seq, stored_hash
    return ChainReport(checked, problems, head_seq, head_hash)
