"""The IAPI client against a real mutual-TLS server: token header, payload, retries, timeouts, refusals, limits."""

from __future__ import annotations

import os
import uuid

import pytest

from dion import iapi
from dion.iapi import IapiClient, Room, default_room_payload
from dion.transport import (
    DionError,
    FallbackLimiter,
    JsonClient,
    RedisSlidingWindowLimiter,
    SlidingWindowLimiter,
    make_ssl_context,
    parse_retry_after,
)
from tests.support.dion_fake import IAPI_TOKEN, FakeDionServer, Pki, Scripted


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _iapi(server: FakeDionServer, pki: Pki, *, cert: bool = True, token: str = IAPI_TOKEN, **kwargs) -> IapiClient:
    context = make_ssl_context(str(pki.ca), str(pki.client_cert) if cert else "", str(pki.client_key) if cert else "")
    kwargs.setdefault("sleep", FakeClock().sleep)
    return IapiClient(JsonClient(server.url, ssl_context=context, **kwargs), token=lambda: token)


def test_it_creates_a_room_with_the_token_header_and_documented_payload(dion_server, dion_pki):
    room = _iapi(dion_server, dion_pki).create_room(name="Mimic · C-1A2B3C", owner_email="anna@bank.example")

    n = dion_server.rooms
    assert room == Room(id=f"room-{n}", url=f"https://dion.example/room-{n}", chat_id=f"chat-{n}")
    (seen,) = dion_server.seen
    assert seen.path == "/rooms"
    assert seen.headers["X-Client-Access-Token"] == IAPI_TOKEN
    assert seen.payload == {"name": "Mimic · C-1A2B3C", "owner_email": "anna@bank.example", "participants": []}
    assert seen.client_cn == "mimic-client"  # the server saw our client certificate


def test_a_wrong_token_is_a_clear_credentials_error(dion_server, dion_pki):
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, token="expired").create_room(name="x", owner_email="anna@bank.example")
    assert err.value.status == 401
    assert "credentials" in err.value.message and "expired" in err.value.message
    assert len(dion_server.seen) == 1  # 401 is not retried


def test_dions_reason_for_a_rejected_room_reaches_the_message(dion_server, dion_pki):
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki).create_room(name="x", owner_email="anna@elsewhere.example")
    assert err.value.status == 422
    assert "no Dion account for anna@elsewhere.example" in err.value.message


def test_it_retries_429_after_the_retry_after_delay(dion_server, dion_pki):
    clock = FakeClock()
    dion_server.script.append(Scripted(429, {"error": "slow down"}, headers={"Retry-After": "7"}))

    room = _iapi(dion_server, dion_pki, sleep=clock.sleep).create_room(name="x", owner_email="anna@bank.example")

    assert room.id.startswith("room-")
    assert clock.sleeps == [7.0]
    assert len(dion_server.seen) == 2
    assert all(s.headers["X-Client-Access-Token"] == IAPI_TOKEN for s in dion_server.seen)
    # The retry repeats the same request, idempotency key included.
    assert dion_server.seen[0].headers["Idempotency-Key"] == dion_server.seen[1].headers["Idempotency-Key"]


def test_it_backs_off_exponentially_on_5xx_and_gives_up_after_the_retries(dion_server, dion_pki):
    clock = FakeClock()
    dion_server.script.extend(Scripted(503) for _ in range(4))

    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, sleep=clock.sleep, retries=3, backoff=0.5).create_room(
            name="x", owner_email="anna@bank.example"
        )

    assert err.value.status == 503 and "failing" in err.value.message
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert len(dion_server.seen) == 4


def test_a_5xx_then_success_returns_the_room(dion_server, dion_pki):
    dion_server.script.append(Scripted(502))
    room = _iapi(dion_server, dion_pki).create_room(name="x", owner_email="anna@bank.example")
    assert room.url.startswith("https://dion.example/")


def test_a_slow_dion_gives_a_clear_timeout_error_without_retrying(dion_server, dion_pki):
    dion_server.script.append(Scripted(201, {"id": "late", "url": "https://dion.example/late"}, delay=1.5))

    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, timeout=0.3).create_room(name="x", owner_email="anna@bank.example")

    assert err.value.message == "Dion did not answer within 0.3 s"
    assert len(dion_server.seen) == 1


def test_the_server_refuses_a_client_without_certificate(dion_server, dion_pki):
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, cert=False).create_room(name="x", owner_email="anna@bank.example")
    assert "Secure connection to Dion failed" in err.value.message
    assert dion_server.seen == []  # refused in the TLS handshake: no request was handled


def test_the_server_refuses_a_certificate_from_a_foreign_ca(dion_server, dion_pki):
    context = make_ssl_context(str(dion_pki.ca), str(dion_pki.foreign_cert), str(dion_pki.foreign_key))
    client = IapiClient(JsonClient(dion_server.url, ssl_context=context), token=lambda: IAPI_TOKEN)
    with pytest.raises(DionError, match="Secure connection"):
        client.create_room(name="x", owner_email="anna@bank.example")
    assert dion_server.seen == []


def test_the_client_refuses_a_server_it_cannot_verify(dion_server, dion_pki):
    context = make_ssl_context("", str(dion_pki.client_cert), str(dion_pki.client_key))  # system CAs only
    client = IapiClient(JsonClient(dion_server.url, ssl_context=context), token=lambda: IAPI_TOKEN)
    with pytest.raises(DionError, match="Secure connection"):
        client.create_room(name="x", owner_email="anna@bank.example")


def test_from_settings_uses_the_configured_path_payload_and_certificates(dion_server, dion_pki, settings, monkeypatch):
    iapi.reset_process_limiter()
    settings.REDIS_URL = ""
    settings.DION_IAPI_URL = dion_server.url + "/iapi/v1"
    settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY = str(dion_pki.client_cert), str(dion_pki.client_key)
    settings.DION_CA_BUNDLE = str(dion_pki.ca)
    settings.DION_ACCESS_TOKEN = IAPI_TOKEN
    settings.DION_ROOM_PATH = "/conference/create"
    settings.DION_ROOM_PAYLOAD_BUILDER = "tests.dion.test_iapi.uppercase_name_payload"

    room = IapiClient.from_settings().create_room(name="x", owner_email="anna@bank.example")

    (seen,) = dion_server.seen
    assert seen.path == "/iapi/v1/conference/create"
    assert seen.payload["name"] == "X"
    assert room.id.startswith("room-")


def uppercase_name_payload(*, name, owner_email, participants):
    return default_room_payload(name=name.upper(), owner_email=owner_email, participants=participants)


def test_the_access_token_file_is_reread_on_each_request(dion_server, dion_pki, settings, tmp_path, monkeypatch):
    iapi.reset_process_limiter()
    settings.REDIS_URL = ""
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    settings.DION_IAPI_URL = dion_server.url
    settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY = str(dion_pki.client_cert), str(dion_pki.client_key)
    settings.DION_CA_BUNDLE = str(dion_pki.ca)
    settings.DION_ACCESS_TOKEN_FILE = str(token_file)
    client = IapiClient.from_settings()

    with pytest.raises(DionError) as err:
        client.create_room(name="x", owner_email="anna@bank.example")
    assert err.value.status == 401
    token_file.write_text(IAPI_TOKEN + "\n")  # the administrator rotated the token
    assert client.create_room(name="x", owner_email="anna@bank.example").id.startswith("room-")


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# Rate limiting, with a fake clock -----------------------------------------------------------------------------------


def _spacing_ok(stamps: list[float], limit: int, window: float) -> bool:
    return all(stamps[i + limit] - stamps[i] >= window for i in range(len(stamps) - limit))


def test_the_limiter_allows_10_a_second_and_100_a_minute():
    clock = FakeClock()
    limiter = SlidingWindowLimiter([(10, 1.0), (100, 60.0)], clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(230):
        limiter.acquire()
        stamps.append(clock.now)

    assert _spacing_ok(stamps, 10, 1.0)
    assert _spacing_ok(stamps, 100, 60.0)
    # Not slower than needed: 10 at once, the next ten a second later, the 101st when the first leaves the minute.
    assert stamps[:10] == [0.0] * 10 and stamps[10] == 1.0
    assert stamps[99] == 9.0 and stamps[100] == 60.0
    assert stamps[200] == 120.0


def test_requests_go_through_the_limiter_including_retries(dion_server, dion_pki):
    clock = FakeClock()
    limiter = SlidingWindowLimiter([(1, 1.0)], clock=clock, sleep=clock.sleep)
    dion_server.script.append(Scripted(429, headers={"Retry-After": "0"}))
    client = _iapi(dion_server, dion_pki, limiter=limiter, sleep=clock.sleep)

    client.create_room(name="x", owner_email="anna@bank.example")
    client.create_room(name="y", owner_email="anna@bank.example")

    assert len(dion_server.seen) == 3
    assert clock.now == 2.0  # three requests at 1 per second: 0, 1, 2


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    url = os.getenv("REDIS_URL") or "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running")
    prefix = f"test:dion:{uuid.uuid4().hex}"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_the_redis_limiter_shares_the_limits_between_processes(redis_client):
    client, prefix = redis_client
    clock = FakeClock()
    clock.now = 1_000_000.0
    limits = [(10, 1.0), (100, 60.0)]
    # Two "processes": separate limiter objects, same Redis keys.
    a = RedisSlidingWindowLimiter(client, limits, prefix=prefix, clock=clock, sleep=clock.sleep)
    b = RedisSlidingWindowLimiter(client, limits, prefix=prefix, clock=clock, sleep=clock.sleep)
    stamps = []
    for i in range(120):
        (a if i % 2 else b).acquire()
        stamps.append(clock.now - 1_000_000.0)

    assert _spacing_ok(stamps, 10, 1.0)
    assert _spacing_ok(stamps, 100, 60.0)
    assert stamps[9] == 0.0 and stamps[10] == pytest.approx(1.0)
    assert stamps[100] == pytest.approx(60.0)


def test_the_limiter_falls_back_to_the_process_when_redis_is_down():
    redis = pytest.importorskip("redis")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    primary = RedisSlidingWindowLimiter(dead, [(2, 1.0)], prefix="test:dead")
    calls = []
    original = primary.acquire
    primary.acquire = lambda: (calls.append(1), original())
    clock = FakeClock()
    local = SlidingWindowLimiter([(2, 1.0)], clock=clock, sleep=clock.sleep)
    limiter = FallbackLimiter(primary, local, cooldown=30.0, clock=clock)
    for _ in range(3):
        limiter.acquire()
    assert clock.sleeps == [1.0]  # the local limiter spaced the third request
    assert len(calls) == 1  # and Redis was not asked again during the cooldown
    clock.now += 30.0
    limiter.acquire()
    assert len(calls) == 2


def test_with_redis_url_the_process_limiter_is_shared_through_redis(settings, monkeypatch):
    from dion.iapi import process_limiter

    iapi.reset_process_limiter()
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert isinstance(process_limiter(), FallbackLimiter)
    assert process_limiter() is process_limiter()
    iapi.reset_process_limiter()
    settings.REDIS_URL = ""
    assert isinstance(process_limiter(), SlidingWindowLimiter)
