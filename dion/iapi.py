"""Dion Integration API (IAPI) client: mutual TLS plus a time-limited token in ``X-Client-Access-Token``.

Documented endpoints used (docs/dion.md): ``POST /events`` (a meeting; the owner is its moderator),
``GET /events/{id}``, ``GET /events/{id}/users?time_start=&time_end=`` and ``GET /user/{id}``. Dion publishes
the requests, not every answer: the keys read from the answers are settings (``DION_EVENT_ID_KEYS`` and the
like), each a list of dotted paths tried in order.

Load: at most 100 requests per 60 s and at most 10 at once, for the whole deployment through Redis where
``REDIS_URL`` is set, else per process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings

from dion.transport import (
    ConcurrencyLimiter,
    DionError,
    FallbackConcurrencyLimiter,
    FallbackLimiter,
    JsonClient,
    RedisConcurrencyLimiter,
    RedisSlidingWindowLimiter,
    SlidingWindowLimiter,
    make_ssl_context,
)

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Client-Access-Token"


@dataclass(frozen=True)
class Event:
    """A Dion meeting: its id and the link participants open."""

    id: str
    url: str


@dataclass(frozen=True)
class DionUser:
    id: str
    email: str
    name: str = ""


@dataclass(frozen=True)
class Session:
    """One stay of one participant in a meeting; ``end`` is None while they are still in it."""

    user: str
    start: dt.datetime | None
    end: dt.datetime | None


def dig(answer: Any, paths: Iterable[str]) -> Any:
    """The first value found at one of the dotted ``paths`` ("id", "data.id") of a JSON answer, else None."""
    for path in paths:
        value = answer
        for part in path.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            else:
                value = None
                break
        if value not in (None, ""):
            return value
    return None


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time (a trailing Z allowed) or Unix seconds, as an aware UTC datetime; None if unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sessions_from(answer: Any, *, list_keys: Sequence[str], session_keys: Sequence[str]) -> list[Session]:
    """The sessions in an answer of ``GET /events/{id}/users``.

    Accepted: the participants as a list (the answer itself, or under one of ``list_keys``), each either with
    a list of sessions (under one of ``session_keys``) or being one session itself; a session has
    ``time_start`` and ``time_end`` (missing or null while the participant is in the meeting).
    """
    rows = answer if isinstance(answer, list) else dig(answer, list_keys)
    if not isinstance(rows, list):
        raise DionError("Dion sent a participant list in an unknown shape")
    found: list[Session] = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        user = str(dig(row, ("user_id", "id", "email")) or "")
        nested = dig(row, session_keys)
        for item in nested if isinstance(nested, list) else [row]:
            if isinstance(item, dict):
                found.append(Session(user, parse_time(item.get("time_start")), parse_time(item.get("time_end"))))
    return found


# Process-wide limiters ---------------------------------------------------------------------------------------------

_limiter_lock = threading.Lock()
_limiter: SlidingWindowLimiter | FallbackLimiter | None = None
_concurrency: ConcurrencyLimiter | FallbackConcurrencyLimiter | None = None


def reset_process_limiter(
    limiter: SlidingWindowLimiter | FallbackLimiter | None = None,
    concurrency: ConcurrencyLimiter | FallbackConcurrencyLimiter | None = None,
) -> None:
    """Forget this process's limiters (the next request builds them from settings), or use the ones given."""
    global _limiter, _concurrency
    with _limiter_lock:
        _limiter, _concurrency = limiter, concurrency


def _redis_client() -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # Fail fast: the in-process limiter takes over instead of the manager waiting on a dead Redis.
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def process_limiter() -> SlidingWindowLimiter | FallbackLimiter:
    """The request-rate limiter of this process (shared by threads); with REDIS_URL, of the whole deployment."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            local = SlidingWindowLimiter(settings.DION_RATE_LIMITS)
            if settings.REDIS_URL:
                _limiter = FallbackLimiter(RedisSlidingWindowLimiter(_redis_client(), settings.DION_RATE_LIMITS), local)
            else:
                _limiter = local
        return _limiter


def process_concurrency() -> ConcurrencyLimiter | FallbackConcurrencyLimiter:
    """At most DION_MAX_CONCURRENT requests in flight: per deployment through Redis, else per process."""
    global _concurrency
    with _limiter_lock:
        if _concurrency is None:
            local = ConcurrencyLimiter(settings.DION_MAX_CONCURRENT)
            if settings.REDIS_URL:
                lease = 2 * settings.DION_IAPI_TIMEOUT + 5
                shared = RedisConcurrencyLimiter(_redis_client(), settings.DION_MAX_CONCURRENT, lease=lease)
                _concurrency = FallbackConcurrencyLimiter(shared, local)
            else:
                _concurrency = local
        return _concurrency


# Configuration -----------------------------------------------------------------------------------------------------


def is_configured() -> bool:
    """On when an access token is set: the base URL has Dion's public default."""
    return bool(settings.DION_IAPI_URL and (settings.DION_ACCESS_TOKEN or settings.DION_ACCESS_TOKEN_FILE))


def _settings_token() -> str:
    if settings.DION_ACCESS_TOKEN_FILE:
        try:
            return Path(settings.DION_ACCESS_TOKEN_FILE).read_text().strip()
        except OSError as exc:
            raise DionError("The Dion access token file cannot be read") from exc
    return settings.DION_ACCESS_TOKEN


def ssl_context_from_settings():
    try:
        return make_ssl_context(settings.DION_CA_BUNDLE, settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY)
    except (OSError, ValueError) as exc:
        raise DionError("The Dion client certificate, key or CA bundle cannot be loaded") from exc


@dataclass(frozen=True)
class AnswerKeys:
    """Where the values Mimic needs are in Dion's answers (dotted paths, first found wins)."""

    event_id: tuple[str, ...] = ("id", "event_id", "data.id")
    event_link: tuple[str, ...] = ("link", "url", "join_url", "data.link", "data.url")
    user_email: tuple[str, ...] = ("email", "data.email", "user.email")
    user_name: tuple[str, ...] = ("name", "data.name", "user.name")
    participants: tuple[str, ...] = ("users", "data", "items")
    sessions: tuple[str, ...] = ("sessions", "intervals")

    @classmethod
    def from_settings(cls) -> AnswerKeys:
        return cls(
            event_id=tuple(settings.DION_EVENT_ID_KEYS),
            event_link=tuple(settings.DION_EVENT_LINK_KEYS),
            user_email=tuple(settings.DION_USER_EMAIL_KEYS),
            user_name=tuple(settings.DION_USER_NAME_KEYS),
            participants=tuple(settings.DION_PARTICIPANT_LIST_KEYS),
            sessions=tuple(settings.DION_SESSION_LIST_KEYS),
        )


class IapiClient:
    def __init__(self, transport: JsonClient, *, token: Callable[[], str], keys: AnswerKeys | None = None) -> None:
        self.transport = transport
        self.token = token
        self.keys = keys or AnswerKeys()

    @classmethod
    def from_settings(cls) -> IapiClient:
        if not is_configured():
            raise DionError("The Dion Integration API is not configured")
        transport = JsonClient(
            settings.DION_IAPI_URL,
            ssl_context=ssl_context_from_settings(),
            timeout=settings.DION_IAPI_TIMEOUT,
            retries=settings.DION_IAPI_RETRIES,
            limiter=process_limiter(),
            concurrency=process_concurrency(),
            service="Dion",
        )
        return cls(transport, token=_settings_token, keys=AnswerKeys.from_settings())

    def _headers(self) -> dict[str, str]:
        token = self.token()
        if not token:
            raise DionError("The Dion access token is not configured")
        return {TOKEN_HEADER: token}

    def create_event(
        self,
        *,
        owner_email: str,
        title: str = "",
        moderators_emails: Sequence[str] = (),
        event_params: Sequence[str] = (),
    ) -> Event:
        """``POST /events``: a new meeting owned (and moderated) by ``owner_email``. Never repeated on a 5xx or a
        timeout: those raise an ``ambiguous`` DionError, since Dion may have created the meeting anyway."""
        payload: dict[str, Any] = {"owner_email": owner_email}
        if title:
            payload["title"] = title
        if moderators_emails:
            payload["moderators_emails"] = list(moderators_emails)
        if event_params:
            payload["event_params"] = list(event_params)
        answer = self.transport.request("POST", "/events", payload=payload, headers=self._headers())
        event_id = dig(answer, self.keys.event_id)
        if not isinstance(event_id, str | int) or isinstance(event_id, bool):
            raise DionError(
                "Dion answered without a meeting id; the meeting may exist in Dion all the same", ambiguous=True
            )
        link = dig(answer, self.keys.event_link)
        if not _is_link(link):
            # The answer of POST /events is not published: the meeting's own data has the link.
            link = dig(self.get_event(str(event_id)), self.keys.event_link)
        if not _is_link(link):
            raise DionError("Dion created the meeting but gave no https link to it", ambiguous=True)
        return Event(id=str(event_id), url=link)

    def get_event(self, event_id: str) -> dict[str, Any]:
        answer = self.transport.request("GET", f"/events/{quote(event_id, safe='')}", headers=self._headers())
        if not isinstance(answer, dict):
            raise DionError("Dion sent meeting data in an unknown shape")
        return answer

    def event_sessions(self, event_id: str, *, time_start: dt.datetime, time_end: dt.datetime) -> list[Session]:
        """``GET /events/{id}/users``: every participant's sessions between the two times."""
        answer = self.transport.request(
            "GET",
            f"/events/{quote(event_id, safe='')}/users",
            params={"time_start": format_time(time_start), "time_end": format_time(time_end)},
            headers=self._headers(),
        )
        return sessions_from(answer, list_keys=self.keys.participants, session_keys=self.keys.sessions)

    def get_user(self, user_id: str) -> DionUser:
        """``GET /user/{id}``: the e-mail (and name) of a Dion account, e.g. the sender of a bot message."""
        answer = self.transport.request("GET", f"/user/{quote(user_id, safe='')}", headers=self._headers())
        email = dig(answer, self.keys.user_email)
        if not isinstance(email, str) or "@" not in email:
            raise DionError("Dion gave no e-mail for this user")
        name = dig(answer, self.keys.user_name)
        return DionUser(id=user_id, email=email, name=name if isinstance(name, str) else "")


def _is_link(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://")
