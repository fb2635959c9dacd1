from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from emotions.labels import EXPRESSIONS, valence_of
from privacy.fields import EncryptedTextField


def _pseudonym() -> str:
    return "C-" + secrets.token_hex(3).upper()


class ClientQuerySet(models.QuerySet):
    def for_user(self, user) -> ClientQuerySet:
        manager_ids = user.visible_manager_ids()
        return self if manager_ids is None else self.filter(manager__in=manager_ids)


class Client(models.Model):
    """A bank client. Analytics refer to the pseudonym; the name is shown only to staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pseudonym = models.CharField(max_length=16, unique=True, default=_pseudonym)
    # Identifying data lives only here, encrypted at rest (privacy.fields); analytics use the id/pseudonym.
    display_name = EncryptedTextField(max_length=200)
    email = EncryptedTextField(max_length=254, blank=True, default="")
    phone = EncryptedTextField(max_length=32, blank=True, default="")
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clients")
    created = models.DateTimeField(default=timezone.now)

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["pseudonym"]

    def __str__(self) -> str:
        return self.pseudonym


class CallStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")
    FAILED = "failed", _("Failed")


class CallSource(models.TextChoices):
    LIVE = "live", _("Live call")
    UPLOAD = "upload", _("Uploaded recording")


class CallQuerySet(models.QuerySet):
    def for_user(self, user) -> CallQuerySet:
        manager_ids = user.visible_manager_ids()
        return self if manager_ids is None else self.filter(manager__in=manager_ids)

    def for_manager(self, user) -> CallQuerySet:
        return self.filter(manager=user)

    def for_supervisor(self, user) -> CallQuerySet:
        return self.filter(manager__supervisor=user)

    def live(self) -> CallQuerySet:
        return self.filter(status=CallStatus.LIVE)

    def open(self) -> CallQuerySet:
        return self.filter(status__in=(CallStatus.SCHEDULED, CallStatus.LIVE))

    def idle(self, seconds: int, now=None) -> CallQuerySet:
        """Open live calls with no frame (or, before the first frame, no start) for ``seconds``."""
        cutoff = (now or timezone.now()) - timedelta(seconds=seconds)
        return self.filter(status=CallStatus.LIVE).filter(
            models.Q(last_frame_at__lt=cutoff) | models.Q(last_frame_at__isnull=True, started_at__lt=cutoff)
        )

    def end(self, call_id, now=None) -> bool:
        """End the call if it is still open; True only for the caller that ended it (so finalising runs once)."""
        return bool(self.open().filter(pk=call_id).update(status=CallStatus.ENDED, ended_at=now or timezone.now()))


class Call(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calls")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="calls")
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.SCHEDULED)
    source = models.CharField(max_length=16, choices=CallSource.choices, default=CallSource.LIVE)
    created = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    dion_meeting_url = models.URLField(blank=True)
    # Frames per second the capture page sends (2 by default, at most settings.MIMIC_MAX_FPS).
    capture_fps = models.PositiveSmallIntegerField(default=2)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["manager", "-created"]), models.Index(fields=["status", "last_frame_at"])]

    def __str__(self) -> str:
        return f"{self.client} · {self.created:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("emotions:call_detail", args=[self.id])

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.ended_at:
            return int((self.ended_at - self.started_at).total_seconds() * 1000)
        return None

    @property
    def is_open(self) -> bool:
        return self.status in (CallStatus.SCHEDULED, CallStatus.LIVE)


class Valence(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


class EmotionSampleQuerySet(models.QuerySet):
    def timeline(self) -> tuple[list[int], list[bool], list[list[float] | None]]:
        rows = list(self.order_by("offset_ms").values_list("offset_ms", "face_found", "probs"))
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


class EmotionSample(models.Model):
    """One analysed frame: scores only. The frame itself is never stored."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="samples")
    seq = models.PositiveIntegerField()
    offset_ms = models.PositiveIntegerField()
    face_found = models.BooleanField()
    # Probabilities in the order of emotions.labels.EXPRESSIONS; null when no face was found.
    probs = models.JSONField(null=True, blank=True)
    label = models.CharField(max_length=16, blank=True)
    valence = models.CharField(max_length=16, choices=Valence.choices, blank=True)
    flags = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = EmotionSampleQuerySet.as_manager()

    class Meta:
        ordering = ["call", "seq"]
        constraints = [models.UniqueConstraint(fields=["call", "seq"], name="unique_sample_per_call_seq")]

    def __str__(self) -> str:
        return f"{self.call_id}#{self.seq}"

    @classmethod
    def fields_from_probs(cls, probs: list[float] | None) -> dict[str, str]:
        if not probs:
            return {"label": "", "valence": ""}
        label = EXPRESSIONS[max(range(len(probs)), key=probs.__getitem__)]
        return {"label": label, "valence": valence_of(label)}


class ConsentQuerySet(models.QuerySet):
    def active(self) -> ConsentQuerySet:
        return self.filter(withdrawn_at__isnull=True)


class Consent(models.Model):
    """The client's consent to live analysis in one call (152-FZ art. 9; texts in emotions.consent).

    The row keeps which published text was shown (version, language, operator, SHA-256 of the exact
    text), so the record page re-renders the very document the client agreed to.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="consents")
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    text_version = models.CharField(max_length=16)
    text_sha256 = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    operator = models.CharField(max_length=300)
    withdrawn_by = models.CharField(max_length=16, blank=True)  # "client" or "manager"

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-given_at"]

    def __str__(self) -> str:
        return f"Consent {self.call_id} {self.given_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    def text(self):
        from emotions.consent import text_for

        return text_for(self.text_version, self.language, self.operator)


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """An in-portal message for one user (e.g. "the report of your call is ready")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.message


class DeadLetter(models.Model):
    """A task message given up after killing or failing its worker too often (see emotions.tasks.ReliableTask).

    Only identifiers are kept: never the task's arguments (a frame task carries the JPEG).
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, unique=True)
    call_id = models.UUIDField(null=True, blank=True, db_index=True)
    seq = models.PositiveIntegerField(null=True, blank=True)
    deliveries = models.PositiveIntegerField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} ({self.deliveries} deliveries)"
