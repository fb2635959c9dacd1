"""Upload limits: the request size at the server's edge (before a byte is spooled), the resolution and the
duration from the container header, and the duration again while decoding."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calls.models import Call
from engine.video import BadVideo, analyze_video
from lib.bodylimit import RequestSizeLimit
from reports.models import Recording
from tests.support.engine import HAPPY_CLIP
from tests.support.servers import DaphneServer, db_env

pytestmark = pytest.mark.usefixtures("english")
ATTESTED = {"consent": "on"}


def _files(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def _upload(manager_client, client_of_manager):
    video = SimpleUploadedFile("call.flv", HAPPY_CLIP.read_bytes(), content_type="video/x-flv")
    return manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": video, **ATTESTED})


def test_a_resolution_over_the_limit_is_refused_from_the_header(manager_client, client_of_manager, media_root,
                                                                settings):  # fmt: skip
    settings.MIMIC_UPLOAD_MAX_PIXELS = 100 * 100
    response = _upload(manager_client, client_of_manager)
    assert "resolution" in response.content.decode() and "over the limit" in response.content.decode()
    assert not Recording.objects.exists() and not Call.objects.exists() and _files(media_root) == []


def test_a_recording_longer_than_the_limit_is_refused_from_the_header(manager_client, client_of_manager, media_root,
                                                                      settings):  # fmt: skip
    settings.MIMIC_UPLOAD_MAX_SECONDS = 1
    response = _upload(manager_client, client_of_manager)
    assert "longer than the limit" in response.content.decode()
    assert not Recording.objects.exists() and _files(media_root) == []


def test_the_duration_cap_holds_while_decoding(engine) -> None:
    with pytest.raises(BadVideo, match="longer than"):
        analyze_video(HAPPY_CLIP, fps=2.0, engine=engine, max_seconds=0.5)
    assert analyze_video(HAPPY_CLIP, fps=2.0, engine=engine, max_seconds=3600)["timeline"]


# --- the request size, at the ASGI edge ------------------------------------------------------------------


async def _run(app, headers: list, chunks: list[bytes]) -> tuple[int | None, bool]:
    called = False

    async def inner(scope, receive, send):
        nonlocal called
        called = True
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "method": "POST", "path": "/calls/", "headers": headers}
    comm = ApplicationCommunicator(app(inner), scope)
    for i, chunk in enumerate(chunks):
        await comm.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
    start = await comm.receive_output(timeout=5)
    await comm.wait(timeout=5)
    return start.get("status"), called


async def test_a_declared_body_over_the_limit_is_refused_before_the_app_reads_it(settings) -> None:
    settings.MIMIC_REQUEST_MAX_BYTES = 1000
    status, called = await _run(RequestSizeLimit, [(b"content-length", b"5000")], [b""])
    assert (status, called) == (413, False)
    status, called = await _run(RequestSizeLimit, [(b"content-length", b"10")], [b"x" * 10])
    assert (status, called) == (200, True)


async def test_an_undeclared_body_is_cut_off_at_the_limit(settings) -> None:
    settings.MIMIC_REQUEST_MAX_BYTES = 1000
    seen: list[str] = []

    async def inner(scope, receive, send):
        while (message := await receive())["type"] == "http.request" and message.get("more_body"):
            pass
        seen.append(message["type"])

    comm = ApplicationCommunicator(RequestSizeLimit(inner), {"type": "http", "path": "/calls/", "headers": []})
    for _ in range(3):
        await comm.send_input({"type": "http.request", "body": b"x" * 600, "more_body": True})
    await comm.wait(timeout=5)
    assert seen == ["http.disconnect"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_daphne_answers_413_to_an_oversized_upload_without_reading_it(settings) -> None:
    with DaphneServer(env={**db_env(), "MIMIC_UPLOAD_MAX_BYTES": str(1024 * 1024)}) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        # 600 MB announced, nothing sent: an answer now means nothing was waited for, let alone spooled.
        conn.putrequest("POST", reverse("reports:upload"))
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(600 * 1024 * 1024))
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        conn.close()
