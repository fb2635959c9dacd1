from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.chain import GENESIS, event_hash


class AuditAction(models.TextChoices):
    VIEW_REPORT = "view_report", _("Viewed a report")
    EXPORT_REPORT = "export_report", _("Exported a report")
    CONSENT_GIVEN = "consent_given", _("Consent given")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    CLIENT_EXPORT = "client_export", _("Exported a client's data")
    CLIENT_ERASED = "client_erased", _("Erased a client's data")
    RETENTION_PURGE = "retention_purge", _("Retention purge")
    LOGIN_LOCKED = "login_locked", _("Sign-in locked out")
    ADMIN_VIEWED = "admin_viewed", _("Viewed clients in the admin")
    ADMIN_CHANGED = "admin_changed", _("Changed a record in the admin")
    ADMIN_DELETED = "admin_deleted", _("Deleted records in the admin")


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
    """Append-only record of who did what to personal data. Never updated or deleted.

    Rows form a hash chain (privacy.chain): ``seq`` counts 1, 2, 3..., ``hash`` covers the row's fields and
    ``prev_hash``, the hash of the row before. Written only by privacy.audit.audit, which serialises appends.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
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
        kwargs["force_insert"] = True
        _append_chained(self, lambda: super(AuditEvent, self).save(*args, **kwargs))

    def chain_fields(self) -> dict:
        """What the row's hash covers: every stored field but the hashes themselves."""
        return {
            "id": str(self.id),
            "seq": self.seq,
            "at": self.at,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "details": self.details,
        }

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


# Appends are serialised: on PostgreSQL by a transaction-level advisory lock (held to the commit, so the next
# writer reads this row), on SQLite by its write lock taken before the head is read (and within one process by
# this lock). The unique seq is the last line: a writer that still lost a race gets an IntegrityError, appends again.
_CHAIN_LOCK_KEY = 0x6D696D6963  # "mimic"
_process_lock = threading.Lock()
_ATTEMPTS = 8


def _append_chained(event: AuditEvent, insert: Callable[[], None]) -> None:
    """Give a new event its place in the chain (seq, prev_hash, hash) and ``insert`` it, serialised against
    every other writer (AuditEvent.save calls this: whatever creates an event, the chain holds)."""
    # As the database will give the details back (tuples become lists...), so the hash verifies after a read.
    event.details = json.loads(json.dumps(event.details or {}, default=str))
    for attempt in range(_ATTEMPTS):
        try:
            postgres = connection.vendor == "postgresql"
            # Never the process lock inside a caller's transaction: that transaction holds the database's lock
            # (advisory or SQLite's write lock) past this call, and a second audit() in it would wait on a thread
            # that waits on it.
            local = _process_lock if not postgres and not connection.in_atomic_block else contextlib.nullcontext()
            with local, transaction.atomic():
                with connection.cursor() as cursor:
                    if postgres:
                        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
                    elif connection.vendor == "sqlite":
                        # Take SQLite's write lock before reading the head (a write that matches no row, so no
                        # trigger fires): another process's append waits here instead of racing.
                        cursor.execute("UPDATE privacy_auditevent SET seq = seq WHERE 0")
                last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
                event.seq, event.prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
                event.hash = event_hash(event.prev_hash, event.chain_fields())
                insert()
                return
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


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
