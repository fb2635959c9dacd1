"""The Celery app. Every task runs through ReliableTask, which counts deliveries per task id.

With acks-late and reject-on-worker-lost (settings), a message whose worker dies is delivered again;
a message that kills its worker *every* time (poison input) would loop forever. ReliableTask counts
deliveries in Redis and, past MIMIC_TASK_MAX_DELIVERIES, records a DeadLetter (task name, id, call id,
seq, deliveries: never the arguments, which may carry a frame) and acknowledges it without running it.
"""

from __future__ import annotations

import inspect
import logging
import os

from celery import Celery, Task, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

log = logging.getLogger("webapp.celery")
DELIVERIES_KEY = "mimic:deliveries:{}"

_redis = None


def _counter():
    """A Redis client on the broker's database (None in embedded mode)."""
    global _redis
    from django.conf import settings

    if _redis is None and settings.CELERY_BROKER_URL.startswith("redis"):
        import redis

        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis


class ReliableTask(Task):
    def _deliveries(self) -> int:
        """This message's delivery number (1 the first time), or 0 when it cannot be counted."""
        if self.request.is_eager or not self.request.id:
            return 0
        client = _counter()
        if client is None:
            return 0
        from django.conf import settings

        key = DELIVERIES_KEY.format(self.request.id)
        try:
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] * 3)
            return int(pipe.execute()[0])
        except Exception:  # noqa: BLE001 - counting is a guard; never refuse work because of it
            return 0

    def __call__(self, *args, **kwargs):
        from django.conf import settings

        deliveries = self._deliveries()
        self.request.deliveries = deliveries  # a task may act on a redelivery (emotions.tasks.analyze_frames)
        if deliveries > settings.MIMIC_TASK_MAX_DELIVERIES:
            # The counter stays until it expires: a duplicate copy of this message (a requeue racing the
            # visibility-timeout restore) must be dead-lettered too, not start killing workers again.
            self.dead_letter(deliveries, args, kwargs)
            self.request.dead_lettered = True
            return None
        return super().__call__(*args, **kwargs)

    def after_return(self, status, retval, task_id, args, kwargs, einfo) -> None:
        # The message is acknowledged now (success or failure): its counter is no longer needed,
        # unless it was dead-lettered (see __call__).
        if not getattr(self.request, "dead_lettered", False):
            self._forget_deliveries()

    def _forget_deliveries(self) -> None:
        client = None if self.request.is_eager else _counter()
        if client is not None and self.request.id:
            try:
                client.delete(DELIVERIES_KEY.format(self.request.id))
            except Exception:  # noqa: BLE001 - it expires by itself
                pass

    def dead_letter(self, deliveries: int, args: tuple, kwargs: dict) -> None:
        from emotions.models import DeadLetter

        try:
            bound = inspect.signature(self.run).bind_partial(*args, **kwargs).arguments
        except TypeError:
            bound = {}
        call_id, seq = bound.get("call_id"), bound.get("seq")
        DeadLetter.objects.get_or_create(
            task_id=self.request.id,
            defaults={
                "task_name": self.name,
                "call_id": call_id,
                "seq": seq if isinstance(seq, int) and seq >= 0 else None,
                "deliveries": deliveries,
            },
        )
        # Names and ids only: the arguments may hold a frame.
        log.error("dead-lettered %s %s (call %s, seq %s) after %s deliveries", self.name, self.request.id,
                  call_id, seq, deliveries)  # fmt: skip
        if call_id is not None and seq is not None:
            from emotions.live import send_to_call

            try:
                send_to_call(
                    call_id, {"type": "frame.dropped", "seq": seq, "reason": "dead_letter"}, managers_only=True
                )
            except Exception:  # noqa: BLE001 - the DeadLetter row is the record
                pass


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


app = Celery("webapp", task_cls="webapp.celery:ReliableTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Back on Redis within a second of an outage's end, not with kombu's growing backoff (webapp/broker.py).
app.conf.worker_consumer = "webapp.broker:PromptReconnectConsumer"
app.autodiscover_tasks()
