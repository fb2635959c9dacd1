"""No frame is ever persisted: stream real JPEG frames through the live path, then look everywhere.

consumer (WebSocket) -> Celery task (eager in embedded mode; a real worker subprocess with REDIS_URL)
-> database. Afterwards the database dump (pg_dump / SQLite iterdump), every Redis database, the
logs captured during the test (caplog, the worker's log file, *.log files) and the temp directory
must hold no JPEG: neither the raw SOI bytes FF D8 FF, nor their hex, nor base64 "/9j/", nor a
slice of the frames actually sent.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient

from calls.models import EmotionSample
from tests.support.live import (
    REDIS,
    browser_like_jpeg,
    client_path,
    communicator,
    frame_message,
    give_consent,
    receive_json,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

FRAMES = 6
REPO = Path(__file__).resolve().parents[2]


GENERIC_MARKERS = [
    b"\xff\xd8\xff",  # JPEG start of image, raw
    b"/9j/",  # the same in base64
    b"ffd8ffe0",
    b"ffd8ffdb",
    b"FFD8FFE0",
    b"FFD8FFDB",  # hex (pg_dump bytea, hexdumps)
    b"\\377\\330\\377",  # octal escapes (bytea escape format)
    b"\\xff\\xd8\\xff",  # repr() of bytes, as a careless log line would print them
]


def frame_slices(jpegs: list[bytes]) -> list[bytes]:
    """Slices of the frames actually sent, raw, hex and base64."""
    found = []
    for jpeg in jpegs:
        middle = jpeg[len(jpeg) // 2 : len(jpeg) // 2 + 24]
        found += [middle, middle.hex().encode(), base64.b64encode(jpeg)[40:80]]
    return found


def markers(jpegs: list[bytes]) -> list[bytes]:
    return GENERIC_MARKERS + frame_slices(jpegs)


def assert_clean(where: str, blob: bytes, patterns: list[bytes]) -> None:
    for pattern in patterns:
        index = blob.find(pattern)
        assert index < 0, (
            f"JPEG marker {pattern[:16]!r} found in {where} at {index}: {blob[max(0, index - 60) : index + 60]!r}"
        )


def database_dump() -> bytes:
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
        cmd = ["pg_dump", "--no-owner", "-h", s.get("HOST") or "127.0.0.1", "-p", str(s.get("PORT") or 5432)]
        cmd += ["-U", s.get("USER") or "postgres", s["NAME"]]
        return subprocess.run(cmd, capture_output=True, check=True, env=env, timeout=120).stdout
    connection.ensure_connection()
    return "\n".join(connection.connection.iterdump()).encode("utf-8", "surrogateescape")


def redis_dump(own_queue: str | None) -> bytes:
    """Every key and value in every Redis database, except other concurrent test runs' private queues."""
    import redis

    base = redis.Redis.from_url(settings.REDIS_URL)
    databases = int(base.config_get("databases").get("databases", 16))
    out = bytearray()
    for db in range(databases):
        r = redis.Redis.from_url(settings.REDIS_URL, db=db)
        for key in r.scan_iter(count=1000):
            name = key.decode(errors="replace")
            if name.startswith("mimic-test-") and own_queue and not name.startswith(own_queue):
                continue  # another engineer's test worker queue, not this run
            kind = r.type(key).decode()
            out += f"\n[{db}] {name} ({kind}): ".encode()
            if kind == "string":
                out += r.get(key) or b""
            elif kind == "list":
                out += b"|".join(r.lrange(key, 0, -1))
            elif kind == "hash":
                for field, value in r.hgetall(key).items():
                    if name == "unacked" and b'"mimic-test-' in value and own_queue and own_queue.encode() not in value:
                        continue  # in flight for another concurrent test run
                    out += field + b"=" + value + b"|"
            elif kind == "set":
                out += b"|".join(r.smembers(key))
            elif kind == "zset":
                out += b"|".join(r.zrange(key, 0, -1))
            elif kind == "stream":
                out += repr(r.xrange(key)).encode()
    return bytes(out)


def temp_files_since(start: float) -> list[Path]:
    roots = {Path(tempfile.gettempdir()), Path(settings.MEDIA_ROOT)}
    found = []
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            # Other concurrent test sessions' own tmp_path trees, browser profiles and private Redis servers
            # are not this run's.
            skip = ("pytest-of-", "playwright", ".org.chromium", "mimic-redis-")
            dirnames[:] = [d for d in dirnames if not d.startswith(skip)]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    if path.is_file() and path.stat().st_mtime >= start:
                        found.append(path)
                except OSError:
                    continue
    return found


def _end_call(manager, call) -> int:
    http = HttpClient()
    http.force_login(manager)
    return http.post(f"/calls/{call.pk}/end/", HTTP_ACCEPT="application/json").status_code


async def test_no_frame_is_persisted_anywhere_along_the_live_path(call, manager, live_worker, caplog, tmp_path):
    from calls.lifecycle import start_call

    caplog.set_level(logging.DEBUG)  # everything any logger says during the test
    started = time.time() - 1
    await database_sync_to_async(start_call)(call)
    await database_sync_to_async(give_consent)(call)

    jpegs = [browser_like_jpeg(name) for name in ("HAP", "ANG", "NEU")]
    sent = [jpegs[i % len(jpegs)] for i in range(FRAMES)]
    comm = communicator(client_path(call))
    connected, _ = await comm.connect()
    assert connected
    assert (await receive_json(comm))["t"] == "hello"
    for seq, jpeg in enumerate(sent):
        assert jpeg[:3] == b"\xff\xd8\xff"
        await comm.send_to(bytes_data=frame_message(seq, jpeg))
        assert (await receive_json(comm, timeout=30))["t"] == "ack"

    async def stored() -> int:
        return await database_sync_to_async(EmotionSample.objects.filter(call=call).count)()

    deadline = time.monotonic() + 60
    while await stored() < FRAMES and time.monotonic() < deadline:
        await asyncio_sleep(0.1)
    assert await stored() == FRAMES, "the frames did not reach the database: the test would prove nothing"
    assert await sync_to_async(_end_call)(manager, call) in (200, 302)
    await comm.disconnect()
    time.sleep(0.5)  # let the worker finish the report task and flush its log

    patterns = markers(sent)
    dump = await sync_to_async(database_dump)()
    assert str(call.pk).encode() in dump or call.pk.hex.encode() in dump  # the dump does hold this call
    assert b"emotions_emotionsample" in dump
    assert_clean("database dump", dump, patterns)
    if REDIS:
        own_queue = live_worker.queue if live_worker else None
        keys = await sync_to_async(redis_dump)(own_queue)
        assert_clean("redis", keys, patterns)
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        assert_clean(f"log record of {record.name} ({record.pathname}:{record.lineno})", text.encode(), patterns)
    log_files = list(REPO.glob("*.log")) + ([live_worker.log_path] if live_worker else [])
    for path in log_files:
        if path.exists():
            assert_clean(str(path), path.read_bytes(), patterns)
    # Binary files (a SQLite database, journals) may hold FF D8 FF by chance; look for the JPEG
    # SOI+APP0/DQT signatures and for slices of the very frames sent.
    file_patterns = [b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", *frame_slices(sent)]
    scanned = 0
    for path in temp_files_since(started):
        try:
            blob = path.read_bytes()
        except OSError:
            continue  # gone already (a journal)
        scanned += 1
        assert_clean(f"temp file {path}", blob, file_patterns)


def test_the_scanner_does_find_a_frame_where_one_is_written(tmp_path):
    # The scan is real: a frame written into the places above is caught.
    jpeg = browser_like_jpeg()
    patterns = markers([jpeg])
    for blob in (jpeg, jpeg.hex().encode(), base64.b64encode(jpeg), repr(jpeg).encode()):
        with pytest.raises(AssertionError):
            assert_clean("probe", b"prefix " + blob + b" suffix", patterns)


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump not installed")
def test_pg_dump_is_available_for_the_postgresql_run():
    assert shutil.which("pg_dump")
