"""Right of access (export) and right to erasure for one client.

Both walk every reverse relation from the client, recursively, so rows added by any app that
point at the client, its calls or their children are included without this module naming them.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from collections import Counter
from typing import Any

from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from privacy.audit import audit
from privacy.destruction import delete_with_files
from privacy.models import AuditAction, AuditEvent, DestructionKind, DestructionRecord

# Never followed: staff accounts and the append-only records are not the client's data.
_STOP_LABELS = {"accounts.User", "privacy.AuditEvent", "privacy.DestructionRecord"}


def related_objects(root: models.Model) -> list[models.Model]:
    """``root`` and every row reachable from it through reverse foreign keys, parents first."""
    seen: set[tuple[str, Any]] = set()
    ordered: list[models.Model] = []
    queue = [root]
    while queue:
        obj = queue.pop(0)
        key = (obj._meta.label, obj.pk)
        if key in seen or obj._meta.label in _STOP_LABELS:
            continue
        seen.add(key)
        ordered.append(obj)
        for rel in obj._meta.related_objects:
            if rel.many_to_many or rel.related_model._meta.label in _STOP_LABELS:
                continue
            queue.extend(rel.related_model._base_manager.filter(**{rel.field.name: obj}))
    return ordered


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _row(obj: models.Model) -> dict[str, Any]:
    return {field.attname: _jsonable(field.value_from_object(obj)) for field in obj._meta.concrete_fields}


def export_client(client: models.Model, actor: Any = "system") -> dict[str, Any]:
    """Everything held about ``client`` as JSON-ready data (decrypted); the export itself is audited."""
    objects = related_objects(client)
    data: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        data.setdefault(obj._meta.label, []).append(_row(obj))
    ids = [str(obj.pk) for obj in objects]
    events = AuditEvent.objects.filter(object_id__in=ids).order_by("at")
    audit(actor, AuditAction.CLIENT_EXPORT, client, counts={label: len(rows) for label, rows in data.items()})
    return {
        "format": "mimic-client-export/1",
        "generated_at": timezone.now().isoformat(),
        "client_id": str(client.pk),
        "data": data,
        "audit_events": [
            {"at": e.at.isoformat(), "actor": e.actor_label, "action": e.action, "object": e.object_type}
            for e in events
        ],
    }


def erase_client(client: models.Model, actor: Any = "system") -> DestructionRecord:
    """Delete every row and file about ``client``; leave a tombstone (audit event + DestructionRecord)."""
    client_id, client_label = str(client.pk), client._meta.label
    with transaction.atomic():
        objects = related_objects(client)
        counts: Counter = Counter()
        # Children first, so rows held by SET_NULL/PROTECT relations go too rather than lingering.
        for obj in reversed(objects):
            if type(obj)._base_manager.filter(pk=obj.pk).exists():
                counts.update(delete_with_files([obj]))
        actor_label = actor.get_username() if hasattr(actor, "get_username") else str(actor)
        record = DestructionRecord.objects.create(
            kind=DestructionKind.ERASURE, counts=dict(counts), subject=client_id, actor_label=actor_label
        )
        # The tombstone names only the id and counts: nothing that identifies the person.
        audit(
            actor,
            AuditAction.CLIENT_ERASED,
            target=(client_label, client_id),
            destruction_record=str(record.pk),
            counts=dict(counts),
        )
    return record
