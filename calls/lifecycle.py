"""The call's life: start, consent given or withdrawn, end. Sync code; call it from views, tasks or threads.

Each function is the one writer of its change. Every change the call's open sockets must see is
broadcast after the database commit, and the apps downstream learn of it through calls.signals.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from calls import signals
from calls.broadcast import send_after_commit, send_to_call
from calls.models import Call, Consent, EmotionSample
from privacy.audit import audit
from privacy.consent import current_text
from privacy.models import AuditAction


def start_call(call: Call, client_link: str | None = None) -> list[str]:
    """The manager pressed Start: the call is live; the idle clock runs from now. ``client_link`` is the
    absolute link the client opens (None: there is none to share yet). Returns the warnings of the apps told
    of the start (a Dion meeting that could not be made, say): the call goes on regardless."""
    Call.objects.start(call.pk)
    call.refresh_from_db(fields=["status", "started_at"])
    responses = signals.call_started.send(sender=Call, call=call, client_link=client_link)
    return [warning for _receiver, warning in responses if warning]


def end_call(call_id: uuid.UUID | str, reason: str) -> bool:
    """End an open call; True if this call ended it (False: already over). The report is built downstream."""
    if not Call.objects.end(call_id):
        return False
    send_to_call(call_id, {"type": "call.ended", "reason": reason})
    signals.call_ended.send(sender=Call, call_id=str(call_id), reason=reason)
    return True


def give_consent(call: Call, language: str, device_hash: str = "") -> Consent:
    """Record the client's consent to the current text, given in the browser whose device key hashes to
    ``device_hash`` (calls.devices; "" for none). Idempotent per browser while its consent is active.

    Consent in a further browser is its own record, and the manager is told that another device joined (in the
    portal and on the live page): a link forwarded or read over a shoulder cannot start a camera unnoticed."""
    text = current_text(language)
    with transaction.atomic():
        active = list(Consent.objects.select_for_update().active().filter(call=call))
        existing = next((c for c in active if c.device_hash == device_hash), None)
        if existing is not None:
            return existing
        consent = Consent.objects.create(
            call=call,
            text_version=text.version,
            text_sha256=text.sha256,
            language=text.language,
            operator=text.operator,
            device_hash=device_hash,
        )
        devices = len(active) + 1
        audit(
            "client-link", AuditAction.CONSENT_GIVEN, consent, call=str(call.pk), text_version=text.version,
            devices=devices,
        )  # fmt: skip
        send_after_commit(call.pk, {"type": "consent.changed", "state": "given", "devices": devices})
        if devices > 1:
            _tell_manager_of_another_device(call, devices)
    return consent


def _tell_manager_of_another_device(call: Call, devices: int) -> None:
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext as _

    from calls.models import Notification

    with translation.override(settings.LANGUAGE_CODE):  # no request language here: the site's
        message = _("Another device consented in your call with %(client)s (%(devices)s devices now).") % {
            "client": call.client.pseudonym,
            "devices": devices,
        }
    Notification.objects.create(user=call.manager, call=call, message=message, url=call.get_absolute_url())


def withdraw_consent(call_id: uuid.UUID | str, by: str, actor: Any) -> bool:
    """Withdraw the call's consent: analysis stops, the client's derived data of this call is deleted.

    Locks the consent rows, so a frame batch that already passed its first check and now waits to
    write sees the withdrawal and writes nothing (EmotionSample.objects.store_live).
    """
    now = timezone.now()
    with transaction.atomic():
        consents = list(Consent.objects.select_for_update().active().filter(call_id=call_id))
        if not consents:
            return False
        Consent.objects.filter(pk__in=[c.pk for c in consents]).update(withdrawn_at=now, withdrawn_by=by)
        deleted_samples, _ = EmotionSample.objects.filter(call_id=call_id).delete()
        # Downstream data of the call (its report) goes in the same transaction.
        signals.consent_withdrawn.send(sender=Call, call_id=str(call_id))
        # The analysis session is over; no report is built for it.
        Call.objects.end(call_id, now)
        for consent in consents:
            audit(actor, AuditAction.CONSENT_WITHDRAWN, consent, by=by, samples_deleted=deleted_samples)
        send_after_commit(call_id, {"type": "consent.changed", "state": "withdrawn", "by": by})
    return True
