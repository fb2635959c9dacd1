"""A frame decoder that takes 50 ms (MIMIC_TEST_SLOW_FRAME_MS), so that a worker killed "mid-run" is killed mid-frame.

Imported only by the first worker of the worker-kill tests (``celery worker -I tests.support.slow_frames``): with the
engine at a few ms per frame, a kill timed by polling the database otherwise lands, most of the time, just
after a frame was stored, when no frame is in flight and even early acknowledgement loses nothing.
"""

import os
import time

import engine.inference

_decode_jpeg = engine.inference.decode_jpeg
_DELAY_S = int(os.environ.get("MIMIC_TEST_SLOW_FRAME_MS", "50")) / 1000


def _slow_decoder(data: bytes, *args, **kwargs):
    time.sleep(_DELAY_S)
    return _decode_jpeg(data, *args, **kwargs)


engine.inference.decode_jpeg = _slow_decoder
