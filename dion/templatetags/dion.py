from __future__ import annotations

from typing import Any

from django import template

from dion import bot, iapi, services
from dion.forms import MeetingLinkForm
from dion.models import BotChat, DionMeeting

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


@register.inclusion_tag("dion/_send_link.html", takes_context=True)
def dion_send_link_form(context: dict[str, Any], url: str) -> dict[str, Any]:
    """ "Send to the client in Dion" for a link the page shows its user (for example an illustration's share link
    on its owner's page): a choice of the user's chats with the bot. Nothing without the bot; a hint without
    chats. The page decides who sees it; the form only sends what was rendered for this user."""
    request = context.get("request")
    user = getattr(request, "user", None)
    shown = bool(url) and bot.is_configured() and getattr(user, "is_authenticated", False)
    chats = list(BotChat.objects.filter(manager=user)[:20]) if shown else []
    return {
        "shown": shown,
        "chats": chats,
        "token": services.sign_link(user.pk, url) if shown else "",
        "next": request.get_full_path() if request is not None else "/",
        "csrf_token": context.get("csrf_token"),
    }
