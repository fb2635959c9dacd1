from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from calls.models import OPEN_STATUSES, Call


class DionMeetingQuerySet(models.QuerySet):
    def to_poll(self) -> DionMeetingQuerySet:
        """Meetings Mimic created whose call is still open, least recently polled first."""
        return (
            self.exclude(room_id="")
            .filter(call__status__in=OPEN_STATUSES)
            .order_by(models.F("polled_at").asc(nulls_first=True), "created")
        )


class DionMeeting(models.Model):
    """The Dion meeting made for a call (``POST /events``; or the link the manager pasted) and what happened."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="dion_meeting")
    # The Dion event id (empty for a pasted link: such a meeting cannot be polled).
    room_id = models.CharField(max_length=200, blank=True, db_index=True)
    room_url = models.URLField(blank=True)
    # The Dion chat the three links of the call were sent to (the manager's chat with the bot).
    chat_id = models.CharField(max_length=200, blank=True)
    chat_posted = models.BooleanField(default=False)
    # The last error shown to the manager; never contains the client link or tokens.
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    polled_at = models.DateTimeField(null=True, blank=True)
    # When a poll first found every session of the meeting ended (cleared when someone is back in it).
    sessions_ended_at = models.DateTimeField(null=True, blank=True)

    objects = DionMeetingQuerySet.as_manager()

    def __str__(self) -> str:
        return self.room_id or self.room_url or str(self.call_id)


class WebhookEvent(models.Model):
    """Event ids already processed: a second delivery of the same id is a replay."""

    event_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"


class DionAccount(models.Model):
    """A manager's Dion identity as the bot learned it: the Dion user id and their direct chat with the bot."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dion_account")
    dion_user_id = models.CharField(max_length=200, unique=True)
    dm_chat_id = models.CharField(max_length=200, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} ({self.dion_user_id})"


class BotUpdate(models.Model):
    """Updates of the bot's getUpdates already taken: the next offset is the highest id + 1.

    A row is written (claimed) before its command runs and marked handled after, so a restart neither asks for
    an update again nor runs a command twice; one claimed but never handled (a crash mid-command) is answered
    with a request to send the command again.
    """

    update_id = models.BigIntegerField(unique=True)
    chat_id = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["update_id"]

    def __str__(self) -> str:
        return str(self.update_id)


class BotChat(models.Model):
    """A chat in which a manager has written to the bot (so the bot is in it): where the manager may send a link
    from the portal ("send to the client in Dion")."""

    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dion_chats")
    chat_id = models.CharField(max_length=200)
    type = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=200, blank=True)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [models.UniqueConstraint(fields=["manager", "chat_id"], name="dion_botchat_manager_chat")]

    def __str__(self) -> str:
        return self.name or self.chat_id
