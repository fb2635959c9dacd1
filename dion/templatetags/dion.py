from __future__ import annotations

from typing import Any

from django import template

from dion import bot, iapi
from dion.forms import MeetingLinkForm
from dion.models import DionMeeting

register = template.Library()


@register.inclusion_tag("dion/_meeting_panel.html", takes_context=True)
def dion_meeting_panel(context: dict[str, Any], call, outcome=None) -> dict[str, Any]:
    """The Dion box of a call page: the meeting link, whether the client link went to the chat, the last error,
    and the form to paste the link by hand. ``outcome`` is a fresh MeetingOutcome, if the view has one."""
    request = context.get("request")
    meeting = DionMeeting.objects.filter(call=call).first()
    user = getattr(request, "user", None)
    return {
        "request": request,
        "call": call,
        "meeting": meeting,
        "error": (outcome.error if outcome is not None else (meeting.error if meeting else "")) or "",
        "can_edit": call.is_open and user is not None and call.manager_id == user.pk,
        "form": MeetingLinkForm(initial={"dion_meeting_url": call.dion_meeting_url}),
        "iapi_configured": iapi.is_configured(),
        "bot_configured": bot.is_configured(),
        "csrf_token": context.get("csrf_token"),
    }
