"""Cross-call micro-batching: the daphne-side batcher and the worker's batch analysis.

The batcher is plain asyncio and is driven here with a recording publisher. The batch task runs the
real engine, database and channel layer in-process; its real-worker behaviour (a batch that killed
its worker is split, so a poison frame is dead-lettered alone) is in test_reliability_faults.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from celery import signals
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

from calls import scoring, tasks
from calls.batching import FrameBatcher
from calls.broadcast import manager_group_name
from calls.lifecycle import start_call, withdraw_consent
from calls.models import Call, EmotionSample
from calls.scoring import QueuedFrame, analyze_batch
from tests.support.live import browser_like_jpeg, give_consent

# --- the batcher ----------------------------------------------------------------------------------------


class Recorder:
    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list] = []
        self.fail = fail

    def __call__(self, items: list) -> None:
        self.batches.append(list(items))
        if self.fail is not None:
            raise self.fail


async def test_a_full_batch_is_published_at_once_as_one_message() -> None:
    publish = Recorder()
    batcher = FrameBatcher(publish, max_frames=3, max_wait_ms=10_000)
    await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(3))), timeout=2)
    assert publish.batches == [[0, 1, 2]]


async def test_a_lone_frame_waits_at_most_the_batch_window() -> None:
    publish = Recorder()
    batcher = FrameBatcher(publish, max_frames=16, max_wait_ms=30)
    started = time.monotonic()
    await asyncio.wait_for(batcher.submit("only"), timeout=2)
    waited = time.monotonic() - started
    assert publish.batches == [["only"]]
    assert 0.025 <= waited < 1.0


async def test_frames_arriving_within_the_window_share_a_batch_and_later_ones_start_the_next() -> None:
    publish = Recorder()
    batcher = FrameBatcher(publish, max_frames=16, max_wait_ms=50)
    first = [asyncio.create_task(batcher.submit(i)) for i in range(4)]
    await asyncio.gather(*first)
    await batcher.submit(4)
    assert publish.batches == [[0, 1, 2, 3], [4]]
    assert batcher.mean_batch_size == 2.5


async def test_with_no_window_every_frame_is_its_own_batch() -> None:
    publish = Recorder()
    batcher = FrameBatcher(publish, max_frames=16, max_wait_ms=0)
    await asyncio.gather(*(batcher.submit(i) for i in range(3)))
    assert sorted(publish.batches) == [[0], [1], [2]]


async def test_a_failed_publish_fails_every_frame_of_its_batch_and_only_those() -> None:
    publish = Recorder(fail=ConnectionError("redis is down"))
    batcher = FrameBatcher(publish, max_frames=2, max_wait_ms=10_000)
    results = await asyncio.gather(batcher.submit("a"), batcher.submit("b"), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    publish.fail = None
    await asyncio.gather(batcher.submit("c"), batcher.submit("d"))
    assert publish.batches[-1] == ["c", "d"]


# --- the batch task -------------------------------------------------------------------------------------


@pytest.fixture
def two_calls(call, manager, client_of_manager, process_engine):
    second = Call.objects.create(manager=manager, client=client_of_manager)
    for each in (call, second):
        start_call(each)
        give_consent(each)
    scoring.reset()
    return call, second


def queued(call, seq: int, jpeg: bytes | None = None, age_ms: int = 0) -> QueuedFrame:
    return QueuedFrame(str(call.pk), seq, seq * 500, jpeg or browser_like_jpeg(), int(time.time() * 1000) - age_ms)


def _analyze(batch: list[QueuedFrame]) -> None:
    try:
        analyze_batch(batch)
    finally:
        connection.close()  # this worker thread's own connection, or the test database cannot be dropped


run_batch = sync_to_async(_analyze, thread_sensitive=False)


async def listen(call) -> tuple[str, object]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(manager_group_name(call.pk), channel)
    return channel, layer


async def drain(layer, channel: str, count: int) -> list[dict]:
    return [await asyncio.wait_for(layer.receive(channel), timeout=5) for _ in range(count)]


@pytest.mark.django_db(transaction=True)
async def test_one_batch_stores_and_announces_the_frames_of_several_calls(two_calls) -> None:
    first, second = two_calls
    channel_a, layer = await listen(first)
    channel_b, _ = await listen(second)
    batch = [queued(first, 0), queued(second, 0), queued(first, 1), queued(second, 1, browser_like_jpeg("NEU"))]
    await run_batch(batch)
    rows = await database_sync_to_async(lambda: list(EmotionSample.objects.values_list("call_id", "seq", "label")))()
    stored = sorted((str(c), s, label) for c, s, label in rows)
    expected = sorted([(str(first.pk), 0), (str(first.pk), 1), (str(second.pk), 0), (str(second.pk), 1)])
    assert [(c, s) for c, s, _ in stored] == expected
    assert all(label for _, _, label in stored)
    to_first = await drain(layer, channel_a, 2)
    to_second = await drain(layer, channel_b, 2)
    # Each manager gets only their own call's scores, in the order of the frames.
    assert [(m["type"], m["seq"]) for m in to_first] == [("frame.result", 0), ("frame.result", 1)]
    assert [(m["type"], m["seq"]) for m in to_second] == [("frame.result", 0), ("frame.result", 1)]


@pytest.mark.django_db(transaction=True)
async def test_a_batch_run_twice_stores_each_frame_once_and_says_duplicate(two_calls) -> None:
    first, second = two_calls
    channel, layer = await listen(first)
    batch = [queued(first, 5), queued(second, 5)]
    run = run_batch
    await run(batch)
    await run(batch)  # a redelivery
    assert await database_sync_to_async(EmotionSample.objects.count)() == 2
    messages = await drain(layer, channel, 2)
    assert [(m["type"], m.get("reason")) for m in messages] == [("frame.result", None), ("frame.dropped", "duplicate")]


@pytest.mark.django_db(transaction=True)
async def test_a_bad_or_stale_frame_is_dropped_with_its_reason_and_the_rest_of_its_batch_goes_on(two_calls) -> None:
    first, second = two_calls
    channel, layer = await listen(first)
    truncated = browser_like_jpeg()[:200]
    batch = [queued(first, 0, truncated), queued(first, 1, age_ms=60_000), queued(first, 2), queued(second, 0)]
    await run_batch(batch)
    messages = await drain(layer, channel, 3)
    assert sorted((m["seq"], m["type"], m.get("reason")) for m in messages) == [
        (0, "frame.dropped", "bad_jpeg"),
        (1, "frame.dropped", "stale"),
        (2, "frame.result", None),
    ]
    assert await database_sync_to_async(EmotionSample.objects.count)() == 2


@pytest.mark.django_db(transaction=True)
async def test_a_withdrawn_call_in_a_batch_stores_nothing_while_the_other_call_is_stored(two_calls) -> None:
    first, second = two_calls
    run = run_batch
    await run([queued(first, 0), queued(second, 0)])  # both calls' states are cached as open and consented
    await database_sync_to_async(withdraw_consent)(first.pk, "client", "client-link")
    channel, layer = await listen(first)
    await run([queued(first, 1), queued(second, 1)])
    counts = await database_sync_to_async(lambda: (first.samples.count(), second.samples.count()))()
    assert counts == (0, 2)
    (message,) = await drain(layer, channel, 1)
    assert (message["type"], message["seq"]) == ("frame.dropped", 1)


@pytest.mark.django_db(transaction=True)
def test_a_batch_delivered_again_is_split_into_one_task_per_frame(two_calls, monkeypatch) -> None:
    from lib.tasks import ReliableTask
    from webapp.celery import app

    first, second = two_calls
    monkeypatch.setattr(ReliableTask, "_deliveries", lambda self: 2)  # as if a worker had died on it once
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the split frames run here, not on a worker
    ran: list[tuple[str, tuple]] = []

    def record(sender=None, args=(), **kwargs) -> None:
        ran.append((sender.name, tuple(args[:2]) if sender.name.endswith("analyze_frame") else ()))

    signals.task_prerun.connect(record, weak=False)
    try:
        tasks.analyze_frames.apply(([queued(first, 0).as_message(), queued(second, 0).as_message()],))
    finally:
        signals.task_prerun.disconnect(record)
    assert ran == [
        ("calls.tasks.analyze_frames", ()),
        ("calls.tasks.analyze_frame", (str(first.pk), 0)),
        ("calls.tasks.analyze_frame", (str(second.pk), 0)),
    ]
    assert EmotionSample.objects.count() == 2


# --- one call's impossible rows never cost another call its samples ----------------------------------


@pytest.mark.django_db(transaction=True)
async def test_one_calls_impossible_offset_costs_the_other_call_in_the_batch_nothing(two_calls) -> None:
    first, second = two_calls
    channel_a, layer = await listen(first)
    channel_b, _ = await listen(second)
    spoiled = queued(first, 0)
    spoiled.offset_ms = 10**19  # what hello.now = -1e19 made of a capture time
    await run_batch([spoiled, queued(second, 0), queued(second, 1)])
    counts = await database_sync_to_async(lambda: (first.samples.count(), second.samples.count()))()
    assert counts == (0, 2)
    # Nothing disappears silently: the spoiled frame's manager is told, the other gets both scores.
    assert [(m["type"], m["seq"], m.get("reason")) for m in await drain(layer, channel_a, 1)] == [
        ("frame.dropped", 0, "invalid")
    ]
    assert [(m["type"], m["seq"]) for m in await drain(layer, channel_b, 2)] == [
        ("frame.result", 0),
        ("frame.result", 1),
    ]


@pytest.mark.django_db(transaction=True)
def test_rows_the_database_refuses_fail_only_their_own_call(two_calls, monkeypatch) -> None:
    """Should a value pass the check and the database still refuse it, the batch is inserted call by call."""
    from calls import models
    from calls.models import ScoredFrame

    first, second = two_calls
    monkeypatch.setattr(models, "sample_problem", lambda item: None)  # as if the check had missed it
    probs = [1.0] + [0.0] * 7
    batch = [
        ScoredFrame(str(first.pk), 0, 10**19, True, probs, "neutral", "neutral"),  # no integer column takes it
        ScoredFrame(str(second.pk), 0, 0, True, probs, "neutral", "neutral"),
        ScoredFrame(str(second.pk), 1, 500, True, probs, "neutral", "neutral"),
    ]
    invalid: list = []
    stored = EmotionSample.objects.store_live(batch, invalid)
    assert stored == {(str(second.pk), 0), (str(second.pk), 1)}
    assert [(item.call_id, item.seq) for item in invalid] == [(str(first.pk), 0)]
    assert (first.samples.count(), second.samples.count()) == (0, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("seq", -1), ("seq", 2**31), ("offset_ms", -1), ("offset_ms", 2**31), ("probs", [float("nan")] * 8)],
)
def test_impossible_values_are_refused_before_the_insert(call, field, value) -> None:
    from dataclasses import replace

    from calls.models import ScoredFrame, sample_problem

    good = ScoredFrame(str(call.pk), 0, 0, True, [1.0] + [0.0] * 7, "neutral", "neutral")
    assert sample_problem(good) is None
    assert sample_problem(replace(good, **{field: value})) is not None
