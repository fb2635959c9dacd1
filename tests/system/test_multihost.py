"""Several hosts, the shape a bank runs: daphne and workers on their own machines around one PostgreSQL and Redis.

Four test hosts on this machine, each a network namespace with its own address on one bridge
(tests/support/netns.py); the load generator is the root namespace, a fifth machine on the same subnet::

    load (root ns, bridge .1) --- ws --->  web      daphne (bin/serve) on web's address
                                           worker1  Celery worker (prefork), the run's private queue
                                           worker2  Celery worker (prefork), the same queue
                                           db       PostgreSQL and redis-server, on db's address only

Every process gets the same environment: DATABASE_URL and REDIS_URL at db's address, the same secrets, and
Redis transport options that bring a dead worker's unacknowledged messages back within seconds. Nothing listens
on a loopback that another host could share: a process that fell back to ``127.0.0.1`` for its database,
broker or channel layer would find nothing there and fail, and the shared services of this machine are out of
reach of every test host.

The load is bench/live_load.py with ``--url`` (simulated calls over real WebSockets, real faces, its own
figures of every frame: scored, dropped with a reason, or unaccounted). The first test shows a run across hosts
scored by both worker hosts; the second kills worker1's host in the middle of a run (every process SIGKILLed,
its cable pulled) and shows the batches it held are delivered to worker2, and every frame still ends scored or
dropped with a reason, none stored twice. (A frame the dead host stored but had not yet announced comes back
as a "duplicate" or "stale" drop: stored, in the report, but never shown live.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.netns import Hosts, require_netns
from tests.support.servers import REPO, CeleryWorker, DaphneServer, base_env
from tests.support.services import PgCluster, RedisServer, require_binary, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HOSTS = ("db", "web", "worker1", "worker2")
WORKERS = ("worker1", "worker2")
CALLS = 12  # x 2 fps: a light load, this machine has two cores
KILL_AFTER_S = 10  # into the measured run
# Celery's own log lines of a task message (celery.worker.strategy, celery.app.trace): one per delivery.
FIGURES = ("frames_sent", "frames_scored", "frames_dropped", "frames_unaccounted", "samples_stored", "p50_ms", "p95_ms")
TASK_LOG = re.compile(r"Task (calls\.tasks\.\w+)\[([0-9a-f-]{36})\] (received|succeeded|raised|failed)")


@dataclass
class Cluster:
    hosts: Hosts
    pg: PgCluster
    redis: RedisServer
    web: DaphneServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    require_netns()
    require_binary("redis-server")
    require_binary("initdb")
    net = Hosts(HOSTS)
    try:
        yield net.up()
    finally:
        net.close()


@pytest.fixture(scope="module")
def cluster(hosts: Hosts, classifier_path: Path) -> Iterator[Cluster]:
    """PostgreSQL and Redis on ``db``, daphne on ``web``; the environment every process of the run shares."""
    db = hosts.address("db")
    pg = PgCluster(host=db, prefix=hosts.run("db"), trust=str(hosts.subnet))
    redis = RedisServer(host=db, prefix=hosts.run("db"))
    web = None
    try:
        pg.create()
        redis.start()
        env = base_env(
            {
                "DATABASE_URL": pg.url,
                "REDIS_URL": redis.url,
                "CELERY_QUEUE": f"multihost-{uuid.uuid4().hex[:8]}",
                "MIMIC_CLASSIFIER_PATH": str(classifier_path),
                "ALLOWED_HOSTS": hosts.address("web"),  # the name the clients use for the web host
                "DB_CONN_MAX_AGE": "60",
                "LOG_LEVEL": "INFO",
                # A dead worker's unacknowledged messages come back within seconds (production: 3600 s).
                "CELERY_VISIBILITY_TIMEOUT": "5",
                "CELERY_UNACKED_RESTORE_INTERVAL": "1",
                "CELERY_UNACKED_RESTORE_THROTTLE": "1",
                "CELERY_UNACKED_MUTEX_EXPIRE": "2",  # a host killed mid-sweep must not hold the restore lock long
            }
        )
        web = DaphneServer(env=env, host=hosts.address("web"), prefix=hosts.run("web")).start()
        yield Cluster(hosts, pg, redis, web, env)
    finally:
        if web is not None:
            web.stop()
        redis.close()
        pg.close()


def _start_workers(cluster: Cluster, slow: tuple[str, ...] = ()) -> dict[str, CeleryWorker]:
    """A prefork worker (one pool process) on each worker host, all on the run's queue; ``slow`` hosts take 200 ms
    more per frame (tests/support/slow_frames.py), so that a kill finds batches in flight."""
    workers = {
        name: CeleryWorker(
            # 200 ms per frame: a batch seen in flight is still in flight when the kill lands, tens of ms later.
            env={**cluster.env, "MIMIC_TEST_SLOW_FRAME_MS": "200"} if name in slow else cluster.env,
            queue=cluster.env["CELERY_QUEUE"], pool="prefork", concurrency=1,
            prefix=cluster.hosts.run(name), hostname=name,
            imports=("tests.support.slow_frames",) if name in slow else (),
        )
        for name in WORKERS
    }  # fmt: skip
    with ThreadPoolExecutor(len(workers)) as pool:
        starts = [pool.submit(worker.start, 90) for worker in workers.values()]
    try:
        for start in starts:
            start.result()
    except BaseException:
        _stop(workers)
        raise
    return workers


def _stop(workers: dict[str, CeleryWorker]) -> None:
    for worker in workers.values():
        worker.stop()


def _start_load(cluster: Cluster, seconds: int) -> subprocess.Popen:
    cmd = [sys.executable, "bench/live_load.py", "--url", cluster.web.url, "--calls", str(CALLS), "--fps", "2",
           "--seconds", str(seconds), "--json"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=REPO, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _result(load: subprocess.Popen, timeout: float = 240) -> dict:
    try:
        out, _ = load.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        load.kill()
        out, _ = load.communicate()
        raise AssertionError(f"the load did not finish in {timeout}s:\n{out[-3000:]}") from None
    assert load.returncode == 0, out[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    print(_figures(result))
    return result


def _figures(result: dict) -> str:
    return json.dumps({key: result[key] for key in FIGURES})


class TaskLog:
    """The task messages in a worker's log, read as it grows: ids "received", and ids "finished" (succeeded or
    failed: acknowledged, with acks-late). Received and not finished: in flight, unacknowledged."""

    def __init__(self, worker: CeleryWorker) -> None:
        self.path = worker.log_path
        self.offset = 0
        self.partial = b""
        self.received: set[str] = set()
        self.finished: set[str] = set()

    def read(self) -> TaskLog:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            data = self.partial + log.read()
        self.offset += len(data) - len(self.partial)
        complete, _, self.partial = data.rpartition(b"\n")
        for _, task_id, what in TASK_LOG.findall(complete.decode(errors="replace")):
            (self.received if what == "received" else self.finished).add(task_id)
        return self

    @property
    def in_flight(self) -> set[str]:
        return self.received - self.finished


def _client_addresses(cluster: Cluster) -> tuple[set[str], set[str]]:
    """Where PostgreSQL's and Redis's clients connect from (their peer addresses)."""
    pg = {str(row[0]) for row in cluster.pg.query("SELECT client_addr FROM pg_stat_activity WHERE datname = 'mimic' "
                                                   "AND client_addr IS NOT NULL")}  # fmt: skip
    import redis

    clients = redis.Redis.from_url(cluster.redis.url).client_list()
    return pg, {client["addr"].rsplit(":", 1)[0] for client in clients}


def _stored_once(cluster: Cluster) -> None:
    ((total, distinct),) = cluster.pg.query(
        "SELECT count(*), count(DISTINCT (call_id, seq)) FROM emotions_emotionsample"
    )
    assert total == distinct, f"{total - distinct} samples stored twice"


def test_a_call_is_scored_across_hosts(cluster: Cluster) -> None:
    workers = _start_workers(cluster)
    try:
        result = _result(_start_load(cluster, seconds=20))
        pg_clients, redis_clients = _client_addresses(cluster)  # the workers keep theirs (DB_CONN_MAX_AGE)
    finally:
        _stop(workers)
    assert result["frames_unaccounted"] == 0, _figures(result)
    assert result["samples_stored"] == result["frames_scored"], _figures(result)
    assert result["frames_scored"] >= 0.8 * result["frames_sent"] > 0, _figures(result)
    _stored_once(cluster)
    done = {name: len(TaskLog(worker).read().finished) for name, worker in workers.items()}
    total = sum(done.values())
    for name, worker in workers.items():
        # Both worker hosts took a real share of the batches, not a stray one.
        assert done[name] >= 0.1 * total, (done, worker.log_tail())
    address = cluster.hosts.address
    # Each host came to the database and to Redis from its own address.
    assert {address("web"), address("worker1"), address("worker2")} <= pg_clients, pg_clients
    assert {address("web"), address("worker1"), address("worker2")} <= redis_clients, redis_clients


def test_killing_a_worker_host_loses_no_frame(cluster: Cluster) -> None:
    hosts = cluster.hosts
    workers = _start_workers(cluster, slow=("worker1",))
    doomed, survivor = workers["worker1"], workers["worker2"]
    calls_before = cluster.pg.query("SELECT count(*) FROM emotions_call")[0][0]
    doomed_log = TaskLog(doomed)
    try:
        load = _start_load(cluster, seconds=30)
        # The measured run has begun once its calls exist (the bench's warm-up has fewer), then KILL_AFTER_S into it.
        wait_until(lambda: cluster.pg.query("SELECT count(*) FROM emotions_call")[0][0] >= calls_before + CALLS or
                   load.poll() is not None, 120, "the measured run's calls", every=0.2)  # fmt: skip
        time.sleep(KILL_AFTER_S)
        assert load.poll() is None, load.communicate()[0][-3000:]
        # The very moment worker1 holds a batch it has not finished, the host dies.
        wait_until(lambda: doomed_log.read().in_flight, 20, "a batch in flight on worker1", every=0.01)
        pids = hosts.pids("worker1")
        killed = hosts.kill("worker1")
        doomed.process.wait(10)
        doomed_log.read()  # final now: what it took and never finished stays unacknowledged in Redis
        result = _result(load)
        survivor_log = TaskLog(survivor).read()
    finally:
        _stop(workers)
    assert set(pids) <= set(killed) and len(killed) >= 2, (pids, killed)  # the main process and its pool
    assert hosts.pids("worker1") == [], "processes survived on the dead host"
    assert len(doomed_log.finished) >= 10, doomed.log_tail()  # it had been taking its share of the run
    lost = doomed_log.in_flight
    assert lost, "nothing was in flight on worker1 when it died"
    # Acks-late: the dead host's unacknowledged batches came back to the queue and worker2 took every one.
    assert lost <= survivor_log.received, (lost - survivor_log.received, survivor.log_tail())
    assert lost <= survivor_log.finished, (lost - survivor_log.finished, survivor.log_tail())
    assert result["frames_unaccounted"] == 0, _figures(result)
    assert result["frames_scored"] > 0, _figures(result)
    _stored_once(cluster)
    # Every score shown was stored. A frame can also be stored and never shown: the dead host committed its batch
    # and died before telling the manager; delivered again, the frame is dropped as a duplicate (or as stale,
    # checked first). No more of those than the batches it held could carry.
    surplus = result["samples_stored"] - result["frames_scored"]
    late = result["frames_dropped"].get("worker_duplicate", 0) + result["frames_dropped"].get("worker_stale", 0)
    assert 0 <= surplus <= min(late, len(lost) * settings.MIMIC_FRAME_BATCH_MAX), _figures(result)
