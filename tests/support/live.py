"""Fixtures and helpers for the live-call tests (import the fixtures into a test module to use them).

Both ways of running are supported: embedded (no REDIS_URL: in-memory channel layer, tasks run
eagerly in the consumer's worker thread) and PostgreSQL + Redis (then a real Celery worker
subprocess on a private queue processes the frames, against the test database).
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import simplejpeg
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from PIL import Image

from calls import protocol as capture
from calls.models import Consent
from tests.support.engine import FRAMES

ORIGIN = "http://127.0.0.1:8000"
REDIS = bool(os.environ.get("REDIS_URL"))


def browser_like_jpeg(name: str = "HAP", long_side: int = 320, quality: int = 70) -> bytes:
    """A CREMA-D face frame the way the page sends it: <= 320 px long side, JPEG quality 0.7."""
    rgb = simplejpeg.decode_jpeg(Path(FRAMES[name]).read_bytes(), colorspace="RGB")
    image = Image.fromarray(rgb)
    scale = long_side / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    return simplejpeg.encode_jpeg(np.ascontiguousarray(np.asarray(image)), quality=quality)


def frame_message(seq: int, jpeg: bytes | None = None, capture_ms: int | None = None) -> bytes:
    return capture.pack_frame(seq, capture_ms or int(time.time() * 1000), jpeg or browser_like_jpeg())


def not_jpeg_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buf, format="PNG")
    return buf.getvalue()


def session_cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def communicator(path: str, origin: str | None = ORIGIN, cookie: str | None = None) -> WebsocketCommunicator:
    from webapp.asgi import application

    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def client_path(call, token: str | None = None) -> str:
    return f"/ws/calls/{call.pk}/capture/?token={token or capture.make_client_token(call.pk)}"


def manager_path(call) -> str:
    return f"/ws/calls/{call.pk}/live/"


async def receive_json(comm: WebsocketCommunicator, timeout: float = 5.0) -> dict:
    return await comm.receive_json_from(timeout=timeout)


async def expect_close(comm: WebsocketCommunicator, code: int, timeout: float = 5.0) -> list[dict]:
    """Read until the server closes; returns the JSON messages before the close and checks its code."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        output = await comm.receive_output(timeout=max(0.01, deadline - time.monotonic()))
        if output["type"] == "websocket.close":
            assert output.get("code") == code, f"closed with {output.get('code')}, expected {code}; saw {seen}"
            return seen
        if output["type"] == "websocket.send" and output.get("text"):
            import json

            seen.append(json.loads(output["text"]))


async def replies_until(comm: WebsocketCommunicator, predicate: Callable[[dict], bool], timeout: float = 10.0):
    """JSON messages up to and including the first one matching ``predicate``."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        message = await comm.receive_json_from(timeout=max(0.01, deadline - time.monotonic()))
        seen.append(message)
        if predicate(message):
            return seen


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


@database_sync_to_async
def count(queryset) -> int:
    return queryset.count()


def give_consent(call) -> Consent:
    from calls.lifecycle import give_consent as give

    return give(call, "ru")


def write_y4m(clip: Path, out: Path, loops: int = 4, brightness: float = 1.0) -> Path:
    """The clip as YUV4MPEG2 (I420, 30 fps) for Chromium's fake camera, looped so it lasts; ``brightness`` < 1
    darkens it (a client in a dim room)."""
    import av

    frames = []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            planes = frame.reformat(format="yuv420p").to_ndarray()  # [H * 3/2, W]: Y, then U, then V
            if brightness != 1.0:
                luma = planes[: frame.height]
                planes[: frame.height] = (luma.astype("float32") * brightness).astype(planes.dtype)
            frames.append(planes.tobytes())
            width, height = frame.width, frame.height
    with open(out, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(loops):
            for data in frames:
                fh.write(b"FRAME\n")
                fh.write(data)
    return out
