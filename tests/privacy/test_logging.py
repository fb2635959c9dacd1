"""Log records never carry JPEG frames, in the message or in the arguments a handler might dump."""

from __future__ import annotations

import base64
import logging

from privacy.logredact import REDACTED, redact

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 4
B64 = base64.b64encode(JPEG).decode()


def test_the_record_factory_is_installed_and_scrubs_every_record(caplog):
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("celery.app.trace")
    context = {"name": "calls.tasks.analyze_frame", "args": repr(["id", 0, 5, B64])}
    log.info("Task %(name)s succeeded", context, extra={"data": context})  # what celery.app.trace does
    logging.getLogger("any").warning("frame %s raw %r", B64, JPEG)
    logging.getLogger("any").error(f"inline {B64}")
    for record in caplog.records:
        dumped = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        assert "/9j/" not in dumped and "\\xff\\xd8\\xff" not in dumped
        assert REDACTED in dumped
    assert caplog.records[0].getMessage() == "Task calls.tasks.analyze_frame succeeded"
    assert "/9j/" in context["args"]  # the caller's own object is left as it was


def test_redact_leaves_ordinary_values_alone():
    value = {"call": "c-1", "seq": 3, "probs": [0.1, 0.9], "note": "9j without slash", "raw": b"\x00\x01"}
    assert redact(value) == value
    assert redact((1, "/9j/" + "A" * 40, [JPEG])) == (1, REDACTED, [REDACTED])
