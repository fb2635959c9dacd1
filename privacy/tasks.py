from __future__ import annotations

from celery import shared_task

from privacy.retention import purge_expired


@shared_task(ignore_result=True)
def purge_expired_data() -> str:
    """Daily retention purge (CELERY_BEAT_SCHEDULE "purge-expired-data"); idempotent: a rerun finds nothing."""
    return str(purge_expired().pk)
