"""Live-call load: N concurrent simulated calls at F fps over real WebSockets.

Each call has a client socket sending real CREMA-D face frames (downsampled to 320x240, JPEG
quality 70, as the page does) and a manager socket receiving the scores. Latency is frame-to-score:
from the client's send to the score's arrival on the manager socket. Every frame ends up scored
or dropped with a reason (client backpressure, server rate/format, worker stale/duplicate...), or
it is reported as lost.

Shared with the tests (the only test helpers used here):

* tests/support/simulated_call.py: the calls themselves, the browser's capture protocol as
  frontend/stream.js speaks it (acks, resends after a reconnect, at most 8 unanswered frames; a
  frame the page does not take under backpressure counts as sent and dropped, ``client_backpressure``);
* tests/support/servers.py: the daphne (bin/serve) and Celery worker processes of the stack.

By default the script starts its own stack on loopback: daphne (bin/serve), Celery workers
(prefork, one process per core), PostgreSQL database ``mimic_bench`` and Redis (both must be
running), on a private Celery queue. ``--url`` uses a running server instead (it must share the
database named by DATABASE_URL, where the script creates its calls).

    python bench/live_load.py --calls 10 --fps 2 --seconds 30 [--json]
    python bench/live_load.py --soak [--calls 100 --fps 2 --seconds 600]   # resources over time
    python bench/live_load.py --breaking-point [--step-seconds 20]         # step calls until it breaks
    python bench/live_load.py --compare --before DIR --calls 48 --seconds 30 [--rounds 2]  # before / after

Soak: every ``--sample-seconds`` the RSS of daphne and of the workers (process trees, /proc), the
database connections (pg_stat_activity), the queue depth (Redis LLEN) and the p95 latency of the
scores of the last minute. Breaking point: 1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64 … 256 calls at ``--fps``
until p95 > 250 ms or drops > 1 %; it reports which limit broke first and the drop reasons.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.servers import VENV_BIN, CeleryWorker, DaphneServer  # noqa: E402 - after the repository is on the path
from tests.support.simulated_call import SimulatedCall  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/mimic_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def load_frames(limit: int = 80) -> list[bytes]:
    """Real faces: every 4th frame of the CREMA-D clips, as the browser would send them."""
    import av
    import numpy as np
    import simplejpeg
    from PIL import Image

    shared = Path(os.environ.get("MIMIC_SHARED_DATA", REPO.parent / "shared" / "data")) / "cremad"
    clips = sorted(shared.glob("*.flv")) or sorted((REPO / "tests" / "data" / "cremad").glob("*.flv"))
    frames = []
    for clip in clips:
        with av.open(str(clip)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % 4 == 0:
                    image = frame.to_image().resize((320, 240), Image.Resampling.BILINEAR)
                    frames.append(simplejpeg.encode_jpeg(np.asarray(image), quality=70))
    if not frames:
        raise SystemExit(f"no CREMA-D clips under {shared}")
    return frames[:limit]


def process_tree(pids: list[int]) -> list[int]:
    """These processes and all their living descendants (from /proc)."""
    seen: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        try:
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, ValueError):
            continue
        seen.append(pid)
    return seen


def cpu_times(pids: list[int]) -> float:
    """User + system seconds of these processes and their children (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in process_tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def service_pids() -> dict[str, list[int]]:
    """The shared services' main processes: Redis (INFO) and the PostgreSQL postmaster (postmaster.pid)."""
    import redis
    from django.db import connection

    pids: dict[str, list[int]] = {}
    try:
        pids["redis"] = [int(redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["process_id"])]
    except Exception:  # noqa: BLE001 - a remote Redis: not measured
        pids["redis"] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            data_dir = Path(cursor.fetchone()[0])
        pids["postgres"] = [int((data_dir / "postmaster.pid").read_text().split()[0])]
    except Exception:  # noqa: BLE001 - not a superuser, or a remote server: not measured
        pids["postgres"] = []
    return pids


class CpuMeter:
    """CPU seconds per component over a run: daphne, workers, Redis, PostgreSQL and this load generator."""

    def __init__(self, procs: dict[str, list[int]]) -> None:
        self.procs = {**procs, **service_pids()}
        self.start = self.read()

    def read(self) -> dict[str, float]:
        times = {name: cpu_times(pids) for name, pids in self.procs.items()}
        times["load_generator"] = time.process_time()
        return times

    def percent(self, wall: float) -> dict[str, float]:
        """% of one core per component since the start."""
        end = self.read()
        return {name: round(100 * (end[name] - self.start[name]) / wall, 1) for name in end}


def machine_busy() -> tuple[float, float]:
    parts = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def create_calls(n: int, fps: int) -> tuple[list[tuple[str, str]], str]:
    """n live calls with consent, and the manager's session cookie."""
    from django.test import Client as HttpClient

    from accounts.models import Role, User
    from calls.lifecycle import give_consent, start_call
    from calls.models import Call, Client
    from calls.protocol import make_client_token

    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"role": Role.MANAGER})
    client = Client.objects.create(display_name="Bench Client", manager=manager)
    calls = []
    for _ in range(n):
        call = Call.objects.create(manager=manager, client=client, capture_fps=fps)
        start_call(call)
        give_consent(call, "en")
        calls.append((str(call.pk), make_client_token(call.pk)))
    from tests.support.twofactor import verify_session

    http = HttpClient()
    http.force_login(manager)
    verify_session(http, manager)  # the live socket takes a session that passed the second factor
    from django.conf import settings

    return calls, f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"


class Stats:
    """The figures of all calls of one load level, settled frame by frame (SimulatedCall's on_settle)."""

    def __init__(self) -> None:
        self.sent = 0  # every frame the pages would have sent, those not taken under backpressure included
        self.latencies: list[float] = []
        self.scored = 0
        self.dropped: Counter[str] = Counter()
        self.scored_at: list[float] = []  # perf_counter of each score, parallel to latencies

    def settle(self, seq: int | None, reason: str | None, latency_ms: float | None) -> None:
        if reason is None:
            self.scored += 1
            self.latencies.append(latency_ms)
            self.scored_at.append(time.perf_counter())
        else:
            self.dropped[reason] += 1


async def run_call(call_id, token, cookie, base, fps, seconds, frames, stats: Stats, max_unacked=8) -> None:
    """One call for ``seconds``, then its drain (up to 15 s for every frame sent to be settled)."""
    sim = SimulatedCall(
        base, {"call_id": call_id, "token": token, "cookie": cookie}, fps, frames=frames, seconds=seconds,
        drain_s=15, max_unacked=max_unacked, phase_s=random.random() / fps, on_settle=stats.settle,
    )  # fmt: skip
    try:
        await sim.run()
    finally:
        stats.sent += sim.ticks


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes and all their children, MiB."""
    total = 0
    for pid in process_tree(pids):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


def sample_resources(server_pid: int, worker_pid: int, queue: str, stats: Stats, t0: float) -> dict:
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        db_conns = cursor.fetchone()[0]
    depth = redis.Redis.from_url(os.environ["REDIS_URL"]).llen(queue)
    now = time.perf_counter()
    recent = [lat for lat, at in zip(stats.latencies, stats.scored_at, strict=False) if at > now - 60]
    return {
        "t_s": round(now - t0),
        "daphne_rss_mb": rss_mb([server_pid]),
        "workers_rss_mb": rss_mb([worker_pid]),
        "db_connections": db_conns,
        "queue_depth": depth,
        "p95_last_min_ms": round(percentile(recent, 95), 1),
        "scored": stats.scored,
        "dropped": sum(stats.dropped.values()),
    }


def run_step(calls_n: int, fps: int, seconds: float, stack: Stack, frames: list[bytes], sampler=None) -> dict:
    """One load level on a running stack: fresh calls, then the usual figures."""
    from calls.models import EmotionSample

    calls, cookie = create_calls(calls_n, fps)
    stats = Stats()
    meter = CpuMeter(stack.pids)
    busy0, wall0 = machine_busy(), time.perf_counter()

    async def run_all() -> None:
        jobs = [run_call(cid, tok, cookie, stack.url, fps, seconds, frames, stats) for cid, tok in calls]
        if sampler is not None:
            jobs.append(sampler(stats))
        await asyncio.gather(*jobs)

    asyncio.run(run_all())
    wall = time.perf_counter() - wall0
    cpu, busy1 = meter.percent(wall), machine_busy()
    sent = stats.sent
    dropped = sum(stats.dropped.values())
    return {
        "calls": calls_n,
        "fps": fps,
        "seconds": seconds,
        "frames_sent": sent,
        "frames_scored": stats.scored,
        "frames_dropped": dict(stats.dropped),
        "drop_pct": round(100 * dropped / max(sent, 1), 2),
        "frames_unaccounted": sent - stats.scored - dropped,
        "samples_stored": EmotionSample.objects.filter(call_id__in=[c for c, _ in calls]).count(),
        "p50_ms": round(percentile(stats.latencies, 50), 1),
        "p95_ms": round(percentile(stats.latencies, 95), 1),
        "max_ms": round(max(stats.latencies), 1) if stats.latencies else None,
        "server_cpu_pct": round(cpu.get("daphne", 0) + cpu.get("workers", 0), 1),
        "cpu_pct": cpu,
        # CPU (all components, load generator included) per frame that reached a worker, ms
        "cpu_ms_per_scored_frame": round(10 * sum(cpu.values()) * wall / max(stats.scored, 1), 2),
        "cpu_ms_per_frame": {name: round(10 * pct * wall / max(stats.scored, 1), 2) for name, pct in cpu.items()},
        "machine_busy_pct": round(100 * (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 1),
    }


def warm_up(stack: Stack, frames: list[bytes]) -> None:
    """A few seconds of light load first: every worker process loads its ONNX sessions on its first frame,
    which would otherwise land in the measured step's latencies and CPU."""
    run_step(4, 2, 4, stack, frames)


class Stack:
    """daphne (bin/serve) and a prefork Celery worker on a private queue, or a server given by --url."""

    def __init__(self, env: dict[str, str], workers: int, url: str | None = None, root: Path = REPO) -> None:
        self.env, self.workers, self.url, self.root = env, workers, url, root
        self.procs: list = []

    def __enter__(self) -> Stack:
        if self.url:
            return self
        env = dict(self.env)
        if self.root != REPO:
            # Another checkout of Mimic (--before: the code as it was, with its own defaults), on this checkout's
            # virtual environment, database and Redis.
            env.update(PYTHONPATH=str(self.root), DAPHNE=str(VENV_BIN / "daphne"))
        self.worker = CeleryWorker(env=env, queue=env["CELERY_QUEUE"], pool="prefork", concurrency=self.workers)
        self.server = DaphneServer(env=env)
        for proc in (self.worker, self.server):
            proc.root = self.root
        self.worker.start()
        self.server.start()
        self.procs = [self.worker, self.server]
        self.url = self.server.url
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.stop()

    @property
    def pids(self) -> dict[str, list[int]]:
        if not self.procs:
            return {}
        return {"daphne": [self.server.process.pid], "workers": [self.worker.process.pid]}


def prepare(env: dict[str, str]) -> list[bytes]:
    """The bench database (migrated), Django set up, and the frames to send."""
    import subprocess

    ensure_database(env["DATABASE_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0", "--skip-checks"], cwd=REPO,
                   env={**os.environ, **env}, check=True)  # fmt: skip
    setup_django(env)
    return load_frames()


def print_rows(rows: list[dict], label: str = "") -> None:
    head = f"{'':<10} " if label else ""
    print(f"{head}{'calls':>5} {'fps':>3} {'sent':>6} {'scored':>6} {'stored':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'CPU ms/frame':>12} {'busy %':>6}  CPU % of a core: daphne/workers/redis/pg/loadgen; dropped")  # fmt: skip
    for row in rows:
        cpu = row["cpu_pct"]
        parts = "/".join(str(cpu.get(k, "-")) for k in ("daphne", "workers", "redis", "postgres", "load_generator"))
        name = f"{row.get('mode', ''):<10} " if label else ""
        print(f"{name}{row['calls']:>5} {row['fps']:>3} {row['frames_sent']:>6} {row['frames_scored']:>6} "
              f"{row['samples_stored']:>6} {row['p50_ms']:>7} {row['p95_ms']:>7} {row['cpu_ms_per_scored_frame']:>12} "
              f"{row['machine_busy_pct']:>6}  {parts}; {row['frames_dropped']} unaccounted={row['frames_unaccounted']}",
              flush=True)  # fmt: skip


def main_modes(args, env: dict[str, str]) -> None:
    """--soak and --breaking-point: one stack started here, several load levels or one long one."""
    frames = prepare(env)
    load = Path("/proc/loadavg").read_text().split()[:3]
    out: dict = {"workers": args.workers, "loadavg_before": load}
    with Stack(env, args.workers) as stack:
        if args.soak:
            samples: list[dict] = []
            t0 = time.perf_counter()

            async def sampler(stats: Stats) -> None:
                while time.perf_counter() - t0 < args.seconds + 5:
                    await asyncio.sleep(args.sample_seconds)
                    row = await asyncio.to_thread(
                        sample_resources, stack.server.process.pid, stack.worker.process.pid, env["CELERY_QUEUE"],
                        stats, t0,
                    )  # fmt: skip
                    samples.append(row)
                    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)

            out["soak"] = run_step(args.calls, args.fps, args.seconds, stack, frames, sampler)
            out["samples"] = samples
        else:
            steps = []
            for n in (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256):
                row = run_step(n, args.fps, args.step_seconds, stack, frames)
                row["queue_depth_after"] = sample_resources(
                    stack.server.process.pid, stack.worker.process.pid, env["CELERY_QUEUE"], Stats(), 0
                )["queue_depth"]
                steps.append(row)
                print_rows([row])
                broke = [what for what, bad in (("p95 > 250 ms", row["p95_ms"] > 250), ("drops > 1 %",
                         row["drop_pct"] > 1)) if bad]  # fmt: skip
                if broke:
                    out["breaks_at"] = {"calls": n, "fps": args.fps, "first": broke}
                    break
            out["steps"] = steps
    out["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    if args.json:
        print(json.dumps(out))


# --compare: the same load on each configuration, interleaved over --rounds, each on a freshly started stack.
# "before" is the code of another checkout (--before DIR, e.g. `git archive <commit> | tar -x -C DIR`), with its
# own defaults; "after" is this checkout as shipped. Further modes are this checkout with settings changed.
COMPARE_MODES: dict[str, dict[str, str]] = {
    "before": {},
    "after": {},
    # The 25 ms batch window of before, to tell the larger batches' share of the gain from the rest.
    "after-25ms": {"MIMIC_FRAME_BATCH_MS": "25"},
}


def main_compare(args, env: dict[str, str]) -> None:
    frames = prepare(env)
    before = Path(args.before).resolve() if args.before else None
    modes = {mode: overrides for mode, overrides in COMPARE_MODES.items() if mode != "before" or before}
    rows = []
    for round_ in range(args.rounds):
        for mode, overrides in modes.items():
            root = before if mode == "before" else REPO
            with Stack({**env, **overrides}, args.workers, root=root) as stack:
                warm_up(stack, frames)
                row = run_step(args.calls, args.fps, args.seconds, stack, frames)
            row.update(mode=mode, round=round_ + 1)
            rows.append(row)
            print_rows([row], label="mode")
    print()
    print_rows(rows, label="mode")
    summary = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        summary[mode] = {
            key: round(statistics.median(r[key] for r in mine), 2)
            for key in ("p50_ms", "p95_ms", "cpu_ms_per_scored_frame", "drop_pct", "frames_scored")
        }
        for component in mine[0]["cpu_ms_per_frame"]:
            summary[mode][f"{component}_ms_per_frame"] = round(
                statistics.median(r["cpu_ms_per_frame"][component] for r in mine), 2
            )
    base_mode = "before" if before else next(iter(modes))
    base = summary[base_mode]["cpu_ms_per_scored_frame"]
    print(f"\nmedians over {args.rounds} round(s) of {args.calls} calls x {args.fps} fps, {args.seconds:g} s:")
    for mode, values in summary.items():
        ratio = values["cpu_ms_per_scored_frame"] / base if base else float("nan")
        parts = " ".join(
            f"{k.removesuffix('_ms_per_frame')} {v}" for k, v in values.items() if k.endswith("_ms_per_frame")
        )
        print(f"  {mode:<11} p50 {values['p50_ms']:>7} ms  p95 {values['p95_ms']:>7} ms  "
              f"CPU {values['cpu_ms_per_scored_frame']:>6} ms/frame ({ratio:.2f} of {base_mode}; {parts})  "
              f"drops {values['drop_pct']} %")  # fmt: skip
    if args.json:
        print(json.dumps({"rows": rows, "medians": summary}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--fps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Celery worker processes")
    parser.add_argument("--url", help="a running server (shares DATABASE_URL); default: start one")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--soak", action="store_true", help="long run at --calls x --fps; resources over time")
    parser.add_argument("--breaking-point", action="store_true", help="step the calls until p95 or drops break")
    parser.add_argument("--compare", action="store_true", help="before / after (and variants) on the same load")
    parser.add_argument("--before", help="--compare: a checkout of the code to compare against (its own defaults)")
    parser.add_argument("--rounds", type=int, default=1, help="--compare: rounds of the configurations")
    parser.add_argument("--step-seconds", type=float, default=20)
    parser.add_argument("--sample-seconds", type=float, default=30)
    args = parser.parse_args()
    if args.soak and "--calls" not in sys.argv:
        args.calls = 100
    if args.soak and "--seconds" not in sys.argv:
        args.seconds = 600

    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_DB),
        "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS),
        "CELERY_QUEUE": f"mimic-bench-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "WARNING",
        # Workers keep their PostgreSQL connection between tasks (0 would reconnect for every frame).
        "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "600"),
        # A real database needs real secrets (webapp/settings.py); the bench's own database gets throwaway ones.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": os.environ.get("FIELD_ENCRYPTION_KEYS") or Fernet.generate_key().decode(),
    }
    if args.soak or args.breaking_point:
        main_modes(args, env)
        return
    if args.compare:
        main_compare(args, env)
        return
    frames = prepare(env)
    load = Path("/proc/loadavg").read_text().split()[:3]
    with Stack(env, args.workers, args.url) as stack:
        warm_up(stack, frames)
        result = run_step(args.calls, args.fps, args.seconds, stack, frames)
    result.update(
        workers=args.workers, loadavg_before=load, loadavg_after=Path("/proc/loadavg").read_text().split()[:3]
    )
    print_rows([result])
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
