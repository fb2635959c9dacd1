"""Recorded calls: upload, analysis at 2 fps by the real engine, deletion of the upload, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calls.models import Call, CallSource, Client, EmotionSample
from reports.models import CallReport, Recording, RecordingStatus
from reports.tasks import analyze_recording
from tests.support.engine import HAPPY_CLIP

pytestmark = pytest.mark.usefixtures("english")


def _video(name: str = "call.flv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, HAPPY_CLIP.read_bytes(), content_type="video/x-flv")


def _files(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def test_upload_is_analysed_into_a_call_with_a_report_and_then_deleted(
    manager_client, client_of_manager, media_root, eager_celery, process_engine
):
    response = manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video()})
    recording = Recording.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:recording", args=[recording.pk])
    assert recording.status == RecordingStatus.DONE and recording.progress == 1.0
    assert not recording.file and recording.file_deleted_at is not None
    assert _files(media_root) == []
    call = recording.call
    assert call.source == CallSource.UPLOAD and call.client == client_of_manager
    samples = EmotionSample.objects.filter(call=call).count()
    assert 3 <= samples <= 6  # a ~2.3 s clip at 2 fps
    assert CallReport.objects.filter(call=call).exists()
    status = manager_client.get(reverse("reports:recording_status", args=[recording.pk])).json()
    assert status["status"] == "done" and status["report_url"] == reverse("reports:call_report", args=[call.id])
    report_html = manager_client.get(status["report_url"]).content.decode()
    assert 'data-testid="upload-deleted"' in report_html


def test_a_labelled_upload_reports_agreement_with_the_labels(
    manager_client, client_of_manager, media_root, eager_celery, process_engine
):
    labels = SimpleUploadedFile("labels.csv", b"start_s,end_s,label\n0,10,happy\n", content_type="text/csv")
    manager_client.post(
        reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), "labels": labels}
    )
    recording = Recording.objects.get()
    agreement = recording.label_agreement
    assert agreement["frames"] + agreement["frames_without_face"] >= 3
    html = manager_client.get(reverse("reports:call_report", args=[recording.call_id])).content.decode()
    assert 'data-testid="label-agreement"' in html
    assert recording.original_name in manager_client.get(reverse("reports:pilot")).content.decode()


def test_a_corrupt_file_gives_a_clear_error_and_leaves_nothing_behind(manager_client, client_of_manager, media_root):
    corrupt = SimpleUploadedFile("call.mp4", b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500, content_type="video/mp4")
    response = manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": corrupt})
    assert response.status_code == 200
    assert "cannot be read as a video" in response.content.decode()
    assert not Recording.objects.exists() and not Call.objects.exists()
    assert _files(media_root) == []


@pytest.mark.parametrize("name", ["call.avi", "call.exe", "call"])
def test_an_unsupported_type_is_refused(manager_client, client_of_manager, media_root, name):
    response = manager_client.post(
        reverse("reports:upload"), {"client": client_of_manager.pk, "video": SimpleUploadedFile(name, b"x" * 100)}
    )
    assert "Unsupported file type" in response.content.decode()
    assert not Recording.objects.exists() and _files(media_root) == []


def test_an_oversized_upload_is_refused(manager_client, client_of_manager, media_root, settings):
    settings.MIMIC_UPLOAD_MAX_BYTES = 1000
    response = manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video()})
    assert "too large" in response.content.decode()
    assert not Recording.objects.exists() and _files(media_root) == []


def test_a_file_that_breaks_during_analysis_is_deleted_and_no_call_remains(
    manager_client, client_of_manager, media_root, monkeypatch
):
    queued = []
    monkeypatch.setattr(analyze_recording, "delay", lambda rid: queued.append(rid))
    manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video()})
    recording = Recording.objects.get()
    # The file passed the probe, then got truncated on disk before the worker read it.
    Path(recording.file.path).write_bytes(HAPPY_CLIP.read_bytes()[:600])
    page = manager_client.get(reverse("reports:recording", args=[recording.pk])).content.decode()
    assert reverse("reports:recording_status", args=[recording.pk]) in page  # polling while queued
    analyze_recording(queued[0])
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and recording.error == "unreadable"
    assert not Call.objects.exists() and not CallReport.objects.exists()
    assert _files(media_root) == []
    page = manager_client.get(reverse("reports:recording", args=[recording.pk])).content.decode()
    assert 'data-testid="recording-error"' in page and "deleted" in page
    analyze_recording(queued[0])  # a redelivery changes nothing
    assert Recording.objects.get().status == RecordingStatus.FAILED


def test_progress_is_reported_while_analysing(manager_client, client_of_manager, media_root, monkeypatch):
    import engine.video

    seen = []

    def fake_analyze(path, fps=2.0, progress=None, *, engine):
        # Read what a poller would see at each step of a (fake) long analysis.
        for fraction in (0.25, 0.5, 0.75):
            progress(fraction)
            seen.append(Recording.objects.get().progress)
        raise engine.video.BadVideo("stop here")

    monkeypatch.setattr(engine.video, "analyze_video", fake_analyze)
    queued = []
    monkeypatch.setattr(analyze_recording, "delay", lambda rid: queued.append(rid))
    manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video()})
    analyze_recording(queued[0])
    assert seen == [0.25, 0.5, 0.75]


def test_another_managers_upload_is_404(client, outsider, manager_client, media_root):
    other_client = Client.objects.create(display_name="Чужой", manager=outsider)
    recording = Recording.objects.create(manager=outsider, client=other_client, original_name="x.mp4")
    assert manager_client.get(reverse("reports:recording", args=[recording.pk])).status_code == 404
    assert manager_client.get(reverse("reports:recording_status", args=[recording.pk])).status_code == 404
    # Uploading for a client that is not yours is refused, and nothing is stored.
    response = manager_client.post(reverse("reports:upload"), {"client": other_client.pk, "video": _video()})
    assert response.status_code == 200 and response.context["form"].errors["client"]
    assert Recording.objects.count() == 1 and _files(media_root) == []


def test_a_shared_cremad_clip_is_analysed_when_available(
    manager_client, client_of_manager, media_root, eager_celery, process_engine, tmp_path
):
    from tests.support.engine import shared_data_dir

    clips = sorted((shared_data_dir() / "cremad").glob("*_ANG_*.flv"))
    if not clips:
        pytest.skip("shared CREMA-D data not present")
    copy = tmp_path / clips[0].name
    shutil.copy(clips[0], copy)
    upload = SimpleUploadedFile(copy.name, copy.read_bytes(), content_type="video/x-flv")
    manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": upload})
    assert Recording.objects.get().status == RecordingStatus.DONE
