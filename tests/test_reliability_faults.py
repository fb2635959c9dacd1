"""Faults with real processes: killed workers, poison input, Redis and PostgreSQL outages, daphne restarts.

Everything runs on loopback against a private redis-server and a throwaway PostgreSQL cluster that
these tests start, stop and kill themselves (tests/reliability_support.py); the shared services on
6379 and 5432 are never touched. Skipped only when redis-server or initdb is missing (failed under CI).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.engine_support import classifier_path  # noqa: F401 - fixture
from tests.reliability_support import PgCluster, RedisServer, SimulatedCall, seed_call, send_task
from tests.servers import CeleryWorker, DaphneServer

pytestmark = pytest.mark.slow

FRAMES = 200
MAX_DELIVERIES = 3  # MIMIC_TASK_MAX_DELIVERIES's default (webapp/settings.py)


@pytest.fixture(scope="module")
def pg():
    cluster = PgCluster().create()
    yield cluster
    cluster.close()


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def env(pg, redis_server, classifier_path, tmp_path) -> dict[str, str]:  # noqa: F811
    return {
        "DATABASE_URL": pg.url,
        "REDIS_URL": redis_server.url,
        "CELERY_QUEUE": f"reliability-{tmp_path.name[-12:]}",
        "MIMIC_CLASSIFIER_PATH": str(classifier_path),
        "DB_CONN_MAX_AGE": "60",
        "MIMIC_HEALTH_PROBE_MS": "300",
        # Dead workers' messages come back within seconds (production: 3600 s, longer than any task).
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _stored_after_kills(env: dict[str, str], pg: PgCluster, acks_late: bool) -> int:
    env = {**env, "MIMIC_FRAME_ACKS_LATE": "1" if acks_late else "0", "MIMIC_FRAME_STALE_MS": "600000"}
    call = seed_call(env, frames=FRAMES)  # queued before any worker runs
    count = lambda: len(pg.stored_seqs(call["call_id"]))  # noqa: E731
    worker = CeleryWorker(env=env, queue=env["CELERY_QUEUE"], pool="prefork", concurrency=2).start()
    try:
        _wait(lambda: count() >= 40, 60, "40 stored frames")
        os.kill(_children(worker.process.pid)[0], signal.SIGKILL)  # a pool process dies mid-frame
        _wait(lambda: count() >= 100, 60, "100 stored frames")
        os.kill(worker.process.pid, signal.SIGKILL)  # then the main worker process, and its pool with it
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(10)
    finally:
        worker.stop()
    with CeleryWorker(env=env, queue=env["CELERY_QUEUE"], pool="prefork", concurrency=2):
        last, stable_since = -1, time.monotonic()
        # Done when nothing changed for 15 s: past the visibility timeout (5 s) and a few restore sweeps.
        while time.monotonic() - stable_since < 15 and count() < FRAMES:
            now = count()
            if now != last:
                last, stable_since = now, time.monotonic()
            time.sleep(0.2)
        return count()


def test_a_killed_worker_loses_no_frame_and_doubles_none(env, pg) -> None:
    assert _stored_after_kills(env, pg, acks_late=True) == FRAMES


def test_control_without_acks_late_a_killed_worker_loses_frames(env, pg) -> None:
    # Shows the test above can fail: early-acknowledged frames die with their worker.
    assert _stored_after_kills(env, pg, acks_late=False) < FRAMES


def _dead_letters(pg: PgCluster, call: dict) -> int:
    # This call's only: the cluster is shared by the module's tests.
    return pg.query("SELECT count(*) FROM emotions_deadletter WHERE call_id = %s", [call["call_id"]])[0][0]


def _poison_worker(env, pg) -> tuple[CeleryWorker, dict]:
    call = seed_call(env)
    # Two pool processes, as deployed.
    worker = CeleryWorker(env=env, queue=env["CELERY_QUEUE"], pool="prefork", concurrency=2)
    worker._start = _with_poison(worker._start)
    return worker, call


def test_a_message_that_kills_its_worker_every_time_is_dead_lettered(env, pg) -> None:
    worker, call = _poison_worker(env, pg)
    with worker:
        send_task(env, "tests.poison_tasks.poison_frame", [call["call_id"], 5])
        _wait(lambda: _dead_letters(pg, call) == 1, 90, "the dead letter")
        task_name, call_id, seq, deliveries = pg.query(
            "SELECT task_name, call_id::text, seq, deliveries FROM emotions_deadletter WHERE call_id = %s",
            [call["call_id"]],
        )[0]
        assert (task_name, call_id, seq) == ("tests.poison_tasks.poison_frame", call["call_id"], 5)
        assert deliveries > MAX_DELIVERIES  # then given up
        time.sleep(7)  # longer than the visibility timeout: a looping message would be back by now
        log = worker.log_tail(200_000)
        # It does not loop: K deliveries each kill a pool process (one worker: all in its log), then a dead letter.
        assert log.count("exited with 'exitcode 1'") == MAX_DELIVERIES, log[-3000:]
        assert _dead_letters(pg, call) == 1
        columns = {r[0] for r in pg.query("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'emotions_deadletter'")}  # fmt: skip
        assert not columns & {"args", "kwargs", "payload", "body"}  # identifiers only, never the frame


def test_after_a_poison_message_the_worker_goes_on_with_ordinary_work(env, pg) -> None:
    worker, call = _poison_worker(env, pg)
    with worker:
        send_task(env, "tests.poison_tasks.poison_frame", [call["call_id"], 5])
        _wait(lambda: _dead_letters(pg, call) == 1, 90, "the dead letter")
        # More tasks than pool processes: every replacement process, and the prefetch window, must still work.
        send_task(env, "emotions.tasks.end_idle_calls", [], times=6)
        done = lambda: len(re.findall(r"end_idle_calls\[\S+\] succeeded", worker.log_tail(200_000)))  # noqa: E731
        _wait(lambda: done() == 6, 60, "the next tasks")


def _with_poison(start):
    def _start(cmd, env, log_name):
        return start([*cmd, "-I", "tests.poison_tasks"], env, log_name)

    return _start


def _accounted(sim: SimulatedCall, stored: list[int]) -> list[int]:
    """Seqs sent that are neither stored nor dropped with a reason: must be none."""
    sent = set(range(sim.next_seq)) - set(sim.unacked)  # unacked at the end: still on the client, resent later
    return sorted(sent - set(stored) - set(sim.client_drops) - set(sim.worker_drops))


def _stack(env):
    worker = CeleryWorker(env=env, queue=env["CELERY_QUEUE"], pool="prefork", concurrency=2).start()
    server = DaphneServer(env=env).start()
    return worker, server


async def test_a_redis_outage_pauses_analysis_counts_drops_and_resumes_by_itself(env, pg, redis_server) -> None:
    call = seed_call(env)
    worker, server = _stack(env)
    try:
        async with SimulatedCall(server.url, call) as sim:
            await sim.wait_for(lambda: len(sim.scores) >= 3)
            redis_server.stop()
            await sim.wait_for(lambda: any("redis" in e["services"] for e in sim.events("paused")), 10)
            await asyncio.sleep(3)
            redis_server.start()
            await sim.wait_for(lambda: sim.events("resumed"), 15)
            resumed_at = sim.next_seq
            await sim.wait_for(lambda: any(s >= resumed_at for s in sim.scores), 30)
            await asyncio.sleep(1)
        await asyncio.sleep(2)
        stored = pg.stored_seqs(call["call_id"])
        assert "paused" in sim.client_drops.values()  # dropped and counted, not queued
        assert _accounted(sim, stored) == []
        assert len(sim.scores) == len(set(sim.scores))
    finally:
        server.stop()
        worker.stop()


async def test_a_database_hard_stop_pauses_analysis_keeps_acknowledged_samples_and_resumes(env, pg) -> None:
    call = seed_call(env)
    worker, server = _stack(env)
    try:
        async with SimulatedCall(server.url, call) as sim:
            await sim.wait_for(lambda: len(sim.scores) >= 3)
            pg.stop(immediate=True)  # no shutdown checkpoint: only what was committed (WAL) survives
            await sim.wait_for(lambda: any("database" in e["services"] for e in sim.events("paused")), 10)
            acknowledged = list(sim.scores)
            await asyncio.sleep(3)
            pg.start()
            await sim.wait_for(lambda: sim.events("resumed"), 15)
            resumed_at = sim.next_seq
            await sim.wait_for(lambda: any(s >= resumed_at for s in sim.scores), 30)
        await asyncio.sleep(2)
        stored = pg.stored_seqs(call["call_id"])
        assert set(acknowledged) <= set(stored)  # every score the manager saw survived the crash
        assert "paused" in {*sim.client_drops.values(), *sim.worker_drops.values()}
        assert _accounted(sim, stored) == []
    finally:
        server.stop()
        worker.stop()


async def test_a_daphne_restart_resumes_the_call_without_duplicates(env, pg) -> None:
    from emotions.analytics import summarize

    call = seed_call(env)
    worker, server = _stack(env)
    try:
        async with SimulatedCall(server.url, call) as sim:
            await sim.wait_for(lambda: len(sim.scores) >= 4)
            before = sim.next_seq
            down = time.monotonic()
            server.stop()
            await asyncio.sleep(1)
            server.start()  # same port: the page's socket reconnects by itself
            await sim.wait_for(lambda: sim.reconnects >= 1 and any(s >= before for s in sim.scores), 30)
            downtime_ms = (time.monotonic() - down) * 1000
            await asyncio.sleep(2)
        await asyncio.sleep(2)
        rows = pg.query("SELECT seq, offset_ms, face_found FROM emotions_emotionsample WHERE call_id = %s "
                        "ORDER BY seq", [call["call_id"]])  # fmt: skip
        seqs = [r[0] for r in rows]
        assert len(seqs) == len(set(seqs)) and len(sim.scores) == len(set(sim.scores))
        assert max(seqs) >= before  # the sequence went on after the restart, it did not start again
        assert _accounted(sim, seqs) == []
        summary = summarize([r[1] for r in rows], [r[2] for r in rows], [None] * len(rows), max_gap_ms=2000)
        assert all(g["end_ms"] - g["start_ms"] <= downtime_ms + 1000 for g in summary["gaps"])  # at most the gap
    finally:
        server.stop()
        worker.stop()
