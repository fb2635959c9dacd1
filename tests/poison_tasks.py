"""A task whose input kills the worker process every time (as a crashing native decoder would).

Imported only by the worker of tests/test_reliability_faults.py (``celery worker -I tests.poison_tasks``).
"""

import os

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def poison_frame(call_id: str, seq: int) -> None:
    os._exit(1)
