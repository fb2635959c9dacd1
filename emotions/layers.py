"""A Redis channel layer that survives a Redis outage instead of killing every open socket.

channels_redis raises connection errors into every consumer's receive loop, so a Redis restart
would close all live sockets with 1011. Here receiving waits and retries, and group changes or
sends during the outage are logged and skipped: the health monitor (emotions.health) shows the
pause on the page and re-joins the groups when Redis is back.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
RETRY_S = 1.0


class ResilientRedisChannelLayer(RedisChannelLayer):
    async def receive(self, channel):
        while True:
            try:
                return await super().receive(channel)
            except OUTAGE_ERRORS as exc:
                log.warning("channel layer receive failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    async def group_add(self, group, channel):
        try:
            return await super().group_add(group, channel)
        except OUTAGE_ERRORS as exc:
            log.warning("group_add %s skipped: %s", group, type(exc).__name__)

    async def group_discard(self, group, channel):
        try:
            return await super().group_discard(group, channel)
        except OUTAGE_ERRORS as exc:
            log.warning("group_discard %s skipped: %s", group, type(exc).__name__)

    async def group_send(self, group, message):
        try:
            return await super().group_send(group, message)
        except OUTAGE_ERRORS as exc:
            log.warning("group_send %s lost: %s", group, type(exc).__name__)
