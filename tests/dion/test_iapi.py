"""The IAPI client against a real mutual-TLS fake Dion: documented endpoints, token header, answer keys,
retries that are safe and none that are not, refusals, and both limits (100 per 60 s, 10 at once)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid

import pytest

from dion import iapi
from dion.iapi import AnswerKeys, Event, IapiClient, Session, sessions_from
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
    parse_retry_after,
)
from tests.dion.conftest import MANAGER_EMAIL
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


def _iapi(
    server: FakeDionServer, pki: Pki, *, cert: bool = True, token: str = IAPI_TOKEN, keys=None, **kwargs
) -> IapiClient:
    context = make_ssl_context(str(pki.ca), str(pki.client_cert) if cert else "", str(pki.client_key) if cert else "")
    kwargs.setdefault("sleep", FakeClock().sleep)
    return IapiClient(JsonClient(server.iapi_url, ssl_context=context, **kwargs), token=lambda: token, keys=keys)


@pytest.fixture
def owner(dion_server):
    dion_server.add_user("u-anna", MANAGER_EMAIL)
    return MANAGER_EMAIL


def test_it_creates_a_meeting_with_post_events_and_reads_its_link_from_get_events(dion_server, dion_pki, owner):
    event = _iapi(dion_server, dion_pki).create_event(owner_email=owner, title="Mimic · C-1A2B3C")

    (stored,) = dion_server.events.values()
    assert event == Event(id=stored["id"], url=stored["link"])
    post, get = dion_server.seen
    assert (post.method, post.route) == ("POST", "/v1/events")
    assert post.payload == {"owner_email": owner, "title": "Mimic · C-1A2B3C"}
    assert post.headers["X-Client-Access-Token"] == IAPI_TOKEN
    assert post.client_cn == "mimic-client"  # the server saw our client certificate
    # The answer of POST /events had no link: the meeting's own data has it.
    assert (get.method, get.route) == ("GET", f"/v1/events/{stored['id']}")


def test_a_link_in_the_answer_of_post_events_saves_the_second_request(dion_server, dion_pki, owner):
    dion_server.link_in_post_answer = True
    event = _iapi(dion_server, dion_pki).create_event(owner_email=owner)
    assert event.url.startswith("https://dion.example/")
    assert [s.method for s in dion_server.seen] == ["POST"]


def test_the_answer_keys_are_configurable(dion_server, dion_pki, owner):
    dion_server.script.append(Scripted(200, {"data": {"eventId": "e-7", "joinLink": "https://dion.example/e-7"}}))
    keys = AnswerKeys(event_id=("data.eventId",), event_link=("data.joinLink",))
    event = _iapi(dion_server, dion_pki, keys=keys).create_event(owner_email=owner)
    assert event == Event("e-7", "https://dion.example/e-7")


def test_an_answer_without_an_event_id_is_ambiguous(dion_server, dion_pki, owner):
    dion_server.script.append(Scripted(200, {"result": "created"}))
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki).create_event(owner_email=owner)
    assert err.value.ambiguous and "may exist" in err.value.message


def test_moderators_and_event_params_are_sent_only_when_given(dion_server, dion_pki, owner):
    dion_server.add_user("u-boris", "boris@bank.example")
    _iapi(dion_server, dion_pki).create_event(
        owner_email=owner, moderators_emails=["boris@bank.example"], event_params=["waiting_room"]
    )
    assert dion_server.seen[0].payload == {
        "owner_email": owner,
        "moderators_emails": ["boris@bank.example"],
        "event_params": ["waiting_room"],
    }


def test_a_wrong_token_is_a_clear_credentials_error(dion_server, dion_pki, owner):
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, token="expired").create_event(owner_email=owner)
    assert err.value.status == 401 and not err.value.ambiguous
    assert "credentials" in err.value.message and "expired" in err.value.message
    assert len(dion_server.seen) == 1  # 401 is not retried


def test_an_owner_who_is_not_a_dion_account_gets_dions_reason(dion_server, dion_pki):
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki).create_event(owner_email="anna@elsewhere.example")
    assert err.value.status == 400 and not err.value.ambiguous
    assert "anna@elsewhere.example is not registered in DION" in err.value.message


def test_a_429_on_post_events_is_retried_after_its_retry_after(dion_server, dion_pki, owner):
    clock = FakeClock()
    dion_server.script.append(Scripted(429, {"message": "slow down"}, headers={"Retry-After": "7"}, method="POST"))

    event = _iapi(dion_server, dion_pki, sleep=clock.sleep).create_event(owner_email=owner)

    assert event.id in dion_server.events and len(dion_server.events) == 1
    assert clock.sleeps == [7.0]
    assert [s.method for s in dion_server.seen] == ["POST", "POST", "GET"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_on_post_events_is_not_retried_and_is_ambiguous(dion_server, dion_pki, owner, status):
    clock = FakeClock()
    dion_server.script.append(Scripted(status, {"message": "internal error"}, method="POST"))

    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, sleep=clock.sleep, retries=3).create_event(owner_email=owner)

    assert err.value.status == status and err.value.ambiguous
    assert len(dion_server.requests("POST", "/v1/events")) == 1  # never repeated: it may have created one
    assert clock.sleeps == []


def test_a_timeout_on_post_events_is_not_retried_and_is_ambiguous(dion_server, dion_pki, owner):
    dion_server.script.append(Scripted(200, {"id": "late"}, delay=1.5, method="POST"))

    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, timeout=0.3).create_event(owner_email=owner)

    assert err.value.message == "Dion did not answer within 0.3 s" and err.value.ambiguous
    assert len(dion_server.seen) == 1


def test_gets_are_retried_on_5xx_with_exponential_backoff(dion_server, dion_pki):
    clock = FakeClock()
    dion_server.add_user("u-1", "boris@bank.example")
    dion_server.script.extend([Scripted(503, method="GET"), Scripted(502, method="GET")])

    user = _iapi(dion_server, dion_pki, sleep=clock.sleep, backoff=0.5).get_user("u-1")

    assert user.email == "boris@bank.example"
    assert clock.sleeps == [0.5, 1.0]
    assert len(dion_server.seen) == 3


def test_gets_give_up_after_the_retries(dion_server, dion_pki):
    dion_server.script.extend(Scripted(503, method="GET") for _ in range(3))
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, retries=2).get_user("u-1")
    assert err.value.status == 503 and "failing" in err.value.message and not err.value.ambiguous
    assert len(dion_server.seen) == 3


def test_get_user_reads_the_e_mail_and_an_unknown_user_is_404(dion_server, dion_pki):
    dion_server.add_user("u-1", "boris@bank.example", "Boris")
    client = _iapi(dion_server, dion_pki)
    assert client.get_user("u-1") == iapi.DionUser("u-1", "boris@bank.example", "Boris")
    with pytest.raises(DionError) as err:
        client.get_user("u-404")
    assert err.value.status == 404


def test_event_sessions_asks_for_the_time_window_and_reads_every_session(dion_server, dion_pki, owner):
    client = _iapi(dion_server, dion_pki)
    event = client.create_event(owner_email=owner)
    dion_server.join(event.id, "u-anna")
    dion_server.join(event.id, "u-client")
    dion_server.leave_all(event.id)
    dion_server.join(event.id, "u-client")  # back again

    start = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    sessions = client.event_sessions(event.id, time_start=start, time_end=start + dt.timedelta(hours=1))

    seen = dion_server.seen[-1]
    assert seen.query == {"time_start": ["2026-01-02T03:04:05Z"], "time_end": ["2026-01-02T04:04:05Z"]}
    assert sorted((s.user, s.end is None) for s in sessions) == [
        ("u-anna", False),
        ("u-client", False),
        ("u-client", True),
    ]


def test_sessions_are_read_from_a_flat_list_of_intervals_too():
    answer = [
        {"user_id": "u-1", "time_start": "2026-01-01T10:00:00Z", "time_end": "2026-01-01T10:30:00+00:00"},
        {"user_id": "u-2", "time_start": 1767261600, "time_end": None},
    ]
    sessions = sessions_from(answer, list_keys=("users",), session_keys=("sessions",))
    assert sessions == [
        Session("u-1", dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, 10, 30, tzinfo=dt.UTC)),
        Session("u-2", dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC), None),
    ]
    with pytest.raises(DionError, match="unknown shape"):
        sessions_from({"something": "else"}, list_keys=("users",), session_keys=("sessions",))


def test_the_server_refuses_a_client_without_certificate(dion_server, dion_pki, owner):
    with pytest.raises(DionError) as err:
        _iapi(dion_server, dion_pki, cert=False).create_event(owner_email=owner)
    assert "Secure connection to Dion failed" in err.value.message
    assert dion_server.seen == []  # refused in the TLS handshake: no request was handled


def test_the_server_refuses_a_certificate_from_a_foreign_ca(dion_server, dion_pki, owner):
    context = make_ssl_context(str(dion_pki.ca), str(dion_pki.foreign_cert), str(dion_pki.foreign_key))
    client = IapiClient(JsonClient(dion_server.iapi_url, ssl_context=context), token=lambda: IAPI_TOKEN)
    with pytest.raises(DionError, match="Secure connection"):
        client.create_event(owner_email=owner)
    assert dion_server.seen == []


def test_the_client_refuses_a_server_it_cannot_verify(dion_server, dion_pki, owner):
    context = make_ssl_context("", str(dion_pki.client_cert), str(dion_pki.client_key))  # system CAs only
    client = IapiClient(JsonClient(dion_server.iapi_url, ssl_context=context), token=lambda: IAPI_TOKEN)
    with pytest.raises(DionError, match="Secure connection"):
        client.create_event(owner_email=owner)


def test_dion_unreachable_is_a_clear_error_after_the_connection_retries():
    clock = FakeClock()
    client = IapiClient(JsonClient("https://127.0.0.1:9/v1", sleep=clock.sleep, retries=2), token=lambda: "t")
    with pytest.raises(DionError) as err:
        client.create_event(owner_email=MANAGER_EMAIL)
    assert "unreachable" in err.value.message and err.value.status is None and not err.value.ambiguous
    assert clock.sleeps == [0.5, 1.0]  # a refused connection sent nothing: safe to try again


def test_the_default_base_is_dions_public_iapi_and_the_token_turns_it_on(settings):
    from webapp import settings as project_settings

    assert project_settings.DION_IAPI_URL == os.getenv("DION_IAPI_URL", "https://api-integration.dion.vc/v1")
    settings.DION_IAPI_URL = "https://api-integration.dion.vc/v1"
    settings.DION_ACCESS_TOKEN = settings.DION_ACCESS_TOKEN_FILE = ""
    assert not iapi.is_configured()
    settings.DION_ACCESS_TOKEN = "t"
    assert iapi.is_configured()


def test_from_settings_uses_the_base_url_certificates_and_answer_keys(dion_settings, dion_server, owner):
    dion_settings.DION_EVENT_LINK_KEYS = ["nothing-here"]
    with pytest.raises(DionError, match="no https link"):
        IapiClient.from_settings().create_event(owner_email=owner)
    dion_settings.DION_EVENT_LINK_KEYS = ["link"]
    event = IapiClient.from_settings().create_event(owner_email=owner)
    assert dion_server.seen[-1].route == f"/v1/events/{event.id}"


def test_the_access_token_file_is_reread_on_each_request(dion_settings, dion_server, tmp_path, owner):
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    dion_settings.DION_ACCESS_TOKEN_FILE = str(token_file)
    client = IapiClient.from_settings()

    with pytest.raises(DionError) as err:
        client.create_event(owner_email=owner)
    assert err.value.status == 401
    token_file.write_text(IAPI_TOKEN + "\n")  # the administrator rotated the token
    assert client.create_event(owner_email=owner).id in dion_server.events


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# At most 10 at once ------------------------------------------------------------------------------------------------


def _concurrent_gets(client: IapiClient, n: int) -> list[object]:
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = client.get_user("u-1").email
        except Exception as exc:  # noqa: BLE001 (reported by the assertion)
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_11_concurrent_requests_run_at_most_10_at_once(dion_server, dion_pki):
    dion_server.add_user("u-1", "boris@bank.example")
    dion_server.delay = 1.0
    context = make_ssl_context(str(dion_pki.ca), str(dion_pki.client_cert), str(dion_pki.client_key))
    client = IapiClient(
        JsonClient(dion_server.iapi_url, ssl_context=context, concurrency=ConcurrencyLimiter(10)),
        token=lambda: IAPI_TOKEN,
    )

    results = _concurrent_gets(client, 11)

    assert results == ["boris@bank.example"] * 11
    assert dion_server.max_in_flight == 10


def test_without_the_semaphore_the_fake_does_see_11_at_once(dion_server, dion_pki):
    """The control: the fake can count past 10, so the test above measures the client's semaphore."""
    dion_server.add_user("u-1", "boris@bank.example")
    dion_server.delay = 1.0
    context = make_ssl_context(str(dion_pki.ca), str(dion_pki.client_cert), str(dion_pki.client_key))
    client = IapiClient(JsonClient(dion_server.iapi_url, ssl_context=context), token=lambda: IAPI_TOKEN)
    assert _concurrent_gets(client, 11) == ["boris@bank.example"] * 11
    assert dion_server.max_in_flight == 11


# 100 per 60 s, with a fake clock ------------------------------------------------------------------------------------


def _spacing_ok(stamps: list[float], limit: int, window: float) -> bool:
    return all(stamps[i + limit] - stamps[i] >= window for i in range(len(stamps) - limit))


def test_the_limiter_allows_100_a_minute_and_no_more():
    clock = FakeClock()
    limiter = SlidingWindowLimiter([(100, 60.0)], clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(230):
        limiter.acquire()
        stamps.append(clock.now)

    assert _spacing_ok(stamps, 100, 60.0)
    # Not slower than needed: 100 at once, the 101st when the first leaves the minute.
    assert stamps[99] == 0.0 and stamps[100] == 60.0 and stamps[200] == 120.0


def test_requests_go_through_the_limiter_including_retries(dion_server, dion_pki):
    clock = FakeClock()
    dion_server.add_user("u-1", "boris@bank.example")
    limiter = SlidingWindowLimiter([(1, 1.0)], clock=clock, sleep=clock.sleep)
    dion_server.script.append(Scripted(429, headers={"Retry-After": "0"}))
    client = _iapi(dion_server, dion_pki, limiter=limiter, sleep=clock.sleep)

    client.get_user("u-1")
    client.get_user("u-1")

    assert len(dion_server.seen) == 3
    assert clock.now == 2.0  # three requests at 1 per second: 0, 1, 2


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    url = os.getenv("REDIS_URL") or "redis://127.0.0.1:6379/5"
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
    limits = [(100, 60.0)]
    # Two "processes": separate limiter objects, same Redis keys.
    a = RedisSlidingWindowLimiter(client, limits, prefix=prefix, clock=clock, sleep=clock.sleep)
    b = RedisSlidingWindowLimiter(client, limits, prefix=prefix, clock=clock, sleep=clock.sleep)
    stamps = []
    for i in range(120):
        (a if i % 2 else b).acquire()
        stamps.append(clock.now - 1_000_000.0)

    assert _spacing_ok(stamps, 100, 60.0)
    assert stamps[99] == 0.0 and stamps[100] == pytest.approx(60.0)


def test_the_redis_semaphore_holds_10_across_processes_and_a_dead_holders_slot_expires(redis_client):
    client, prefix = redis_client
    clock = FakeClock()
    clock.now = 1_000_000.0
    a = RedisConcurrencyLimiter(client, 10, lease=25.0, prefix=prefix, clock=clock)
    b = RedisConcurrencyLimiter(client, 10, lease=25.0, prefix=prefix, clock=clock)
    assert all((a if i % 2 else b).try_acquire(f"holder-{i}") for i in range(10))
    assert not a.try_acquire("eleventh") and not b.try_acquire("eleventh")
    with pytest.raises(TimeoutError):
        with _timeboxed(b):
            pass
    clock.now += 26.0  # the holders died without releasing: their lease is over
    assert a.try_acquire("after-the-lease")


class _timeboxed:
    """Enter ``limiter.slot()`` but give up after a few polls (the slot is taken)."""

    def __init__(self, limiter: RedisConcurrencyLimiter) -> None:
        polls = []

        def sleep(_s: float) -> None:
            polls.append(1)
            if len(polls) > 5:
                raise TimeoutError

        limiter._sleep = sleep
        self.context = limiter.slot()

    def __enter__(self):
        return self.context.__enter__()

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)


def test_a_released_redis_slot_is_free_at_once(redis_client):
    client, prefix = redis_client
    limiter = RedisConcurrencyLimiter(client, 1, lease=25.0, prefix=prefix)
    with limiter.slot():
        assert not limiter.try_acquire("other")
    assert limiter.try_acquire("other")


def test_the_limiters_fall_back_to_the_process_when_redis_is_down():
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

    semaphore = FallbackConcurrencyLimiter(
        RedisConcurrencyLimiter(dead, 10, lease=5.0, prefix="test:dead"), ConcurrencyLimiter(1)
    )
    with semaphore.slot():
        assert not semaphore.fallback._semaphore.acquire(blocking=False)  # the local slot is the one taken


def test_with_redis_url_the_process_limiters_are_shared_through_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/5"
    assert isinstance(iapi.process_limiter(), FallbackLimiter)
    assert isinstance(iapi.process_concurrency(), FallbackConcurrencyLimiter)
    assert iapi.process_limiter() is iapi.process_limiter()
    iapi.reset_process_limiter()
    settings.REDIS_URL = ""
    assert isinstance(iapi.process_limiter(), SlidingWindowLimiter)
    assert isinstance(iapi.process_concurrency(), ConcurrencyLimiter)
