"""What the calls app does when other parts of the system report an event."""

from __future__ import annotations

import logging

from calls.broadcast import send_to_call
from calls.models import DeadLetter

log = logging.getLogger(__name__)


def record_dead_letter(sender, task_id: str, task_name: str, deliveries: int, arguments: dict, **kwargs) -> None:
    """A task given up by ReliableTask: keep its ids (never its arguments, which may hold a frame), and when it
    was a frame, count it on the manager's page as dropped."""
    call_id, seq = arguments.get("call_id"), arguments.get("seq")
    seq = seq if isinstance(seq, int) and seq >= 0 else None
    log.error("dead letter %s %s: call %s, seq %s", task_name, task_id, call_id, seq)
    DeadLetter.objects.get_or_create(
        task_id=task_id,
        defaults={"task_name": task_name, "call_id": call_id, "seq": seq, "deliveries": deliveries},
    )
    if call_id is not None and seq is not None:
        try:
            send_to_call(call_id, {"type": "frame.dropped", "seq": seq, "reason": "dead_letter"}, managers_only=True)
        except Exception:  # noqa: BLE001 - the DeadLetter row is the record
            pass
