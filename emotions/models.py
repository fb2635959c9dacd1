from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from emotions.labels import EXPRESSIONS, valence_of


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
    display_name = models.CharField(max_length=200)
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
