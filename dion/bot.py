"""Dion.Chats bot API client (Telegram-like; docs/dion.md).

``POST {DION_BOT_API_URL}/platform/v1/token {"email", "password"}`` of the bot's technical account gives an
``access_token`` valid 12 hours, sent as ``Authorization: Bearer``. Methods are ``POST /chats/v2/<method>``
with a JSON body, answered ``{"ok": true, "result": ...}``. The token is cached per process and fetched again
shortly before it expires, or once at once when Dion answers 401.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from dion.iapi import ssl_context_from_settings
from dion.transport import Clock, DionError, JsonClient

TOKEN_LIFETIME_S = 12 * 3600
# Refresh this long before expiry so a token never dies in the middle of a request.
REFRESH_MARGIN_S = 10 * 60
TOKEN_PATH = "/platform/v1/token"
METHODS_PATH = "/chats/v2"


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


def fetch_token(transport: JsonClient, email: str, password: str) -> tuple[str, float | None]:
    """``POST /platform/v1/token`` -> ``access_token`` (and ``expires_in`` if Dion sends one)."""
    if not email or not password:
        raise DionError("The Dion bot's technical account is not configured")
    answer = transport.request("POST", TOKEN_PATH, payload={"email": email, "password": password}, idempotent=True)
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise DionError("Dion.Chats gave no access token for the bot's technical account")
    expires_in = answer.get("expires_in")
    return token, float(expires_in) if isinstance(expires_in, int | float) else None


class BotClient:
    def __init__(self, transport: JsonClient, *, tokens: BotTokenCache, parse_mode: str = "") -> None:
        self.transport = transport
        self.tokens = tokens
        self.parse_mode = parse_mode

    def call(self, method: str, payload: dict[str, Any], *, timeout: float | None = None, safe: bool = True) -> Any:
        """One bot method; its ``result``. A 401 (token revoked or expired early) fetches a new token once."""
        for attempt in range(2):
            try:
                answer = self.transport.request(
                    "POST",
                    f"{METHODS_PATH}/{method}",
                    payload=payload,
                    headers={"Authorization": f"Bearer {self.tokens.get()}"},
                    timeout=timeout,
                    idempotent=safe,
                )
            except DionError as exc:
                if exc.status == 401 and attempt == 0:
                    self.tokens.invalidate()
                    continue
                raise
            if not isinstance(answer, dict) or answer.get("ok") is not True:
                reason = answer.get("description") if isinstance(answer, dict) else None
                raise DionError(f"Dion.Chats refused {method}" + (f": {str(reason)[:200]}" if reason else ""))
            return answer.get("result")
        raise AssertionError("unreachable")

    def get_me(self) -> dict[str, Any]:
        return self.call("getMe", {}) or {}

    def set_my_settings(self, *, can_send_dm: bool, can_join_groups: bool, can_join_channels: bool) -> Any:
        return self.call(
            "setMySettings",
            {"can_send_dm": can_send_dm, "can_join_groups": can_join_groups, "can_join_channels": can_join_channels},
        )

    def set_my_commands(self, commands: Sequence[tuple[str, str]]) -> Any:
        return self.call("setMyCommands", {"commands": [{"command": c, "description": d} for c, d in commands]})

    def send_message(self, chat_id: str | int, text: str) -> dict[str, Any]:
        """``sendMessage``; not repeated on a 5xx (it could post twice), repeated on 429."""
        # Ids are kept as text in Mimic's database; a numeric one goes back as the number Dion sent.
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if self.parse_mode:
            payload["parse_mode"] = self.parse_mode
        result = self.call("sendMessage", payload, safe=False)
        return result if isinstance(result, dict) else {}

    def get_updates(self, *, offset: int | None, limit: int, timeout: int) -> list[dict[str, Any]]:
        """A long poll: waits up to ``timeout`` seconds for updates at or after ``offset``."""
        payload: dict[str, Any] = {"limit": limit, "timeout": timeout, "allowed_updates": ["message"]}
        if offset is not None:
            payload["offset"] = offset
        result = self.call("getUpdates", payload, timeout=timeout + self.transport.timeout)
        if not isinstance(result, list):
            raise DionError("Dion.Chats sent updates in an unknown shape")
        return [update for update in result if isinstance(update, dict)]


# From settings -----------------------------------------------------------------------------------------------------


def _password() -> str:
    if settings.DION_BOT_PASSWORD_FILE:
        try:
            return Path(settings.DION_BOT_PASSWORD_FILE).read_text().strip()
        except OSError as exc:
            raise DionError("The Dion bot's password file cannot be read") from exc
    return settings.DION_BOT_PASSWORD


def is_configured() -> bool:
    return bool(
        settings.DION_BOT_API_URL
        and settings.DION_BOT_EMAIL
        and (settings.DION_BOT_PASSWORD or settings.DION_BOT_PASSWORD_FILE)
    )


def _transport() -> JsonClient:
    return JsonClient(
        settings.DION_BOT_API_URL,
        ssl_context=ssl_context_from_settings(),
        timeout=settings.DION_BOT_TIMEOUT,
        retries=2,
        service="Dion.Chats",
    )


_cache_lock = threading.Lock()
_caches: dict[tuple[str, str], BotTokenCache] = {}


def reset_token_caches() -> None:
    """Forget every cached bot token of this process (the next call fetches a new one)."""
    with _cache_lock:
        _caches.clear()


def _token_cache(transport: JsonClient) -> BotTokenCache:
    key = (settings.DION_BOT_API_URL, settings.DION_BOT_EMAIL)
    with _cache_lock:
        if key not in _caches:
            email = settings.DION_BOT_EMAIL
            _caches[key] = BotTokenCache(lambda: fetch_token(transport, email, _password()))
        return _caches[key]


def client_from_settings() -> BotClient:
    if not is_configured():
        raise DionError("The Dion chat bot is not configured")
    transport = _transport()
    return BotClient(transport, tokens=_token_cache(transport), parse_mode=settings.DION_BOT_PARSE_MODE)
