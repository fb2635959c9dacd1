"""Real server processes for tests and benchmarks: daphne (through bin/serve) and a Celery worker.

Plain helpers, no pytest: ``with DaphneServer(env=db_env()) as server: server.url``. Both
run against the database the caller names (``db_env()`` gives the current Django connection's,
i.e. the test database inside a pytest-django test using ``transaction=True``).

Embedded mode (no REDIS_URL in the env) runs Celery tasks eagerly inside daphne; with REDIS_URL
also start a ``CeleryWorker`` on the same queue (``queue`` makes tests independent of any other
worker on the same Redis).

Both listen on, and are reached at, ``127.0.0.1`` unless given a ``host`` (an address of this machine) and a
``prefix`` that runs their command elsewhere, e.g. ``["ip", "netns", "exec", NS]`` for a test host that is a
network namespace (tests/support/netns.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen | None = None, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def db_env(connection=None) -> dict[str, str]:
    """DATABASE_URL or SQLITE_PATH for a subprocess to use the same database as ``connection``."""
    if connection is None:
        from django.db import connection
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        name = str(s["NAME"])
        if "memory" in name or name == ":memory:":
            raise RuntimeError("an in-memory SQLite database cannot be shared with a subprocess")
        return {"SQLITE_PATH": name, "DATABASE_URL": ""}
    auth = s.get("USER") or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return {"DATABASE_URL": f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"}


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    for key, value in (extra or {}).items():
        if value == "":
            env.pop(key, None)  # "" removes a variable (e.g. DATABASE_URL for SQLite)
        else:
            env[key] = value
    if env.get("DATABASE_URL"):
        # A process on a real database needs real secrets (webapp/settings.py), the same for every process of a run
        # so that all of them sign and decrypt alike.
        for key, value in _secrets_for_subprocesses().items():
            env.setdefault(key, value)
    return env


_THROWAWAY_SECRETS: dict[str, str] = {}


def _secrets_for_subprocesses() -> dict[str, str]:
    """The caller's own secrets when it runs on a real database (a pytest run there generates throwaway ones),
    else throwaway ones made once per process: never the development keys published in the repository."""
    from django.conf import settings

    if settings.configured and not settings.MIMIC_EMBEDDED_SHAPE:
        return {"SECRET_KEY": settings.SECRET_KEY, "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS)}
    if not _THROWAWAY_SECRETS:
        import secrets

        from cryptography.fernet import Fernet

        _THROWAWAY_SECRETS.update(
            SECRET_KEY=secrets.token_urlsafe(50), FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode()
        )
    return dict(_THROWAWAY_SECRETS)


class _Process:
    process: subprocess.Popen | None = None
    prefix: Sequence[str] = ()  # runs the command elsewhere, e.g. ``["ip", "netns", "exec", NS]``
    root: Path = REPO  # the checkout it runs from (bench/live_load.py --before: another one)

    def _start(self, cmd: list[str], env: dict[str, str], log_name: str) -> None:
        if self.running:
            # A second process would be leaked (stop() only knows the last) and would share the first's queue,
            # so tasks could go to the one whose log nobody reads.
            raise RuntimeError(f"already running (pid {self.process.pid}); stop() it first")
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"mimic-{log_name}-{uuid.uuid4().hex[:8]}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*self.prefix, *cmd],
            cwd=self.root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
        self.process = None

    def __exit__(self, *exc) -> None:
        self.stop()


class DaphneServer(_Process):
    """daphne on a free port, started by bin/serve (the one canonical command line); on ``host`` if given."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        prefix: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.prefix = list(prefix)
        self.env = base_env({**(env or {}), "HOST": host, "PORT": str(self.port)})

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> DaphneServer:
        self._start([str(self.root / "bin" / "serve")], self.env, f"daphne-{self.port}")
        try:
            wait_for_port(self.port, process=self.process, host=self.host)
        except Exception as exc:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"daphne did not start: {exc}\n{tail}") from exc
        return self

    def __enter__(self) -> DaphneServer:
        return self if self.running else self.start()  # `with DaphneServer(...).start():` starts one, too


class CeleryWorker(_Process):
    """``celery -A webapp worker`` on its own queue; ready when it answers a ping.

    ``hostname``: the node's name after the ``@`` (default ``%h``, the machine's: test hosts that share one
    machine's hostname need their own). ``imports``: extra modules the worker loads (``-I``).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        queue: str | None = None,
        pool: str = "solo",
        concurrency: int = 1,
        prefix: Sequence[str] = (),
        hostname: str = "%h",
        imports: Sequence[str] = (),
    ) -> None:
        self.queue = queue or f"mimic-test-{uuid.uuid4().hex[:8]}"
        self.pool = pool
        self.concurrency = concurrency
        self.prefix = list(prefix)
        self.hostname = hostname
        self.imports = list(imports)
        self.env = base_env({**(env or {}), "CELERY_QUEUE": self.queue})

    @property
    def nodename(self) -> str:
        return f"{self.queue}@{self.hostname}"

    def start(self, timeout: float = 60.0) -> CeleryWorker:
        name = self.nodename
        cmd = [
            str(VENV_BIN / "celery"),
            "-A",
            "webapp",
            "worker",
            "-P",
            self.pool,
            "-c",
            str(self.concurrency),
            "-Q",
            self.queue,
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
            *(arg for module in self.imports for arg in ("-I", module)),
        ]
        log_name = f"celery-{self.queue}" if self.hostname == "%h" else f"celery-{self.queue}-{self.hostname}"
        self._start(cmd, self.env, log_name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_tail()}")
            if b"ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise TimeoutError(f"celery worker not ready after {timeout}s:\n{tail}")

    def __enter__(self) -> CeleryWorker:
        return self if self.running else self.start()  # `with CeleryWorker(...).start():` starts one, too


class OIDCProvider(_Process):
    """A real OpenID Connect provider (django-oauth-toolkit, tests/support/oidc_provider) on a free port.

    ``people``: {username: {"email", "password", "roles"?}}; ``clients``: [{"name", "client_id", "client_secret",
    "redirect_uri"}]. Its database and RSA signing key live in ``workdir``.
    """

    def __init__(self, workdir: Path, people: Mapping[str, Mapping], clients: list[Mapping[str, str]]) -> None:
        import json

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.port = free_port()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file = Path(workdir) / "oidc-key.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.clients = json.dumps(list(clients))
        env = {
            "OIDC_PROVIDER_SECRET_KEY": uuid.uuid4().hex * 2,
            "OIDC_PROVIDER_DB": str(Path(workdir) / "oidc.sqlite3"),
            "OIDC_PROVIDER_KEY_FILE": str(key_file),
            "OIDC_PROVIDER_PEOPLE": json.dumps(dict(people)),
        }
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))} | env
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.pop("DJANGO_SETTINGS_MODULE", None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OIDCProvider:
        cmd = [sys.executable, "-m", "tests.support.oidc_provider.serve", str(self.port), self.clients]
        self._start(cmd, self.env, f"oidc-{self.port}")
        try:
            wait_for_port(self.port, timeout=60, process=self.process)
        except Exception as exc:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"OIDC provider did not start: {exc}\n{tail}") from exc
        return self

    def __enter__(self) -> OIDCProvider:
        return self if self.running else self.start()
