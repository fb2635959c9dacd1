"""The same code runs embedded (no environment) and on the real services (DATABASE_URL, REDIS_URL)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
# Secrets of this test module's child processes on a "real" database: random, never the published ones.
THROWAWAY_SECRETS = {"SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'],"
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'ignore': s.CELERY_TASK_IGNORE_RESULT,"
    "'backend': s.CELERY_RESULT_BACKEND}))"
)


def _settings_with(env: dict[str, str]) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base["DJANGO_SETTINGS_MODULE"] = "webapp.settings"
    if env.get("DATABASE_URL"):
        base.update(THROWAWAY_SECRETS)  # a real database refuses the published development secrets
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_with_no_environment_it_runs_embedded():
    s = _settings_with({})
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["eager"] is True
    assert s["broker"] == "memory://"


def test_with_database_and_redis_urls_it_runs_on_the_real_services():
    s = _settings_with(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/mimic", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    )
    assert s["db"] == "django.db.backends.postgresql"
    assert s["layer"] == "lib.layers.ResilientRedisPubSubChannelLayer"
    assert s["eager"] is False
    assert s["broker"] == "redis://127.0.0.1:6379/0"


def test_celery_keeps_no_results_in_either_shape():
    for env in ({}, {"REDIS_URL": "redis://127.0.0.1:6379/0"}):
        s = _settings_with(env)
        assert s["ignore"] is True and s["backend"] is None


def test_the_embedded_default_migrates_and_checks_on_a_fresh_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["SQLITE_PATH"] = str(tmp_path / "fresh.sqlite3")
    for args in (["check"], ["migrate", "--noinput", "-v0"], ["seed_demo", "--calls-per-client", "1"]):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert "anna" in done.stdout
    assert (tmp_path / "fresh.sqlite3").stat().st_size > 100_000


def test_the_compose_file_runs_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    # Frames pass through the broker: Redis must never write them to disk.
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "no"
    assert redis_command[redis_command.index("--save") + 1] == ""
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["build"] == "."
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    assert services["web"]["command"] == ["bin/serve"]
    # An upload is written by web and read by whichever worker analyses it: one storage for both.
    media = services["web"]["environment"]["MEDIA_ROOT"]
    assert services["worker"]["environment"]["MEDIA_ROOT"] == media
    assert any(v.split(":")[1] == media for v in services["web"]["volumes"])
    assert services["web"]["volumes"] == services["worker"]["volumes"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "webapp", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "webapp", "beat"]
    # The schema as the owner role, then the app role's grants (the app itself connects as a role owning nothing).
    migrate = " ".join(services["migrate"]["command"])
    assert "manage.py migrate --noinput" in migrate and "manage.py grant_app_role mimic_app" in migrate
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://mimic_owner:")
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://mimic_app:")
    assert (ROOT / "Dockerfile").read_text().count("FROM ") == 1


def test_each_service_command_names_a_real_entry_point():
    serve = (ROOT / "bin" / "serve").read_text()
    assert "webapp.asgi:application" in serve
    assert "--websocket-max-message-size" in serve
    probe = (
        "import django; django.setup();"
        "import webapp.asgi as a; assert callable(a.application);"
        "from webapp.celery import app; app.loader.import_default_modules();"
        "assert 'calls.tasks.end_idle_calls' in app.tasks;"
        "import celery.bin.celery"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "webapp.settings"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_database_that_never_answers_fails_the_connection_instead_of_hanging():
    # Accepts TCP connections (the kernel completes them from the backlog) but never speaks: packets dropped.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        probe = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(DJANGO_SETTINGS_MODULE="webapp.settings", DB_CONNECT_TIMEOUT="1",
                   DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/mimic", **THROWAWAY_SECRETS)  # fmt: skip
        out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert out.returncode != 0
    assert "timeout" in out.stderr.lower(), out.stderr[-2000:]
