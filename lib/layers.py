"""The channel layer: sending to groups from sync code, and Redis layers that survive an outage.

A Redis channel layer that survives a Redis outage instead of killing every open socket.

channels_redis raises connection errors into every consumer's receive loop, so a Redis restart
would close all live sockets with 1011. Here receiving waits and retries, and group changes or
sends during the outage are logged and skipped: the health monitor (calls.health) shows the
pause on the page and re-joins the groups when Redis is back.

After a restart the pools still hold connections to the Redis that went away: the first command on
each fails with a ConnectionError although Redis is up. So a failed connection is tried once more
(on a fresh one) before a group change or a message is given up: otherwise a worker's first score
or drop after an outage was lost, and a frame went uncounted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
# A timeout may come after Redis ran the command: trying again could deliver a message twice.
NOT_RETRIED = (RedisTimeoutError, TimeoutError)
RETRY_S = 1.0


class _LayerLoop:
    """One long-lived event loop thread per process for channel-layer sends from sync code.

    async_to_sync from a plain thread would make a new loop (and a new Redis connection) per message.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()

    def run(self, coro) -> Any:
        with self.lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="channel-layer", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)


_layer_loop = _LayerLoop()


def group_send_sync(messages: list[tuple[str, dict]], on_callers_loop: bool = False) -> None:
    """Group-send ``(group, message)`` pairs from sync code in one hop; each group's messages keep their order,
    the groups are sent concurrently. The first error is raised once all were tried.

    ``on_callers_loop``: hop back onto the event loop that called into this thread (async_to_sync), as the
    in-memory layer of the embedded mode needs; otherwise the process's own layer loop sends.
    """
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    by_group: dict[str, list[dict]] = {}
    for group, message in messages:
        by_group.setdefault(group, []).append(message)

    async def send_in_order(group: str, group_messages: list[dict]) -> None:
        for message in group_messages:
            await layer.group_send(group, message)

    async def send_all() -> None:
        results = await asyncio.gather(
            *(send_in_order(group, items) for group, items in by_group.items()), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    if on_callers_loop:
        async_to_sync(send_all)()
    else:
        _layer_loop.run(send_all())


async def _once_more(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await call()
    except NOT_RETRIED as exc:
        log.warning("%s: %s", what, type(exc).__name__)
    except OUTAGE_ERRORS:
        try:
            return await call()  # the failed connection has been dropped from the pool: this one is new
        except OUTAGE_ERRORS as exc:
            log.warning("%s: %s", what, type(exc).__name__)
    return None


class ResilientRedisChannelLayer(RedisChannelLayer):
    # Each blocking pop waits at most this long (channels_redis: 5 s), below redis-py's default socket timeout
    # (redis 8.1: also 5 s): an equal wait timed out on every quiet channel, which receive() took for an outage.
    brpop_timeout = 2

    async def receive(self, channel):
        while True:
            try:
                return await super().receive(channel)
            except OUTAGE_ERRORS as exc:
                log.warning("channel layer receive failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    async def group_add(self, group, channel):
        parent = super().group_add
        return await _once_more(f"group_add {group} skipped", lambda: parent(group, channel))

    async def group_discard(self, group, channel):
        parent = super().group_discard
        return await _once_more(f"group_discard {group} skipped", lambda: parent(group, channel))

    async def group_send(self, group, message):
        parent = super().group_send
        return await _once_more(f"group_send {group} lost", lambda: parent(group, message))


class ResilientRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels_redis's Pub/Sub layer with the same outage handling as ResilientRedisChannelLayer.

    A group message is one PUBLISH that every daphne process subscribed to the group fans out to its own
    sockets; receiving is a subscription, not a blocking pop per message. Against the list-based layer this
    cut the channel layer's CPU per score from about 2.2 ms to about 0.4 ms (docs/benchmarks.md, "Live load").
    What it gives up is buffering for a socket that is not connected at that moment: a live score for a
    manager page that is reloading is not kept (the page redraws its timeline from the database), and the
    durable record of every frame is its EmotionSample row or its counted drop, never the channel layer.
    While Redis is down, redis-py reconnects the subscription and subscribes again by itself.
    """

    async def group_add(self, group, channel):
        layer = self._get_layer()
        return await _once_more(f"group_add {group} skipped", lambda: layer.group_add(group, channel))

    async def group_discard(self, group, channel):
        layer = self._get_layer()
        return await _once_more(f"group_discard {group} skipped", lambda: layer.group_discard(group, channel))

    async def group_send(self, group, message):
        layer = self._get_layer()
        return await _once_more(f"group_send {group} lost", lambda: layer.group_send(group, message))

    async def new_channel(self, prefix: str = "specific.") -> str:
        # A socket opening during an outage still gets its channel (a local queue); the subscription itself
        # is made when Redis answers (the sockets re-join their groups on "resumed", which subscribes).
        layer = self._get_layer()
        channel = f"{layer.prefix}{prefix}{uuid.uuid4().hex}"
        layer.channels[channel] = asyncio.Queue()
        await _once_more(f"subscribe {channel} deferred", lambda: layer._get_shard(channel).subscribe(channel))
        return channel
