"""JSON over HTTPS for the Dion APIs: mutual TLS, timeouts, retries and a client-side rate limiter.

Plain Python (stdlib http.client + ssl); no Django here, so it is tested against a real TLS server.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import logging
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

# Never wait longer than this for a Retry-After; a longer wait would stall the manager's "Start call".
MAX_RETRY_AFTER_S = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class DionError(Exception):
    """A failure talking to Dion, with a message fit to show to the manager.

    ``ambiguous``: the request may have been carried out although we got no answer (a timeout, or a 5xx to a
    request that is not safe to repeat), so repeating it blindly could do it twice.
    """

    def __init__(self, message: str, *, status: int | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.ambiguous = ambiguous


def make_ssl_context(ca_bundle: str = "", client_cert: str = "", client_key: str = "") -> ssl.SSLContext:
    """Verify Dion against the bank's CA bundle (system store if empty) and present our client certificate."""
    context = ssl.create_default_context(cafile=ca_bundle or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert:
        context.load_cert_chain(client_cert, client_key or None)
    return context


# Rate limiting ---------------------------------------------------------------------------------------------------


class SlidingWindowLimiter:
    """At most ``limit`` requests in any ``window`` seconds, for every (limit, window) pair; thread-safe.

    ``acquire`` blocks (via ``sleep``) until a request may go. Clock and sleep are injectable so the
    spacing is tested with a fake clock, not by timing.
    """

    def __init__(
        self, limits: Iterable[tuple[int, float]], *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.limits = sorted((int(n), float(w)) for n, w in limits)
        if not self.limits or any(n < 1 or w <= 0 for n, w in self.limits):
            raise ValueError("limits must be positive (count, seconds) pairs")
        self._horizon = max(w for _, w in self.limits)
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        """Record a request now and return 0, or return how many seconds to wait before asking again."""
        with self._lock:
            now = self._clock()
            while self._stamps and self._stamps[0] <= now - self._horizon:
                self._stamps.popleft()
            wait = 0.0
            for limit, window in self.limits:
                inside = [s for s in self._stamps if s > now - window]
                if len(inside) >= limit:
                    # The request that must leave the window before one more fits.
                    wait = max(wait, inside[len(inside) - limit] + window - now)
            if wait <= 0:
                self._stamps.append(now)
                return 0.0
            return wait

    def acquire(self) -> None:
        while (wait := self.reserve()) > 0:
            self._sleep(wait)


_REDIS_SCRIPT = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait <= 0 then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000))
  end
  return '0'
end
return tostring(wait)
"""


class RedisSlidingWindowLimiter:
    """The same limits shared by every process of a deployment: sorted sets in Redis, checked atomically in Lua.

    Uses wall-clock time (``time.time``) because the processes share no monotonic clock.
    """

    def __init__(
        self,
        redis_client: Any,
        limits: Iterable[tuple[int, float]],
        *,
        prefix: str = "mimic:dion:iapi",
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
    ):
        self.limits = sorted((int(n), float(w)) for n, w in limits)
        self._keys = [f"{prefix}:{n}per{w:g}s" for n, w in self.limits]
        self._script = redis_client.register_script(_REDIS_SCRIPT)
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        args: list[Any] = [repr(self._clock()), uuid.uuid4().hex]
        for limit, window in self.limits:
            args += [limit, repr(window)]
        return float(self._script(keys=self._keys, args=args))

    def acquire(self) -> None:
        while (wait := self.reserve()) > 0:
            self._sleep(wait)


class _RedisFirst:
    """Redis when it answers, else the in-process limiter: an outage of Redis must not block calls.

    After a Redis failure it stays on the local limiter for ``cooldown`` seconds instead of waiting on a dead
    server before every request.
    """

    kind = "limiter"

    def __init__(self, primary: Any, fallback: Any, *, cooldown: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.primary = primary
        self.fallback = fallback
        self.cooldown = cooldown
        self._clock = clock
        self._down_until = float("-inf")

    def _redis_may_be_up(self) -> bool:
        return self._clock() >= self._down_until

    def _redis_failed(self, exc: Exception) -> None:
        self._down_until = self._clock() + self.cooldown
        logger.warning("Dion %s: Redis unavailable (%s); limiting per process", self.kind, type(exc).__name__)


class FallbackLimiter(_RedisFirst):
    """The request rate: Redis's sliding window, else this process's (``_RedisFirst``)."""

    kind = "rate limiter"
    primary: RedisSlidingWindowLimiter
    fallback: SlidingWindowLimiter

    def acquire(self) -> None:
        if self._redis_may_be_up():
            try:
                self.primary.acquire()
                return
            except Exception as exc:  # redis.RedisError and connection errors
                self._redis_failed(exc)
        self.fallback.acquire()


# Concurrency ------------------------------------------------------------------------------------------------------


class ConcurrencyLimiter:
    """At most ``limit`` requests in flight in this process (threads share it)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._semaphore:
            yield


_SEMAPHORE_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000))
  return 1
end
return 0
"""


class RedisConcurrencyLimiter:
    """At most ``limit`` requests in flight across every process of a deployment: holders in a Redis sorted set.

    A holder that dies without releasing (a killed worker) frees its slot after ``lease`` seconds, which must be
    longer than the longest request (the transport's timeout).
    """

    def __init__(
        self,
        redis_client: Any,
        limit: int,
        *,
        lease: float,
        prefix: str = "mimic:dion:iapi",
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        poll: float = 0.02,
    ) -> None:
        self.limit = limit
        self.lease = lease
        self._redis = redis_client
        self._key = f"{prefix}:in-flight"
        self._script = redis_client.register_script(_SEMAPHORE_ACQUIRE)
        self._clock = clock
        self._sleep = sleep
        self._poll = poll

    def try_acquire(self, member: str) -> bool:
        return bool(self._script(keys=[self._key], args=[repr(self._clock()), self.limit, repr(self.lease), member]))

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        member = uuid.uuid4().hex
        while not self.try_acquire(member):
            self._sleep(self._poll)
        try:
            yield
        finally:
            try:
                self._redis.zrem(self._key, member)
            except Exception:  # redis.RedisError: the lease frees the slot
                logger.warning("Dion concurrency limiter: slot not released in Redis; its lease will free it")


class FallbackConcurrencyLimiter(_RedisFirst):
    """Requests in flight: Redis's shared semaphore, else this process's (``_RedisFirst``)."""

    kind = "concurrency limiter"
    primary: RedisConcurrencyLimiter
    fallback: ConcurrencyLimiter

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if self._redis_may_be_up():
            try:
                context = self.primary.slot()
                context.__enter__()
            except Exception as exc:  # redis.RedisError and connection errors
                self._redis_failed(exc)
            else:
                try:
                    yield
                finally:
                    context.__exit__(None, None, None)
                return
        with self.fallback.slot():
            yield


Concurrency = ConcurrencyLimiter | RedisConcurrencyLimiter | FallbackConcurrencyLimiter
RateLimiter = SlidingWindowLimiter | RedisSlidingWindowLimiter | FallbackLimiter


# HTTP --------------------------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class JsonClient:
    """Sends JSON requests to one base URL and returns the decoded JSON answer.

    Always retried: 429 (after its Retry-After) and a refused connection (Dion got nothing). Retried only for
    requests safe to repeat (GET, or ``idempotent=True``): 5xx, with exponential backoff. A timeout is never
    retried. For an unsafe request (``POST /events`` creates a meeting each time: Dion documents no
    idempotency) a 5xx or a timeout is an ``ambiguous`` DionError: the caller reports it instead of repeating.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        limiter: RateLimiter | None = None,
        concurrency: Concurrency | None = None,
        sleep: Sleep = time.sleep,
        service: str = "Dion",
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.limiter = limiter
        self.concurrency = concurrency
        self.sleep = sleep
        self.service = service

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _send_once(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Any, bytes]:
        if self.limiter is not None:
            self.limiter.acquire()
        slot = self.concurrency.slot() if self.concurrency is not None else contextlib.nullcontext()
        with slot:
            conn = self._connection(timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.headers, response.read()
            finally:
                conn.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """The decoded JSON answer (an object, or a list where the endpoint answers with one)."""
        if not path:
            full_path = self.base_path or "/"
        else:
            full_path = self.base_path + "/" + path.lstrip("/")
        if params:
            full_path += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        safe = method in ("GET", "HEAD") if idempotent is None else idempotent
        timeout = self.timeout if timeout is None else timeout
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        all_headers = {"Accept": "application/json", "User-Agent": "Mimic/1.0"}
        if body is not None:
            all_headers["Content-Type"] = "application/json; charset=utf-8"
        all_headers.update(headers or {})
        attempt = 0
        while True:
            try:
                status, response_headers, data = self._send_once(method, full_path, all_headers, body, timeout)
            except ConnectionRefusedError as exc:
                if attempt >= self.retries:
                    raise DionError(f"{self.service} is unreachable ({self.host}): connection refused") from exc
                self.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            except TimeoutError as exc:
                raise DionError(f"{self.service} did not answer within {timeout:g} s", ambiguous=not safe) from exc
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
                raise DionError(
                    f"Secure connection to {self.service} failed (check the client certificate, key and CA bundle): "
                    f"{exc.__class__.__name__}",
                    ambiguous=not safe and not isinstance(exc, ssl.SSLError),
                ) from exc
            except OSError as exc:
                raise DionError(f"{self.service} is unreachable ({self.host}): {exc.strerror or exc}") from exc

            retryable = status == 429 or (safe and status in RETRY_STATUSES)
            if retryable and attempt < self.retries:
                delay = self.backoff * 2**attempt
                if status == 429:
                    retry_after = parse_retry_after(response_headers.get("Retry-After"))
                    if retry_after is not None:
                        delay = min(retry_after, MAX_RETRY_AFTER_S)
                logger.info("%s answered %s; retrying in %.1f s", self.service, status, delay)
                self.sleep(delay)
                attempt += 1
                continue
            return self._decode(status, data, ambiguous=not safe and status >= 500)

    def _decode(self, status: int, data: bytes, *, ambiguous: bool = False) -> Any:
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = None
        if 200 <= status < 300:
            if not isinstance(decoded, dict | list):
                raise DionError(f"{self.service} sent an unreadable answer (HTTP {status})", status=status)
            return decoded
        detail = ""
        if isinstance(decoded, dict):
            detail = str(
                decoded.get("message")
                or decoded.get("error")
                or decoded.get("detail")
                or decoded.get("description")
                or ""
            )[:200]
        if status in (401, 403):
            text = f"{self.service} refused our credentials (HTTP {status}); the access token may have expired"
        elif status == 429:
            text = f"{self.service} is rate-limiting us (HTTP 429); try again in a minute"
        elif status >= 500:
            text = f"{self.service} is failing (HTTP {status})"
        else:
            text = f"{self.service} rejected the request (HTTP {status})"
        raise DionError(f"{text}: {detail}" if detail else text, status=status, ambiguous=ambiguous)
