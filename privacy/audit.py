from __future__ import annotations

from typing import Any

from django.db import models

from privacy.models import AuditAction, AuditEvent


def audit(actor: Any, action: AuditAction | str, obj: models.Model | None = None, **details: Any) -> AuditEvent:
    """Append one audit event. ``actor`` is a user, or a string such as "client-link" or "system"."""
    is_user = getattr(actor, "pk", None) is not None and hasattr(actor, "get_username")
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else str(actor or "system"),
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        details=details,
    )
