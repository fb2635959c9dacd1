"""Is Redis / the database reachable? One probe loop per daphne process, shared by all open sockets.

While a service is down the live sockets show "analysis paused" and drop frames (counted, reason
``paused``) instead of queueing work that cannot be done; when it is back they resume by themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from celery import current_app
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

Listener = Callable[[frozenset[str]], Awaitable[None]]


def _db_ok() -> bool:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "down"; the next probe reconnects
        connection.close()
        return False


_db_ok_async = database_sync_to_async(_db_ok)


class ServiceHealth:
    """Probes every ``MIMIC_HEALTH_PROBE_MS`` while at least one socket listens."""

    def __init__(self) -> None:
        self.down: frozenset[str] = frozenset()
        self.listeners: set[Listener] = set()
        self.task: asyncio.Task | None = None
        self._redis = None

    def subscribe(self, listener: Listener) -> None:
        self.listeners.add(listener)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self._redis = None  # a client belongs to the loop that made it (tests run many loops)
            self.task = loop.create_task(self._loop())

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def _redis_ok(self) -> bool:
        if not settings.REDIS_URL:
            return True
        import redis.asyncio as aioredis

        try:
            if self._redis is None:
                self._redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
            return bool(await self._redis.ping())
        except Exception:  # noqa: BLE001
            client, self._redis = self._redis, None
            if client is not None:
                try:
                    await client.aclose()
                except Exception:  # noqa: BLE001
                    pass
            return False

    async def probe(self) -> frozenset[str]:
        down = set()
        if not await self._redis_ok():
            down.add("redis")
        try:
            # Not asyncio.wait_for: before Python 3.12 it swallows a cancel that lands as the probe answers, and
            # the loop then outlives its event loop's shutdown (daphne's, or a test's), which waits for it forever.
            async with asyncio.timeout(3):
                ok = await _db_ok_async()
        except TimeoutError:
            ok = False
        if not ok:
            down.add("database")
        return frozenset(down)

    async def _loop(self) -> None:
        period = settings.MIMIC_HEALTH_PROBE_MS / 1000
        while self.listeners:
            down = await self.probe()
            if down != self.down:
                log.warning("services down: %s", sorted(down) or "none")
                self.down = down
                for listener in list(self.listeners):
                    try:
                        await listener(down)
                    except Exception:  # noqa: BLE001 - one closed socket must not stop the others
                        log.exception("health listener failed")
            await asyncio.sleep(period)
        self.task = None

    async def mark_down(self, service: str) -> None:
        """A failed enqueue or query saw it first: tell the sockets now, not at the next probe."""
        if service not in self.down:
            self.down = self.down | {service}
            for listener in list(self.listeners):
                try:
                    await listener(self.down)
                except Exception:  # noqa: BLE001
                    log.exception("health listener failed")


health = ServiceHealth()


class QueueDepth:
    """Length of the frame queue in Redis (LLEN), at most one query per ``ttl`` seconds per process."""

    def __init__(self, ttl: float = 0.1) -> None:
        self.ttl = ttl
        self.value = 0
        self.at = 0.0
        self.loop = None
        self._redis = None

    async def get(self) -> int:
        if not settings.REDIS_URL or settings.CELERY_TASK_ALWAYS_EAGER:
            return 0
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.loop is loop and now - self.at < self.ttl:
            return self.value
        import redis.asyncio as aioredis

        if self.loop is not loop or self._redis is None:
            self.loop = loop
            self._redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            # The queue frames are actually sent to (the app's, which a deployment or test may route).
            self.value = int(await self._redis.llen(current_app.conf.task_default_queue))
        except Exception:  # noqa: BLE001 - the enqueue itself will fail and report the outage
            self._redis = None
        self.at = now
        return self.value


queue_depth = QueueDepth()
