"""The Mimic bot in Dion chats (``manage.py dion_bot``): one command from the manager starts everything.

``/call`` (or ``/звонок``) with an optional client label: the sender's Dion id -> ``GET /user/{id}`` -> e-mail
-> the Mimic manager; then the Call, the Dion meeting, and one answer in the same chat with the meeting link,
the client's consent-and-camera link and the manager's live page. ``/end`` ends the manager's running call,
``/help`` explains. Unknown senders are refused politely and nothing is created.

Updates are taken one by one: each is claimed in the database (its id is the next offset) before its command
runs and marked handled after, so a restart neither loses nor repeats one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role
from calls import lifecycle
from calls.models import Call, Client
from calls.protocol import make_client_token
from dion import iapi, services
from dion.bot import BotClient
from dion.models import BotChat, BotUpdate, DionAccount, DionMeeting
from dion.transport import DionError

logger = logging.getLogger(__name__)

CALL_COMMANDS = frozenset({"call", "звонок"})
END_COMMANDS = frozenset({"end", "завершить"})
MEETING_COMMANDS = frozenset({"meeting", "встреча"})
HELP_COMMANDS = frozenset({"help", "start", "помощь"})
# Handled updates are kept this long (the newest always: it holds the offset).
KEEP_UPDATES = dt.timedelta(days=1)


def bot_commands() -> list[tuple[str, str]]:
    """setMyCommands, described in the site's language (Russian first)."""
    with translation.override(settings.LANGUAGE_CODE):
        return [
            ("call", _("Start a call: Dion meeting, client link and live page")),
            ("end", _("End your running call")),
            ("meeting", _("Create the Dion meeting of your running call again")),
            ("help", _("What this bot does")),
        ]


def parse_command(text: str) -> tuple[str, str] | None:
    """``("call", "Ivanov")`` for ``"/call@mimic Ivanov"``; None for text that is not a command."""
    text = (text or "").strip()
    if not text.startswith("/"):
        return None
    head, _sep, rest = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


@dataclass(frozen=True)
class Sender:
    dion_id: str
    manager: Any  # accounts.User


class BotWorker:
    def __init__(
        self,
        client: BotClient,
        *,
        iapi_client: Callable[[], iapi.IapiClient] = iapi.IapiClient.from_settings,
        site_root: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.iapi_client = iapi_client
        self.site_root = (site_root or settings.SITE_ROOT).rstrip("/") + "/"
        self.sleep = sleep
        self._last_meeting_poll = float("-inf")

    # The loop ------------------------------------------------------------------------------------------------------

    def setup(self) -> dict[str, Any]:
        """Tell Dion what the bot may do and which commands it has; returns getMe."""
        me = self.client.get_me()
        self.client.set_my_settings(can_send_dm=True, can_join_groups=True, can_join_channels=False)
        self.client.set_my_commands(bot_commands())
        return me

    def next_offset(self) -> int | None:
        last = BotUpdate.objects.aggregate(last=Max("update_id"))["last"]
        return None if last is None else last + 1

    def run_once(self, *, timeout: int = 0) -> int:
        """One getUpdates (a long poll of ``timeout`` seconds) and its updates; how many were new."""
        self.resume_interrupted()
        offset = self.next_offset()
        updates = self.client.get_updates(offset=offset, limit=settings.DION_BOT_BATCH, timeout=timeout)
        taken = 0
        for update in sorted(updates, key=lambda u: _int(u.get("update_id"), -1)):
            taken += self.take(update, offset)
        self._prune()
        return taken

    def run_forever(self, *, stop: Callable[[], bool] = lambda: False) -> None:
        failures = 0
        while not stop():
            close_old_connections()
            try:
                self.run_once(timeout=settings.DION_BOT_LONG_POLL_SECONDS)
                failures = 0
            except DionError as exc:
                failures += 1
                delay = min(60.0, 2.0**failures)
                logger.warning("Dion bot: %s; next try in %.0f s", exc.message, delay)
                self.sleep(delay)
            self.poll_meetings_if_due()

    def poll_meetings_if_due(self) -> None:
        if not settings.DION_BOT_POLLS_MEETINGS:
            return
        if time.monotonic() - self._last_meeting_poll < settings.DION_POLL_INTERVAL_SECONDS:
            return
        self._last_meeting_poll = time.monotonic()
        try:
            services.poll_meetings()
        except Exception:
            logger.exception("Dion meeting poll failed")

    def take(self, update: dict[str, Any], offset: int | None = None) -> int:
        """Claim and handle one update; 0 when it was seen before (a repeat after a restart)."""
        update_id = _int(update.get("update_id"), None)
        if update_id is None or (offset is not None and update_id < offset):
            return 0
        message = update.get("message") if isinstance(update.get("message"), dict) else {}
        chat_id = _chat_id(message)
        try:
            with transaction.atomic():
                record = BotUpdate.objects.create(update_id=update_id, chat_id=chat_id)
        except IntegrityError:
            return 0
        try:
            self.handle(message)
        except Exception:
            logger.exception("Dion bot: update %s failed", update_id)
            self._reply(chat_id, _("Something went wrong on Mimic's side. Please try again in a minute."))
        BotUpdate.objects.filter(pk=record.pk).update(handled_at=timezone.now())
        return 1

    def resume_interrupted(self) -> None:
        """Updates claimed but never handled (the worker stopped mid-command): ask the sender to send it again
        rather than run a half-done command twice."""
        for record in BotUpdate.objects.filter(handled_at=None):
            self._reply(
                record.chat_id,
                _("Mimic restarted while your last command ran. Check the call list, then send the command again."),
            )
            BotUpdate.objects.filter(pk=record.pk).update(handled_at=timezone.now())

    def _prune(self) -> None:
        last = BotUpdate.objects.aggregate(last=Max("update_id"))["last"]
        BotUpdate.objects.filter(handled_at__lt=timezone.now() - KEEP_UPDATES).exclude(update_id=last).delete()

    # Commands ------------------------------------------------------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> None:
        chat_id = _chat_id(message)
        if not chat_id:
            return
        with translation.override(settings.LANGUAGE_CODE):
            command = parse_command(message.get("text") if isinstance(message.get("text"), str) else "")
            name, argument = command or ("help", "")
            if name in CALL_COMMANDS:
                self.start_call(message, chat_id, argument)
            elif name in MEETING_COMMANDS:
                self.retry_meeting(message, chat_id)
            elif name in END_COMMANDS:
                self.end_call(message, chat_id)
            else:
                if command is not None:
                    self.identify(message, chat_id, quiet=True)  # a manager's chat becomes one they can send to
                self._reply(chat_id, help_text())

    def identify(self, message: dict[str, Any], chat_id: str, *, quiet: bool = False) -> Sender | None:
        """The Mimic manager who wrote this message, or None (and, unless ``quiet``, the sender is told why)."""

        def refuse(text: str) -> None:
            if not quiet:
                self._reply(chat_id, text)

        sender = message.get("from")
        dion_id = str(sender.get("id") or "") if isinstance(sender, dict) else ""
        if not dion_id or not iapi.is_configured():
            if not iapi.is_configured():
                logger.warning("Dion bot: senders cannot be identified without the IAPI (set DION_ACCESS_TOKEN)")
            refuse(refusal_text())
            return None
        try:
            email = self.iapi_client().get_user(dion_id).email
        except DionError as exc:
            if exc.status in (400, 404):
                refuse(refusal_text())
            else:
                logger.warning("Dion bot: sender %s not identified: %s", dion_id, exc.message)
                refuse(_("Dion could not tell me who you are right now. Please try again in a minute."))
            return None
        manager = get_user_model().objects.filter(email__iexact=email, is_active=True, role=Role.MANAGER).first()
        if manager is None:
            logger.info("Dion bot: refused sender %s (no Mimic manager with that e-mail)", dion_id)
            refuse(refusal_text())
            return None
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        with transaction.atomic():
            DionAccount.objects.filter(dion_user_id=dion_id).exclude(user=manager).delete()
            defaults: dict[str, Any] = {"dion_user_id": dion_id, "updated": timezone.now()}
            if chat.get("type") == "private":
                defaults["dm_chat_id"] = chat_id
            DionAccount.objects.update_or_create(user=manager, defaults=defaults)
            BotChat.objects.update_or_create(
                manager=manager,
                chat_id=chat_id,
                defaults={
                    "type": str(chat.get("type") or "")[:32],
                    "name": str(chat.get("name") or "")[:200],
                    "last_seen": timezone.now(),
                },
            )
        return Sender(dion_id, manager)

    def start_call(self, message: dict[str, Any], chat_id: str, label: str) -> None:
        sender = self.identify(message, chat_id)
        if sender is None:
            return
        manager = sender.manager
        client = find_or_create_client(manager, label)
        call = Call.objects.create(manager=manager, client=client, capture_fps=settings.MIMIC_DEFAULT_FPS)
        client_link = urljoin(self.site_root, reverse("calls:client_capture", args=[make_client_token(call.pk)]))
        with services.answering_in_chat():
            warnings = lifecycle.start_call(call, client_link)
        call.refresh_from_db(fields=["dion_meeting_url"])
        links = services.CallLinks(call.dion_meeting_url or None, client_link, services.live_link(call, client_link))
        text = services.links_text(call, links, " ".join(warnings) or None)
        if not links.meeting and iapi.is_configured():
            text += "\n" + _("No meeting in Dion? Send /meeting to create it again for this call.")
        self.client.send_message(chat_id, text)
        DionMeeting.objects.filter(call=call).update(chat_id=chat_id, chat_posted=True)

    def retry_meeting(self, message: dict[str, Any], chat_id: str) -> None:
        """The manager's own retry after Dion did not confirm a meeting: one more ``POST /events`` for the
        running call, only if it has no meeting yet (Mimic never repeats that request by itself)."""
        sender = self.identify(message, chat_id)
        if sender is None:
            return
        call = Call.objects.for_manager(sender.manager).open().order_by("-started_at", "-created").first()
        if call is None:
            self._reply(chat_id, _("You have no running call."))
            return
        meeting, _created = DionMeeting.objects.get_or_create(call=call, defaults={"room_url": call.dion_meeting_url})
        error = None
        if not meeting.room_id and not call.dion_meeting_url:
            error = services.create_meeting(call, meeting)
            meeting.error = (error or "")[:500]
            meeting.save()
        client_link = urljoin(self.site_root, reverse("calls:client_capture", args=[make_client_token(call.pk)]))
        links = services.CallLinks(call.dion_meeting_url or None, client_link, services.live_link(call, client_link))
        self._reply(chat_id, services.links_text(call, links, error))

    def end_call(self, message: dict[str, Any], chat_id: str) -> None:
        sender = self.identify(message, chat_id)
        if sender is None:
            return
        call = Call.objects.for_manager(sender.manager).open().order_by("-started_at", "-created").first()
        if call is None or not lifecycle.end_call(call.pk, "manager"):
            self._reply(chat_id, _("You have no running call."))
            return
        report = urljoin(self.site_root, call.report_url)
        self._reply(
            chat_id,
            _("The call with client %(client)s has ended. Its report will be here: %(link)s")
            % {"client": call.client.pseudonym, "link": report},
        )

    def _reply(self, chat_id: str, text: str) -> None:
        if not chat_id:
            return
        try:
            self.client.send_message(chat_id, text)
        except DionError as exc:
            logger.warning("Dion bot: no answer sent to chat %s: %s", chat_id, exc.message)


def find_or_create_client(manager: Any, label: str) -> Client:
    """The manager's client named by ``label`` (pseudonym or name, any case), else a new client of that name."""
    label = " ".join(label.split())[:200]
    if label:
        wanted = label.casefold()
        for client in Client.objects.filter(manager=manager):
            if wanted in (client.pseudonym.casefold(), client.display_name.casefold()):
                return client
    return Client.objects.create(manager=manager, display_name=label or _("Client from Dion"))


def help_text() -> str:
    return "\n".join(
        [
            _("I am the Mimic bot. Commands:"),
            _(
                "/call [client] (or /звонок): start a call. I create the Dion meeting and send you three links: the "
                "meeting, the client's link (consent and camera, send it to the client) and your live page."
            ),
            _(
                "/meeting: if Dion did not confirm the meeting, check Dion first, then create it again for your "
                "running call."
            ),
            _("/end: end your running call; the report follows."),
            _("/help: this text."),
        ]
    )


def refusal_text() -> str:
    return _(
        "Sorry, I work only for the bank's managers who have a Mimic account with the same e-mail as in Dion. "
        "Nothing was created. Please ask your Mimic administrator."
    )


def _chat_id(message: dict[str, Any]) -> str:
    chat = message.get("chat") if isinstance(message, dict) else None
    value = chat.get("id") if isinstance(chat, dict) else None
    return "" if value is None else str(value)


def _int(value: Any, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
