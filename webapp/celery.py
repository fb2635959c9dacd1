"""The Celery app: configured from Django settings (CELERY_*), every task a lib.tasks.ReliableTask."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender=None, **kwargs) -> None:
    """Django's request-cycle rule for tasks: keep a connection up to CONN_MAX_AGE, drop broken ones.

    (Celery's own fixup is told not to close them; see CELERY_DB_REUSE_MAX in settings.)
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # embedded: the caller's connection, not ours to close
    from django.db import close_old_connections

    close_old_connections()


app = Celery("webapp", task_cls="lib.tasks:ReliableTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Back on Redis within a second of an outage's end, not with kombu's growing backoff (webapp/broker.py).
app.conf.worker_consumer = "webapp.broker:PromptReconnectConsumer"
app.autodiscover_tasks()
