"""Dion side of a call: create the room, post the client link to its chat, end the call when the meeting ends."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from calls import lifecycle
from calls.models import Call
from dion import bot, iapi
from dion.models import DionMeeting
from dion.transport import DionError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeetingOutcome:
    room_url: str | None
    chat_posted: bool = False
    error: str | None = None


def room_name(call: Call) -> str:
    # The pseudonym, not the client's name: Dion is outside Mimic's personal-data boundary.
    return f"Mimic · {call.client.pseudonym}"


def start_meeting(call: Call, client_link: str) -> MeetingOutcome:
    """Create the Dion room (if the IAPI is configured and the call has no link yet) and post the client link to
    its chat (if the bot is configured). Never raises: a failure comes back as ``error`` and the call goes on."""
    try:
        return _start_meeting(call, client_link)
    except Exception:
        logger.exception("Dion integration failed for call %s", call.pk)
        return MeetingOutcome(
            room_url=call.dion_meeting_url or None,
            error=_("The Dion integration failed unexpectedly. Paste the meeting link and share the client link."),
        )


def _start_meeting(call: Call, client_link: str) -> MeetingOutcome:
    meeting, _created = DionMeeting.objects.get_or_create(call=call, defaults={"room_url": call.dion_meeting_url})
    errors: list[str] = []
    if iapi.is_configured() and not meeting.room_id and not call.dion_meeting_url:
        owner_email = call.manager.email
        if not owner_email:
            errors.append(_("Your account has no e-mail address, which Dion needs to make you the moderator."))
        else:
            try:
                room = iapi.IapiClient.from_settings().create_room(name=room_name(call), owner_email=owner_email)
            except DionError as exc:
                logger.warning("Dion room for call %s not created: %s", call.pk, exc.message)
                errors.append(_("Dion did not create the meeting room: %(reason)s") % {"reason": exc.message})
            else:
                meeting.room_id, meeting.room_url, meeting.chat_id = room.id, room.url, room.chat_id
                call.dion_meeting_url = room.url
                call.save(update_fields=["dion_meeting_url"])
    chat_id = meeting.chat_id or meeting.room_id
    if bot.is_configured() and chat_id and not meeting.chat_posted:
        text = _("Link for the client to join the analysis: %(link)s") % {"link": client_link}
        try:
            bot.client_from_settings().post_message(chat_id, text)
        except DionError as exc:
            logger.warning("Client link for call %s not posted to Dion chat: %s", call.pk, exc.message)
            errors.append(_("The client link was not posted to the meeting chat: %(reason)s") % {"reason": exc.message})
        else:
            meeting.chat_posted = True
    meeting.error = " ".join(errors)[:500]
    meeting.save()
    return MeetingOutcome(
        room_url=call.dion_meeting_url or None, chat_posted=meeting.chat_posted, error=meeting.error or None
    )


def set_meeting_url(call: Call, url: str) -> None:
    """The manager pasted the Dion link by hand (no IAPI, or it failed)."""
    with transaction.atomic():
        call.dion_meeting_url = url
        call.save(update_fields=["dion_meeting_url"])
        DionMeeting.objects.update_or_create(call=call, defaults={"room_url": url})


def find_call(meeting_id: str, meeting_url: str) -> Call | None:
    """The call of a Dion meeting, by the room id we created or by its link."""
    if meeting_id:
        meeting = DionMeeting.objects.select_related("call").filter(room_id=meeting_id).first()
        if meeting is not None:
            return meeting.call
    if meeting_url:
        variants = {meeting_url, meeting_url.rstrip("/"), meeting_url.rstrip("/") + "/"}
        return Call.objects.filter(dion_meeting_url__in=variants).order_by("-created").first()
    return None


def end_call(call: Call) -> bool:
    """End the call as if the manager hung up (live sockets told, report built); False if it was already over."""
    return lifecycle.end_call(call.pk, "dion")
