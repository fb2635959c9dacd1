"""Fixtures every test folder shares: the cast, the shipped engine, the real processes, the browser.

The cast: a manager, another manager, their supervisor, and an outsider. The supervisor leads the
team of ``manager`` and ``other_manager``. The outsider is a manager from another team, whom the
supervisor must not see. Each folder's own conftest.py holds the fixtures only its tests use.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test.client import ClientMixin

import engine.inference as inference
from accounts.models import Role, User
from calls.models import Call, CallStatus, Client
from tests.support.appendonly import allow_test_flush
from tests.support.live import REDIS
from tests.support.servers import CeleryWorker, db_env
from tests.support.twofactor import verify_session

PASSWORD = "correct-horse-battery"

# ``client.force_login(user)`` means signed in with both factors: the session also records the user's TOTP device
# (tests/support/twofactor.py), as a real code would. The password-only state is ``force_login_password_only``.
_force_login_password_only = ClientMixin.force_login


def _force_login_with_second_factor(self, user, backend=None):
    _force_login_password_only(self, user, backend)
    verify_session(self, user)


ClientMixin.force_login = _force_login_with_second_factor


def force_login_password_only(client, user) -> None:
    """Signed in by password, the second factor not yet given."""
    _force_login_password_only(client, user)


# Real password hashing costs seconds per user over hundreds of tests. The daphne and
# Celery processes that tests start read the variable (webapp/settings.py).
os.environ["MIMIC_TEST_FAST_HASHER"] = "1"
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The runner's flush between transactional tests gets past the append-only triggers (tests/support/appendonly.py).
allow_test_flush()
# The suite's own requests never run the in-process retention purge (test_retention.py turns it on where tested).
settings.MIMIC_RETENTION_IN_PROCESS_HOURS = 0


@pytest.fixture(autouse=True, scope="session")
def private_celery_queue():
    """With REDIS_URL, this test session sends tasks to a queue of its own, never to a deployment's."""
    if not settings.REDIS_URL:
        yield None
        return
    import redis

    from webapp.celery import app

    queue = f"tests-{uuid.uuid4().hex[:12]}"
    previous, app.conf.task_default_queue = app.conf.task_default_queue, queue
    yield queue
    app.conf.task_default_queue = previous
    redis.Redis.from_url(settings.REDIS_URL).delete(queue)


@pytest.fixture(autouse=True)
def empty_celery_queue(private_celery_queue):
    """Tasks that a test queued without a worker must not count as backlog in the next test."""
    if private_celery_queue:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(private_celery_queue)


@pytest.fixture
def supervisor(db) -> User:
    return User.objects.create_user("svetlana", password=PASSWORD, role=Role.SUPERVISOR, first_name="Svetlana")


@pytest.fixture
def manager(db, supervisor) -> User:
    return User.objects.create_user("anna", password=PASSWORD, role=Role.MANAGER, supervisor=supervisor)


@pytest.fixture
def other_manager(db, supervisor) -> User:
    return User.objects.create_user("boris", password=PASSWORD, role=Role.MANAGER, supervisor=supervisor)


@pytest.fixture
def outsider(db) -> User:
    return User.objects.create_user("oleg", password=PASSWORD, role=Role.MANAGER)


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("root", password=PASSWORD, role=Role.ADMIN)


@pytest.fixture
def client_of_manager(manager) -> Client:
    return Client.objects.create(display_name="Иван Петров", manager=manager)


@pytest.fixture
def call(manager, client_of_manager) -> Call:
    return Call.objects.create(manager=manager, client=client_of_manager, status=CallStatus.SCHEDULED)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def english(settings):
    """Pages in English, for tests that compare messages (the default language is Russian)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def browser():
    """Real Chromium (tests/browser.py)."""
    from tests.support.browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def media(tmp_path, settings):
    """Uploaded files go to this test's own folder."""
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


# --- the engine that ships ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def classifier_path() -> Path:
    """The trained classifier that ships in the repo."""
    path = inference.DEFAULT_CLASSIFIER_PATH
    assert path.exists(), f"{path} is missing: it ships with the project"
    return path


@pytest.fixture(scope="session")
def engine(classifier_path) -> inference.Engine:
    return inference.Engine(classifier_path=classifier_path)


@pytest.fixture
def process_engine(settings, classifier_path):
    """Point the process-wide engine (workers, commands, uploads) at ``classifier_path``."""
    from calls import scoring

    settings.MIMIC_CLASSIFIER_PATH = str(classifier_path)
    scoring.reset()
    yield scoring.get_engine()
    scoring.reset()


# --- real processes and tasks -----------------------------------------------------------------------


@pytest.fixture
def live_worker(transactional_db, django_db_setup, process_engine, classifier_path):
    """With REDIS_URL: a real Celery worker on a private queue, against the test database. Embedded: nothing."""
    if not REDIS:
        yield None
        return
    from webapp.celery import app

    worker = CeleryWorker(env={**db_env(), "MIMIC_CLASSIFIER_PATH": str(classifier_path)})
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = worker.queue
    with worker:
        yield worker
    app.conf.task_default_queue = previous


@pytest.fixture
def eager_celery():
    """Run tasks in-process even when REDIS_URL configures a real broker (no worker runs in tests)."""
    from webapp.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old
