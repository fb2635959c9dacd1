"""Defence in depth: no log record may carry a JPEG frame, whatever handler later formats or ships it.

Celery's trace records keep the task arguments (a frame, base64) in ``record.args`` even though the
default message does not print them; a JSON or Sentry-style handler would write them out. The record
factory below scrubs JPEG data (raw bytes, base64 "/9j/..." runs) from every record's message and
arguments (and ``extra`` attributes) when the record is created, so every handler, in every process
that loads Django, sees the redacted record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "<jpeg redacted>"
_B64_JPEG = re.compile(r"/9j/[A-Za-z0-9+/=_\-\\n]{8,}")
_JPEG_SOI = b"\xff\xd8\xff"
_MAX_DEPTH = 5


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with JPEG content replaced; containers (dict, list, tuple) are walked a few levels deep."""
    if isinstance(value, str):
        if "/9j/" in value:
            return _B64_JPEG.sub(REDACTED, value)
        if "\\xff\\xd8\\xff" in value:  # repr() of JPEG bytes
            return REDACTED
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return REDACTED if _JPEG_SOI in data or b"/9j/" in data else value
    if depth >= _MAX_DEPTH:
        return value
    if type(value) is dict:
        return {key: redact(item, depth + 1) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(redact(item, depth + 1) for item in value)
    return value


_installed = False


def install() -> None:
    """Wrap the process's LogRecord factory once."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.args:
            record.args = redact(record.args)
        if isinstance(record.msg, str | bytes):
            record.msg = redact(record.msg)
        return record

    logging.setLogRecordFactory(factory)

    # ``extra`` attributes are set after the factory runs; Celery puts the task arguments there
    # too ("data", for custom handlers). Copies are redacted: the caller's objects are never changed.
    make_record = logging.Logger.makeRecord

    def make_redacted_record(self, name, level, fn, lno, msg, args, exc_info, func=None, extra=None, sinfo=None):
        if extra:
            extra = {key: redact(value) for key, value in extra.items()}
        return make_record(self, name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)

    logging.Logger.makeRecord = make_redacted_record
    _installed = True
