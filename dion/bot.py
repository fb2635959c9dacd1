"""Dion.Chats bot: posts the client link into the meeting chat.

The bot API takes a bearer token that a technical account obtains and that lives 12 hours. We cache it per
process and fetch a new one shortly before it expires (or at once when Dion answers 401).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings

from dion.transport import Clock, DionError, JsonClient, make_ssl_context

TOKEN_LIFETIME_S = 12 * 3600
# Refresh this long before expiry so a token never dies in the middle of a request.
REFRESH_MARGIN_S = 10 * 60


@dataclass
class _CachedToken:
    value: str
    expires_at: float


class BotTokenCache:
    """Obtains the bearer token with the technical account and keeps it until shortly before expiry."""

    def __init__(self, fetch: Callable[[], tuple[str, float | None]], *, clock: Clock = time.time) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _CachedToken | None = None
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._token.expires_at - REFRESH_MARGIN_S:
                value, lifetime = self._fetch()
                self.fetches += 1
                lifetime = min(lifetime or TOKEN_LIFETIME_S, TOKEN_LIFETIME_S)
                self._token = _CachedToken(value, now + lifetime)
            return self._token.value

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


class BotClient:
    def __init__(
        self,
        transport: JsonClient,
        *,
        token: Callable[[], str],
        invalidate: Callable[[], None] = lambda: None,
        message_path: str = "/chats/{chat_id}/messages",
    ) -> None:
        self.transport = transport
        self.token = token
        self.invalidate = invalidate
        self.message_path = message_path

    def post_message(self, chat_id: str, text: str) -> dict[str, Any]:
        path = self.message_path.format(chat_id=quote(chat_id, safe=""))
        for attempt in range(2):
            try:
                return self.transport.request(
                    "POST", path, payload={"text": text}, headers={"Authorization": f"Bearer {self.token()}"}
                )
            except DionError as exc:
                # A token revoked before its 12 h: fetch a fresh one once.
                if exc.status == 401 and attempt == 0:
                    self.invalidate()
                    continue
                raise
        raise AssertionError("unreachable")


def is_configured() -> bool:
    return bool(settings.DION_BOT_URL and (settings.DION_BOT_TOKEN or settings.DION_BOT_AUTH_URL))


def _transport(url: str) -> JsonClient:
    try:
        context = make_ssl_context(settings.DION_CA_BUNDLE, settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY)
    except (OSError, ValueError) as exc:
        raise DionError("The Dion client certificate, key or CA bundle cannot be loaded") from exc
    return JsonClient(url, ssl_context=context, timeout=settings.DION_IAPI_TIMEOUT, retries=2, service="Dion.Chats")


def fetch_technical_token() -> tuple[str, float | None]:
    """POST {DION_BOT_AUTH_URL} {"login", "password"} -> {"access_token" | "token", "expires_in"?}."""
    answer = _transport(settings.DION_BOT_AUTH_URL).request(
        "POST", "", payload={"login": settings.DION_BOT_LOGIN, "password": settings.DION_BOT_PASSWORD}
    )
    token = answer.get("access_token") or answer.get("token")
    if not token:
        raise DionError("Dion.Chats gave no bot token for the technical account")
    expires_in = answer.get("expires_in")
    return str(token), float(expires_in) if isinstance(expires_in, int | float) else None


_cache_lock = threading.Lock()
_caches: dict[tuple[str, str], BotTokenCache] = {}


def reset_token_caches() -> None:
    """Forget every cached bot token of this process (the next message fetches a new one)."""
    _caches.clear()


def _token_cache() -> BotTokenCache:
    key = (settings.DION_BOT_AUTH_URL, settings.DION_BOT_LOGIN)
    with _cache_lock:
        if key not in _caches:
            _caches[key] = BotTokenCache(fetch_technical_token)
        return _caches[key]


def client_from_settings() -> BotClient:
    if not is_configured():
        raise DionError("The Dion chat bot is not configured")
    if settings.DION_BOT_TOKEN:
        token: Callable[[], str] = lambda: settings.DION_BOT_TOKEN  # noqa: E731
        invalidate: Callable[[], None] = lambda: None  # noqa: E731
    else:
        cache = _token_cache()
        token, invalidate = cache.get, cache.invalidate
    return BotClient(
        _transport(settings.DION_BOT_URL),
        token=token,
        invalidate=invalidate,
        message_path=settings.DION_BOT_MESSAGE_PATH,
    )
