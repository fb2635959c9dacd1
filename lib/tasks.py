"""ReliableTask, the base of every Celery task: it counts deliveries per task id and dead-letters poison.

With acks-late and reject-on-worker-lost (settings), a message whose worker dies is delivered again;
a message that kills its worker *every* time (poison input) would loop forever. ReliableTask counts
deliveries in Redis and, past MIMIC_TASK_MAX_DELIVERIES, acknowledges the message without running it
and sends ``task_dead_lettered`` (task id, name, deliveries and the bound arguments) to whichever app
records it (calls.receivers.record_dead_letter keeps the ids of frame tasks, never their frames).
"""

from __future__ import annotations

import inspect
import logging

from celery import Task
from django.dispatch import Signal

log = logging.getLogger("lib.tasks")
task_dead_lettered = Signal()
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
        self.request.deliveries = (
            deliveries  # a task may act on a redelivery (calls.tasks.analyze_frames splits a batch)
        )
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
        """Give the message up: log its name and id (never the arguments, which may hold a frame) and tell the
        receivers of ``task_dead_lettered``, which record it."""
        try:
            bound = inspect.signature(self.run).bind_partial(*args, **kwargs).arguments
        except TypeError:
            bound = {}
        log.error("dead-lettered %s %s after %s deliveries", self.name, self.request.id, deliveries)
        task_dead_lettered.send(
            sender=self.__class__, task_id=self.request.id, task_name=self.name, deliveries=deliveries, arguments=bound
        )
