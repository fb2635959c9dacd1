"""Fixtures of the system tests: real processes (daphne, Celery workers) on the test database."""

from __future__ import annotations

import pytest

from tests.support.live import REDIS
from tests.support.servers import CeleryWorker, DaphneServer, db_env


@pytest.fixture
def daphne_stack(transactional_db, classifier_path):
    """A real daphne (bin/serve) on the test database; with REDIS_URL also a real Celery worker."""
    env = {**db_env(), "MIMIC_CLASSIFIER_PATH": str(classifier_path)}
    worker = None
    if REDIS:
        worker = CeleryWorker(env=env).start()
        env["CELERY_QUEUE"] = worker.queue
    try:
        with DaphneServer(env=env) as server:
            yield server
    finally:
        if worker is not None:
            worker.stop()
