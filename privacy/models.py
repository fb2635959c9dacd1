from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    VIEW_REPORT = "view_report", _("Viewed a report")
    EXPORT_REPORT = "export_report", _("Exported a report")
    CONSENT_GIVEN = "consent_given", _("Consent given")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    CLIENT_EXPORT = "client_export", _("Exported a client's data")
    CLIENT_ERASED = "client_erased", _("Erased a client's data")
    RETENTION_PURGE = "retention_purge", _("Retention purge")
    LOGIN_LOCKED = "login_locked", _("Sign-in locked out")


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk writes would bypass Model.save/delete; refuse them too (PostgreSQL also has a trigger)."""

    def update(self, **kwargs):
        raise PermissionError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise PermissionError(f"{self.model.__name__} rows are append-only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise PermissionError(f"{self.model.__name__} rows are append-only")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise PermissionError(f"{self.model.__name__} rows are append-only")


class AuditEvent(models.Model):
    """Append-only record of who did what to personal data. Never updated or deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: deleting a user would rewrite their audit rows (SET_NULL); deactivate users instead.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class DestructionKind(models.TextChoices):
    RETENTION = "retention", _("Retention period expired")
    ERASURE = "erasure", _("Erasure of one client")


class DestructionRecord(models.Model):
    """What was destroyed, when and why: counts only, never the destroyed content."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, choices=DestructionKind.choices)
    # {"emotions.EmotionSample": 120, ...} including rows removed by cascade, and "files" deleted.
    counts = models.JSONField(default=dict, blank=True)
    # Per purged model: the cutoff applied, e.g. {"emotions.EmotionSample": "2026-08-28T03:15:00+00:00"}.
    cutoffs = models.JSONField(default=dict, blank=True)
    subject = models.CharField(max_length=64, blank=True, help_text=_("Erased client id, for erasures"))
    actor_label = models.CharField(max_length=200, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.total} rows"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise PermissionError("destruction records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("destruction records are append-only")

    @property
    def total(self) -> int:
        return sum(v for v in self.counts.values() if isinstance(v, int))


class LoginFailure(models.Model):
    """One failed sign-in, for the per-username lockout (privacy.lockout). Purged after a day."""

    username = models.CharField(max_length=150, db_index=True)  # lower-cased
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set on the failure that locked the account: sign-in is refused until then.
    locks_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.username} {self.at:%Y-%m-%d %H:%M:%S}"
