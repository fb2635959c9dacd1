"""The shared cast: a manager, another manager, their supervisor, and an outsider.

The supervisor leads the team of ``manager`` and ``other_manager``. The
outsider is a manager from another team, whom the supervisor must not see.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

from accounts.models import Role, User
from calls.models import Call, CallStatus, Client

PASSWORD = "correct-horse-battery"

# Real password hashing costs seconds per user over hundreds of tests. The daphne and
# Celery processes that tests start read the variable (webapp/settings.py).
os.environ["MIMIC_TEST_FAST_HASHER"] = "1"
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    from tests.browser import chromium

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
