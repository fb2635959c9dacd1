from __future__ import annotations

from typing import Any

from django.db import models

from privacy.models import AuditAction, AuditEvent


def audit(
    actor: Any,
    action: AuditAction | str,
    obj: models.Model | None = None,
    *,
    target: tuple[str, str] | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one audit event. ``actor`` is a user, or a string such as "client-link" or "system".

    ``target`` = (model label, id) names an object that no longer exists (an erased client's tombstone).
    """
    is_user = getattr(actor, "pk", None) is not None and hasattr(actor, "get_username")
    object_type, object_id = target or ((obj._meta.label, str(obj.pk)) if obj is not None else ("", ""))
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else str(actor or "system"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
