"""The worker's broker consumer: back within a second of Redis returning, however long Redis was away.

Celery's consumer reconnects with kombu's default backoff: 2, 4, 6 ... 30 s between tries. After a 30 s
Redis outage a worker came back up to 12 s after Redis did (tries 2, 6, 12, 20, 30, 42 s after the loss),
while daphne had already resumed and queued frames, which went stale and were dropped meanwhile. Here
it tries every MIMIC_BROKER_RECONNECT_S (1 s), and after a loss it keeps trying: kombu gives up after
broker_connection_max_retries with an error that Celery's consumer does not retry, and at one try a
second that limit would end a worker after 100 s of outage. At startup Celery's limit still applies,
so a wrong REDIS_URL still fails.

Installed by webapp.celery (``worker_consumer``).
"""

from __future__ import annotations

import os
from typing import Any

from celery.worker.consumer import Consumer

RECONNECT_S = float(os.getenv("MIMIC_BROKER_RECONNECT_S", "1"))


class PromptReconnectConsumer(Consumer):
    def ensure_connected(self, conn: Any) -> Any:
        ensure = conn.ensure_connection
        after_loss = not self.first_connection_attempt

        def prompt(errback=None, max_retries=None, **kwargs) -> Any:
            kwargs.update(interval_start=RECONNECT_S, interval_step=RECONNECT_S, interval_max=RECONNECT_S)
            return ensure(errback, None if after_loss else max_retries, **kwargs)

        conn.ensure_connection = prompt  # this connection only: Celery calls it with its own arguments
        return super().ensure_connected(conn)
