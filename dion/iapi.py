"""Dion Integration API (IAPI) client: mutual TLS plus a time-limited token in ``X-Client-Access-Token``.

Dion's room-creation endpoint is not public. The default is ``POST {DION_IAPI_URL}/rooms`` with
``{"name", "owner_email", "participants": [...]}`` answered by ``{"id", "url"}`` (optionally ``chat_id``);
path, payload builder and answer keys are settings (docs/dion.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from dion.transport import (
    DionError,
    FallbackLimiter,
    JsonClient,
    RedisSlidingWindowLimiter,
    SlidingWindowLimiter,
    make_ssl_context,
)

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Client-Access-Token"


@dataclass(frozen=True)
class Room:
    id: str
    url: str
    chat_id: str = ""


def default_room_payload(*, name: str, owner_email: str, participants: Sequence[str]) -> dict[str, Any]:
    """The owner becomes the moderator; every e-mail must be an existing Dion account."""
    return {"name": name, "owner_email": owner_email, "participants": list(participants)}


_limiter_lock = threading.Lock()
_limiter: SlidingWindowLimiter | FallbackLimiter | None = None


def reset_process_limiter(limiter: SlidingWindowLimiter | FallbackLimiter | None = None) -> None:
    """Forget this process's limiter (the next request builds one from settings), or use ``limiter``."""
    global _limiter
    with _limiter_lock:
        _limiter = limiter


def process_limiter() -> SlidingWindowLimiter | FallbackLimiter:
    """One limiter per process (shared by threads); with REDIS_URL, one for the whole deployment."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            local = SlidingWindowLimiter(settings.DION_RATE_LIMITS)
            if settings.REDIS_URL:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                # Fail fast: the fallback limiter takes over instead of the manager waiting on a dead Redis.
                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
                )
                _limiter = FallbackLimiter(RedisSlidingWindowLimiter(client, settings.DION_RATE_LIMITS), local)
            else:
                _limiter = local
        return _limiter


def is_configured() -> bool:
    return bool(settings.DION_IAPI_URL)


def _settings_token() -> str:
    if settings.DION_ACCESS_TOKEN_FILE:
        try:
            return Path(settings.DION_ACCESS_TOKEN_FILE).read_text().strip()
        except OSError as exc:
            raise DionError("The Dion access token file cannot be read") from exc
    return settings.DION_ACCESS_TOKEN


class IapiClient:
    def __init__(
        self,
        transport: JsonClient,
        *,
        token: Callable[[], str],
        room_path: str = "/rooms",
        payload_builder: Callable[..., dict[str, Any]] = default_room_payload,
        id_key: str = "id",
        url_key: str = "url",
        chat_key: str = "chat_id",
    ) -> None:
        self.transport = transport
        self.token = token
        self.room_path = room_path
        self.payload_builder = payload_builder
        self.id_key = id_key
        self.url_key = url_key
        self.chat_key = chat_key

    @classmethod
    def from_settings(cls) -> IapiClient:
        if not is_configured():
            raise DionError("The Dion Integration API is not configured")
        try:
            context = make_ssl_context(settings.DION_CA_BUNDLE, settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY)
        except (OSError, ValueError) as exc:
            raise DionError("The Dion client certificate, key or CA bundle cannot be loaded") from exc
        transport = JsonClient(
            settings.DION_IAPI_URL,
            ssl_context=context,
            timeout=settings.DION_IAPI_TIMEOUT,
            retries=settings.DION_IAPI_RETRIES,
            limiter=process_limiter(),
            service="Dion",
        )
        return cls(
            transport,
            token=_settings_token,
            room_path=settings.DION_ROOM_PATH,
            payload_builder=import_string(settings.DION_ROOM_PAYLOAD_BUILDER),
            id_key=settings.DION_ROOM_ID_KEY,
            url_key=settings.DION_ROOM_URL_KEY,
            chat_key=settings.DION_ROOM_CHAT_KEY,
        )

    def _headers(self) -> dict[str, str]:
        token = self.token()
        if not token:
            raise DionError("The Dion access token is not configured")
        return {TOKEN_HEADER: token}

    def create_room(self, *, name: str, owner_email: str, participants: Sequence[str] = ()) -> Room:
        payload = self.payload_builder(name=name, owner_email=owner_email, participants=participants)
        answer = self.transport.request("POST", self.room_path, payload=payload, headers=self._headers())
        room_id, url = answer.get(self.id_key), answer.get(self.url_key)
        if not room_id or not isinstance(url, str) or not url.startswith("https://"):
            raise DionError("Dion created no room: the answer has no room id or https link")
        return Room(id=str(room_id), url=url, chat_id=str(answer.get(self.chat_key) or ""))
