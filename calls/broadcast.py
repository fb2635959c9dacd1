"""Messages to a call's open sockets through the channel layer, from sync code (views, tasks, threads).

Every socket of a call is in the call's group; the manager's socket is also in the manager group,
which alone receives per-frame scores.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction

from lib.layers import group_send_sync


def group_name(call_id: uuid.UUID | str) -> str:
    """Every socket of the call (ending, consent changes, replacement)."""
    return f"call-{call_id}"


def manager_group_name(call_id: uuid.UUID | str) -> str:
    """The manager's socket only: per-frame scores go nowhere else."""
    return f"call-{call_id}-m"


def send_to_calls(messages: list[tuple[uuid.UUID | str, dict]], managers_only: bool = False) -> None:
    """Many group-sends (a worker's batch of scores) in one hop to the channel layer; each call's messages
    arrive in the order given."""
    name = manager_group_name if managers_only else group_name
    # Embedded: the in-memory layer lives on daphne's loop, which the send must hop back onto.
    group_send_sync([(name(call_id), message) for call_id, message in messages], settings.CELERY_TASK_ALWAYS_EAGER)


def send_to_call(call_id: uuid.UUID | str, message: dict, managers_only: bool = False) -> None:
    send_to_calls([(call_id, message)], managers_only)


def send_after_commit(call_id: uuid.UUID | str, message: dict, managers_only: bool = False) -> None:
    """Sent once the surrounding transaction commits: a socket never acts on a change that was rolled back."""
    transaction.on_commit(lambda: send_to_call(call_id, message, managers_only))
