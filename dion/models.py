from __future__ import annotations

from django.db import models
from django.utils import timezone

from calls.models import Call


class DionMeeting(models.Model):
    """The Dion room made for a call (or the link the manager pasted) and what happened when it was set up."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="dion_meeting")
    room_id = models.CharField(max_length=200, blank=True, db_index=True)
    room_url = models.URLField(blank=True)
    chat_id = models.CharField(max_length=200, blank=True)
    chat_posted = models.BooleanField(default=False)
    # The last error shown to the manager; never contains the client link or tokens.
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

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
