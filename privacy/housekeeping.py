"""Retention without Celery beat (the embedded shape): the web process purges after a request, when due.

After each finished request, at most once per CHECK_EVERY_S per process (the first time CHECK_EVERY_S after
the process started), the newest retention purge is looked up; when it is older than
MIMIC_RETENTION_IN_PROCESS_HOURS the purge runs there and then (in the request's thread, after the response
was sent). With beat (Redis) the setting defaults to 0 and nothing runs here.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.signals import request_finished
from django.db import DatabaseError
from django.utils import timezone

log = logging.getLogger(__name__)

CHECK_EVERY_S = 600.0
# Not at the very first requests of a process: on SQLite a purge's write transaction would race the writes of a
# page being used (a consent given at that moment would meet "database is locked").
_lock = threading.Lock()
_next_check = time.monotonic() + CHECK_EVERY_S


def purge_if_due(now_s: float | None = None) -> bool:
    """Run the retention purge when the last one is older than the configured hours; True if it ran."""
    global _next_check
    hours = settings.MIMIC_RETENTION_IN_PROCESS_HOURS
    now_s = time.monotonic() if now_s is None else now_s
    if hours <= 0 or now_s < _next_check or not _lock.acquire(blocking=False):
        return False
    try:
        _next_check = now_s + CHECK_EVERY_S
        from privacy.models import DestructionKind, DestructionRecord
        from privacy.retention import purge_expired

        last = DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).order_by("-at").first()
        if last is not None and last.at > timezone.now() - timedelta(hours=hours):
            return False
        record = purge_expired()
        log.info("retention purge (in process): %s rows", record.total)
        return True
    except DatabaseError as exc:
        log.warning("retention purge (in process) failed: %s", type(exc).__name__)
        return False
    finally:
        _lock.release()


def _after_request(sender, **kwargs) -> None:
    purge_if_due()


def install() -> None:
    request_finished.connect(_after_request, dispatch_uid="privacy.housekeeping")


def reset() -> None:
    """Look at the next request (tests)."""
    global _next_check
    _next_check = 0.0
