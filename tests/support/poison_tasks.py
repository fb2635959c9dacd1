"""Input that kills the worker process every time (as a crashing native decoder would).

Imported only by the workers of tests/test_reliability_faults.py (``celery worker -I tests.support.poison_tasks``):
``poison_frame`` dies on any input, and in those workers a JPEG carrying ``POISON`` kills the frame decoder.
"""

import os

from celery import shared_task

import engine.inference

POISON = b"MIMIC-TEST-POISON"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def poison_frame(call_id: str, seq: int) -> None:
    os._exit(1)


_decode_jpeg = engine.inference.decode_jpeg


def _decoder_that_crashes_on_poison(data: bytes, *args, **kwargs):
    if POISON in data:
        os._exit(1)
    return _decode_jpeg(data, *args, **kwargs)


engine.inference.decode_jpeg = _decoder_that_crashes_on_poison
