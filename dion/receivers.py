"""Dion's part in a call's life (receivers of calls.signals, connected in DionConfig.ready)."""

from __future__ import annotations

from calls.models import Call
from dion import services


def start_meeting(sender, call: Call, client_link: str | None, **kwargs) -> str | None:
    """The manager started the call: make its Dion meeting (``POST /events``) and, when the bot knows the
    manager's chat, send them the call's three links there. Returns the manager's warning when that failed (the
    call goes on). A call started without a client link has nothing to share in Dion."""
    if client_link is None:
        return None
    return services.start_meeting(call, client_link).error
