"""Dion side of a call: create the meeting, send the manager the call's links, end the call when the meeting ends."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from calls import lifecycle
from calls.models import Call
from dion import bot, iapi
from dion.models import BotChat, DionAccount, DionMeeting
from dion.transport import DionError

logger = logging.getLogger(__name__)

# Set while the bot starts a call: it answers in the chat the command came from, so no direct message too.
_answering_in_chat: contextvars.ContextVar[bool] = contextvars.ContextVar("dion_answering_in_chat", default=False)


@contextlib.contextmanager
def answering_in_chat() -> Iterator[None]:
    token = _answering_in_chat.set(True)
    try:
        yield
    finally:
        _answering_in_chat.reset(token)


@dataclass(frozen=True)
class MeetingOutcome:
    room_url: str | None
    chat_posted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class CallLinks:
    meeting: str | None
    client: str
    live: str


def meeting_title(call: Call) -> str:
    # The pseudonym, not the client's name: Dion is outside Mimic's personal-data boundary.
    return f"Mimic · {call.client.pseudonym}"


def live_link(call: Call, client_link: str) -> str:
    """The manager's live page, on the same site as the client link."""
    return urljoin(client_link, reverse("calls:call_live", args=[call.pk]))


def links_text(call: Call, links: CallLinks, error: str | None = None) -> str:
    """The bot's message with the call's three links, in the site's language (Russian first)."""
    with translation.override(settings.LANGUAGE_CODE):
        lines = [_("Call with client %(client)s started.") % {"client": call.client.pseudonym}]
        if links.meeting:
            lines.append(_("Dion meeting: %(link)s") % {"link": links.meeting})
        else:
            lines.append(error or _("There is no Dion meeting for this call yet."))
        lines.append(
            _("Link for the client (consent and camera), send it to the client: %(link)s") % {"link": links.client}
        )
        lines.append(_("Your live page in Mimic: %(link)s") % {"link": links.live})
        return "\n".join(lines)


def start_meeting(call: Call, client_link: str) -> MeetingOutcome:
    """Create the Dion meeting (if the IAPI is configured and the call has no link yet) and send the manager
    the call's three links in their chat with the bot (if the bot knows it). Never raises: a failure comes back
    as ``error`` and the call goes on."""
    try:
        return _start_meeting(call, client_link)
    except Exception:
        logger.exception("Dion integration failed for call %s", call.pk)
        return MeetingOutcome(
            room_url=call.dion_meeting_url or None,
            error=_("The Dion integration failed unexpectedly. Paste the meeting link and share the client link."),
        )


def failure_message(exc: DionError, owner_email: str) -> str:
    """What the manager reads when ``POST /events`` failed, by what the failure means for a retry."""
    if exc.ambiguous:
        return _(
            "Dion did not confirm the meeting (%(reason)s). It may have been created all the same: look in Dion "
            "before you create another one, then paste its link on the call's live page."
        ) % {"reason": exc.message}
    if exc.status in (400, 403, 404, 409, 422):
        return _(
            "Dion did not accept %(email)s as the meeting owner: it must be a Dion account that has signed in to "
            "Dion at least once (%(reason)s)."
        ) % {"email": owner_email, "reason": exc.message}
    if exc.status is None:
        return _(
            "Dion cannot be reached (%(reason)s). The call goes on: create the meeting in Dion and paste its link."
        ) % {"reason": exc.message}
    return _("Dion did not create the meeting: %(reason)s") % {"reason": exc.message}


def create_meeting(call: Call, meeting: DionMeeting) -> str | None:
    """``POST /events`` for the call, once; the error for the manager, or None. Saves ``meeting``'s event."""
    owner_email = call.manager.email
    if not owner_email:
        return _("Your account has no e-mail address, which Dion needs to make you the moderator.")
    try:
        event = iapi.IapiClient.from_settings().create_event(
            owner_email=owner_email, title=meeting_title(call), event_params=settings.DION_EVENT_PARAMS
        )
    except DionError as exc:
        logger.warning("Dion meeting for call %s not created (ambiguous: %s): %s", call.pk, exc.ambiguous, exc.message)
        return failure_message(exc, owner_email)
    meeting.room_id, meeting.room_url = event.id, event.url
    call.dion_meeting_url = event.url
    call.save(update_fields=["dion_meeting_url"])
    return None


def _start_meeting(call: Call, client_link: str) -> MeetingOutcome:
    meeting, _created = DionMeeting.objects.get_or_create(call=call, defaults={"room_url": call.dion_meeting_url})
    errors: list[str] = []
    if iapi.is_configured() and not meeting.room_id and not call.dion_meeting_url:
        if error := create_meeting(call, meeting):
            errors.append(error)
    if not _answering_in_chat.get() and not meeting.chat_posted and bot.is_configured():
        account = DionAccount.objects.filter(user=call.manager).exclude(dm_chat_id="").first()
        if account is not None:
            links = CallLinks(call.dion_meeting_url or None, client_link, live_link(call, client_link))
            try:
                bot.client_from_settings().send_message(account.dm_chat_id, links_text(call, links, " ".join(errors)))
            except DionError as exc:
                logger.warning("Links of call %s not sent to the manager in Dion: %s", call.pk, exc.message)
                errors.append(_("The links were not sent to you in Dion: %(reason)s") % {"reason": exc.message})
            else:
                meeting.chat_id, meeting.chat_posted = account.dm_chat_id, True
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
    """The call of a Dion meeting, by the event id we created or by its link."""
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


# The end of the meeting, seen through GET /events/{id}/users ------------------------------------------------------


def meeting_state(sessions: list[iapi.Session], now: dt.datetime) -> str:
    """``"empty"`` (nobody has joined), ``"open"`` (someone is in it) or ``"ended"`` (every session is over)."""
    if not sessions:
        return "empty"
    if any(s.end is None or s.end > now for s in sessions):
        return "open"
    return "ended"


def poll_meetings(now: dt.datetime | None = None) -> int:
    """Ask Dion who is in the meetings of open calls; end each call whose meeting has had every session ended for
    DION_MEETING_END_GRACE_SECONDS. At most DION_POLL_MAX_MEETINGS requests a run (least recently polled first),
    so the poll keeps within Dion's 100 requests per 60 s. Returns how many calls it ended."""
    if not iapi.is_configured():
        return 0
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.DION_MEETING_END_GRACE_SECONDS)
    meetings = list(DionMeeting.objects.to_poll().select_related("call")[: settings.DION_POLL_MAX_MEETINGS])
    if not meetings:
        return 0
    client = iapi.IapiClient.from_settings()
    ended = 0
    for meeting in meetings:
        since = meeting.call.started_at or meeting.created
        try:
            sessions = client.event_sessions(meeting.room_id, time_start=since, time_end=now)
        except DionError as exc:
            logger.warning("Dion meeting %s of call %s not polled: %s", meeting.room_id, meeting.call_id, exc.message)
            if exc.status is None or exc.status == 429:
                break  # Dion unreachable or over budget: the next run tries again
            DionMeeting.objects.filter(pk=meeting.pk).update(polled_at=now)
            continue
        state = meeting_state(sessions, now)
        ended_at = meeting.sessions_ended_at
        if state != "ended":
            ended_at = None
        elif ended_at is None:
            ended_at = now
        DionMeeting.objects.filter(pk=meeting.pk).update(polled_at=now, sessions_ended_at=ended_at)
        if ended_at is not None and now - ended_at >= grace and lifecycle.end_call(meeting.call_id, "dion"):
            logger.info("Dion meeting %s ended: call %s ended", meeting.room_id, meeting.call_id)
            ended += 1
    return ended


# "Send to the client in Dion": a link another app shows its user, posted into one of the user's bot chats ---------

SEND_LINK_SALT = "dion.send-link"
SEND_LINK_MAX_AGE = 24 * 3600


def sign_link(user_id: int, url: str) -> str:
    """A token binding ``url`` to the user it was shown to: only links a page of Mimic rendered for this user
    (the owner's page of an illustration, say) can be sent, and only by them."""
    return signing.dumps({"u": user_id, "url": url}, salt=SEND_LINK_SALT, compress=True)


def unsign_link(token: str, user_id: int) -> str | None:
    try:
        data = signing.loads(token, salt=SEND_LINK_SALT, max_age=SEND_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != user_id or not isinstance(data.get("url"), str):
        return None
    return data["url"]


def send_link(chat: BotChat, url: str) -> None:
    """Post ``url`` into ``chat`` (one of its manager's chats with the bot); DionError if Dion refused it."""
    with translation.override(settings.LANGUAGE_CODE):
        text = _("A link from your manager: %(link)s") % {"link": url}
    bot.client_from_settings().send_message(chat.chat_id, text)
