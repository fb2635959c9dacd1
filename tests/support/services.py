"""Real services that the reliability tests may stop, kill and restart, so the shared ones stay up.

* ``RedisServer``: a private ``redis-server`` on a free port (AOF on, as docker-compose runs it).
* ``PgCluster``: a throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``, owned by the ``postgres``
  user when we are root) on a free port, migrated once; ``stop(immediate=True)`` is a hard stop.

Both listen on loopback unless given a ``host`` (an address of this machine) and a ``prefix`` that runs the server
elsewhere, e.g. ``["ip", "netns", "exec", NS]`` for a test host that is a network namespace (tests/support/netns.py);
``PgCluster(trust=CIDR)`` also lets that subnet in without a password (a throwaway cluster).
* ``seed``: run in a subprocess (``python -m tests.support.services seed ...``) against those services
  to create a live, consented call (and optionally enqueue frame tasks); prints one JSON line.

The simulated call over real WebSockets (the page's client and manager sockets) is
tests/support/simulated_call.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.servers import REPO, base_env, free_port

DATA = REPO / "tests" / "data" / "cremad"


def require_binary(*names: str) -> str:
    """The first of ``names`` on PATH or in PostgreSQL's bin dirs; skip (fail under CI=true) if none."""
    import pytest

    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for name in names:
        found = shutil.which(name) or next((str(d / name) for d in dirs if (d / name).exists()), None)
        if found:
            return found
    message = f"required binary not found: {' or '.join(names)}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class RedisServer:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1", prefix: Sequence[str] = ()) -> None:
        self.binary = require_binary("redis-server")
        self.port = port or free_port()
        self.host = host
        self.prefix = list(prefix)
        self.dir = tempfile.mkdtemp(prefix="mimic-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = [*self.prefix, self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
               "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"]  # fmt: skip
        if not self.host.startswith("127."):
            # Protected mode refuses every client but loopback's when there is no password: the other hosts are
            # the point here (a private server on a test subnet).
            cmd += ["--protected-mode", "no"]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from tests.support.servers import wait_for_port

        wait_for_port(self.port, timeout=10, process=self.process, host=self.host)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PgCluster:
    """``trust``: a CIDR (e.g. a test subnet) whose clients may connect without a password, besides loopback."""

    def __init__(self, host: str = "127.0.0.1", prefix: Sequence[str] = (), trust: str | None = None) -> None:
        self.initdb = require_binary("initdb")
        self.pg_ctl = str(Path(self.initdb).parent / "pg_ctl")
        self.port = free_port()
        self.host = host
        self.prefix = list(prefix)
        self.trust = trust
        self.dir = Path(tempfile.mkdtemp(prefix="mimic-pg-"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@{self.host}:{self.port}/mimic"

    def _run(self, *args: str, prefix: Sequence[str] = ()) -> None:
        # The prefix (e.g. ``ip netns exec``, which needs root) comes first, then the switch to the postgres user.
        subprocess.run([*prefix, *_as_postgres(), *args], check=True, capture_output=True, timeout=120)

    def create(self) -> PgCluster:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        if self.trust:
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.trust} trust\n")
        self.start()
        import psycopg

        with psycopg.connect(f"postgres://postgres@{self.host}:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE mimic")
        env = base_env({"DATABASE_URL": self.url, "REDIS_URL": ""})
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env,
                       check=True, capture_output=True, timeout=300)  # fmt: skip
        return self

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses={self.host} -c unix_socket_directories={self.dir} -c fsync=on"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start",
                  prefix=self.prefix)  # fmt: skip

    def stop(self, immediate: bool = False) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate" if immediate else "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop(immediate=True)
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params or []).fetchall()

    def stored_seqs(self, call_id: str) -> list[int]:
        return [r[0] for r in self.query("SELECT seq FROM emotions_emotionsample WHERE call_id = %s ORDER BY seq",
                                         [call_id])]  # fmt: skip


def wait_until(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.02) -> None:
    """Poll ``predicate`` every ``every`` s until it is true; fail the test after ``timeout`` s, naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def seed_call(env: dict[str, str], frames: int = 0) -> dict:
    """In a subprocess on ``env``'s services: a live consented call (+ ``frames`` queued frame tasks)."""
    out = subprocess.run([sys.executable, "-m", "tests.support.services", "seed", str(frames)], cwd=REPO,
                         env=base_env(env), check=True, capture_output=True, timeout=120)  # fmt: skip
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def frame_jpegs() -> list[bytes]:
    """Real CREMA-D faces, downsampled to 320 px and re-encoded at quality 70 as the page does."""
    import numpy as np
    import simplejpeg
    from PIL import Image

    jpegs = []
    for path in sorted(DATA.glob("*.jpg")):
        image = Image.fromarray(simplejpeg.decode_jpeg(path.read_bytes(), colorspace="RGB"))
        scale = 320 / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
        jpegs.append(simplejpeg.encode_jpeg(np.ascontiguousarray(np.asarray(image)), quality=70))
    return jpegs


def _seed_main(frames: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from django.conf import settings
    from django.test import Client as HttpClient

    from accounts.models import Role, User
    from calls.lifecycle import give_consent, start_call
    from calls.models import Call, Client
    from calls.protocol import make_client_token
    from calls.tasks import analyze_frame

    manager, _ = User.objects.get_or_create(username="reliability-manager", defaults={"role": Role.MANAGER})
    client = Client.objects.create(display_name="Reliability Client", manager=manager)
    call = Call.objects.create(manager=manager, client=client, capture_fps=2)
    start_call(call)
    give_consent(call, "en")
    jpegs = frame_jpegs()
    now = int(time.time() * 1000)
    for seq in range(frames):
        analyze_frame.delay(str(call.pk), seq, seq * 500, jpegs[seq % len(jpegs)], now)
    from tests.support.twofactor import verify_session

    http = HttpClient()
    http.force_login(manager)
    verify_session(http, manager)  # the live socket takes a session that passed the second factor
    cookie = f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"
    print(json.dumps({"call_id": str(call.pk), "token": make_client_token(call.pk), "cookie": cookie}))


def send_task(env: dict[str, str], name: str, args: list, times: int = 1) -> None:
    """Publish a task by name (``times`` messages) from a subprocess on ``env``'s broker and queue, as msgpack, the
    frame tasks' serializer (``args`` may hold JPEG bytes)."""
    import msgpack

    code = (
        "import msgpack, sys, django; django.setup(); from webapp.celery import app; "
        "args = msgpack.unpackb(sys.stdin.buffer.read()); "
        "[app.send_task(sys.argv[1], args=args, serializer='msgpack') for _ in range(int(sys.argv[2]))]"
    )
    payload = msgpack.packb(args, use_bin_type=True)
    subprocess.run([sys.executable, "-c", code, name, str(times)], cwd=REPO, env=base_env(env), input=payload,
                   check=True, capture_output=True, timeout=60)  # fmt: skip


def end_call(env: dict[str, str], call_id: str) -> None:
    """End the call as the manager's End button does (calls.lifecycle.end_call), from a subprocess on ``env``."""
    code = (
        "import sys, django; django.setup(); from calls.lifecycle import end_call; "
        "assert end_call(sys.argv[1], 'manager')"
    )
    subprocess.run([sys.executable, "-c", code, call_id], cwd=REPO, env=base_env(env), check=True, capture_output=True,
                   timeout=60)  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        _seed_main(int(sys.argv[2]))
