"""Celery tasks of the Dion integration."""

from __future__ import annotations

from celery import shared_task

from dion import services


@shared_task(ignore_result=True)
def poll_meetings() -> int:
    """End the open calls whose Dion meeting is over (Celery beat, every DION_POLL_INTERVAL_SECONDS)."""
    return services.poll_meetings()
