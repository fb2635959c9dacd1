"""Recorded calls: upload, analysis at 2 fps by the real engine, deletion of the upload, errors; the consent
attestation, the analysis in the background with its progress, the pilot's labelled upload."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calls.models import Call, CallSource, Client, EmotionSample
from privacy.models import AuditAction, AuditEvent
from reports.models import CallReport, Recording, RecordingStatus
from reports.tasks import analyze_recording
from tests.support.engine import HAPPY_CLIP

pytestmark = pytest.mark.usefixtures("english")

ATTESTED = {"consent": "on"}  # the manager confirms that the client agreed to the analysis
BACKGROUND_THREAD = "analyze-recording-"


def _video(name: str = "call.flv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, HAPPY_CLIP.read_bytes(), content_type="video/x-flv")


def _files(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def _labels() -> SimpleUploadedFile:
    return SimpleUploadedFile("labels.csv", b"start_s,end_s,label\n0,10,happy\n", content_type="text/csv")


def _analysis_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(BACKGROUND_THREAD)]


@pytest.fixture
def background(transactional_db):
    """The embedded analysis runs on a thread of its own against committed rows: let it end before the flush."""
    yield
    for thread in _analysis_threads():
        thread.join(60)


def _analysed(client, recording_id, timeout: float = 60.0) -> dict:
    """Poll the recording's status as its page does, until the background analysis ends."""
    url = reverse("reports:recording_status", args=[recording_id])
    deadline = time.monotonic() + timeout
    while (status := client.get(url).json())["status"] not in (RecordingStatus.DONE, RecordingStatus.FAILED):
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    return status


def test_upload_is_analysed_into_a_call_with_a_report_and_then_deleted(
    manager_client, client_of_manager, media_root, eager_celery, process_engine, background
):
    response = manager_client.post(
        reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED}
    )
    recording = Recording.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:recording", args=[recording.pk])
    _analysed(manager_client, recording.pk)  # in the background, after the response
    recording.refresh_from_db()
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
    manager_client, client_of_manager, media_root, eager_celery, process_engine, background
):
    # Labelled (synthetic) uploads go through the pilot page's form.
    manager_client.post(
        reverse("reports:pilot"), {"client": client_of_manager.pk, "video": _video(), "labels": _labels(), **ATTESTED}
    )
    _analysed(manager_client, Recording.objects.get().pk)
    recording = Recording.objects.get()
    agreement = recording.label_agreement
    assert agreement["frames"] + agreement["frames_without_face"] >= 3
    html = manager_client.get(reverse("reports:call_report", args=[recording.call_id])).content.decode()
    assert 'data-testid="label-agreement"' in html
    assert recording.original_name in manager_client.get(reverse("reports:pilot")).content.decode()


def test_a_corrupt_file_gives_a_clear_error_and_leaves_nothing_behind(manager_client, client_of_manager, media_root):
    corrupt = SimpleUploadedFile("call.mp4", b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500, content_type="video/mp4")
    response = manager_client.post(
        reverse("reports:upload"), {"client": client_of_manager.pk, "video": corrupt, **ATTESTED}
    )
    assert response.status_code == 200
    assert "cannot be read as a video" in response.content.decode()
    assert not Recording.objects.exists() and not Call.objects.exists()
    assert _files(media_root) == []


@pytest.mark.parametrize("name", ["call.avi", "call.exe", "call"])
def test_an_unsupported_type_is_refused(manager_client, client_of_manager, media_root, name):
    response = manager_client.post(
        reverse("reports:upload"),
        {"client": client_of_manager.pk, "video": SimpleUploadedFile(name, b"x" * 100), **ATTESTED},
    )
    assert "Unsupported file type" in response.content.decode()
    assert not Recording.objects.exists() and _files(media_root) == []


def test_an_oversized_upload_is_refused(manager_client, client_of_manager, media_root, settings):
    settings.MIMIC_UPLOAD_MAX_BYTES = 1000
    response = manager_client.post(
        reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED}
    )
    assert "too large" in response.content.decode()
    assert not Recording.objects.exists() and _files(media_root) == []


def test_a_file_that_breaks_during_analysis_is_deleted_and_no_call_remains(
    manager_client, client_of_manager, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as starts:  # kept, not run: the test runs the task itself
        manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED})
    recording = Recording.objects.get()
    queued = [str(recording.pk)]
    assert len(starts) == 1
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


def test_a_worker_that_cannot_see_the_upload_fails_it_with_a_clear_log(
    manager_client, client_of_manager, media_root, settings, tmp_path, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():  # kept, not run: the test runs the task itself
        manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED})
    recording = Recording.objects.get()
    settings.MEDIA_ROOT = str(tmp_path / "another-host")  # a worker host whose MEDIA_ROOT is not the web host's
    analyze_recording(str(recording.pk))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and recording.error == "internal"
    assert "not on this worker's MEDIA_ROOT" in caplog.text
    assert not Call.objects.exists()


def test_progress_is_reported_while_analysing(
    manager_client, client_of_manager, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    import engine.video

    seen = []

    def fake_analyze(path, fps=2.0, progress=None, *, engine, max_seconds=None):
        # Read what a poller would see at each step of a (fake) long analysis.
        for fraction in (0.25, 0.5, 0.75):
            progress(fraction)
            seen.append(Recording.objects.get().progress)
        raise engine.video.BadVideo("stop here")

    monkeypatch.setattr(engine.video, "analyze_video", fake_analyze)
    with django_capture_on_commit_callbacks():  # kept, not run: the test runs the task itself
        manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED})
    queued = [str(Recording.objects.get().pk)]
    analyze_recording(queued[0])
    assert seen == [0.25, 0.5, 0.75]


def test_another_managers_upload_is_404(client, outsider, manager_client, media_root):
    other_client = Client.objects.create(display_name="Чужой", manager=outsider)
    recording = Recording.objects.create(manager=outsider, client=other_client, original_name="x.mp4")
    assert manager_client.get(reverse("reports:recording", args=[recording.pk])).status_code == 404
    assert manager_client.get(reverse("reports:recording_status", args=[recording.pk])).status_code == 404
    # Uploading for a client that is not yours is refused, and nothing is stored.
    response = manager_client.post(
        reverse("reports:upload"), {"client": other_client.pk, "video": _video(), **ATTESTED}
    )
    assert response.status_code == 200 and response.context["form"].errors["client"]
    assert Recording.objects.count() == 1 and _files(media_root) == []


def test_a_shared_cremad_clip_is_analysed_when_available(
    manager_client, client_of_manager, media_root, eager_celery, process_engine, tmp_path, background
):
    from tests.support.engine import shared_data_dir

    clips = sorted((shared_data_dir() / "cremad").glob("*_ANG_*.flv"))
    if not clips:
        pytest.skip("shared CREMA-D data not present")
    copy = tmp_path / clips[0].name
    shutil.copy(clips[0], copy)
    upload = SimpleUploadedFile(copy.name, copy.read_bytes(), content_type="video/x-flv")
    manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": upload, **ATTESTED})
    _analysed(manager_client, Recording.objects.get().pk)
    assert Recording.objects.get().status == RecordingStatus.DONE


# --- the consent attestation ------------------------------------------------------------------------


def test_the_clients_consent_must_be_attested_before_anything_is_stored(
    manager_client, client_of_manager, media_root, django_capture_on_commit_callbacks
):
    page = manager_client.get(reverse("reports:upload")).content.decode()
    assert 'type="checkbox" name="consent"' in page and "the client agreed to the analysis" in page
    with django_capture_on_commit_callbacks() as starts:
        response = manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video()})
    assert response.status_code == 200
    assert response.context["form"].errors["consent"] == [
        "Confirm that the client agreed to the analysis of the recording."
    ]
    assert not Recording.objects.exists() and _files(media_root) == [] and starts == []
    assert not AuditEvent.objects.filter(action=AuditAction.CONSENT_GIVEN).exists()


def test_the_attestation_is_kept_in_the_uploads_audit_entry(
    manager_client, manager, client_of_manager, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED})
    recording = Recording.objects.get()
    event = AuditEvent.objects.get(object_type="reports.Recording", object_id=str(recording.pk))
    assert event.action == AuditAction.CONSENT_GIVEN and event.actor == manager
    assert event.details == {
        "upload": "recording",
        "client": str(client_of_manager.pk),
        "size_bytes": recording.size_bytes,
        "synthetic": False,
        "consent_attested": True,
    }


# --- the analysis in the background and its progress ------------------------------------------------


def test_embedded_the_upload_answers_before_the_analysis_ends_and_its_progress_shows(
    manager_client, client_of_manager, media_root, eager_celery, process_engine, background, monkeypatch
):
    import engine.video

    real_analyze = engine.video.analyze_video
    halfway, release = threading.Event(), threading.Event()

    def slow_analyze(path, fps=2.0, progress=None, *, engine, max_seconds=None):
        progress(0.4)
        halfway.set()
        if not release.wait(30):  # would block the request here if the analysis ran inside it
            raise RuntimeError("not released")
        return real_analyze(path, fps=fps, progress=progress, engine=engine, max_seconds=max_seconds)

    monkeypatch.setattr(engine.video, "analyze_video", slow_analyze)
    response = manager_client.post(
        reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED}
    )
    recording = Recording.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:recording", args=[recording.pk])
    assert halfway.wait(10), "the analysis did not start after the response"
    assert [t.daemon for t in _analysis_threads()] == [True]
    status_url = reverse("reports:recording_status", args=[recording.pk])
    status = manager_client.get(status_url).json()
    assert status == {"status": "processing", "progress": 0.4, "error": "", "report_url": None}
    # The recording's page can be left and opened again: it shows the bar where the analysis is and polls.
    page = manager_client.get(reverse("reports:recording", args=[recording.pk])).content.decode()
    assert f'data-analysis-url="{status_url}"' in page and 'value="40"' in page
    assert "reports/upload.js" in page

    release.set()
    status = _analysed(manager_client, recording.pk)
    recording.refresh_from_db()
    assert status["status"] == "done" and status["progress"] == 1.0
    assert status["report_url"] == reverse("reports:call_report", args=[recording.call_id])
    page = manager_client.get(reverse("reports:recording", args=[recording.pk])).content.decode()
    assert f'href="{status["report_url"]}" data-testid="report-link"' in page


@pytest.fixture
def broker_shape():
    """Tasks go to a broker (the production shape), even where the embedded default runs them in-process."""
    conf = analyze_recording.app.conf
    previous, conf.task_always_eager = conf.task_always_eager, False
    yield
    conf.task_always_eager = previous


def test_with_a_broker_the_task_is_queued_after_the_commit_and_no_thread_starts(
    manager_client, client_of_manager, media_root, broker_shape, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(analyze_recording, "delay", lambda rid: queued.append(rid))
    with django_capture_on_commit_callbacks() as starts:
        manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED})
        assert queued == []  # not before the commit
    for start in starts:
        start()
    assert queued == [str(Recording.objects.get().pk)] and _analysis_threads() == []


def test_the_upload_script_gets_its_answer_as_json(
    manager_client, client_of_manager, media_root, django_capture_on_commit_callbacks
):
    page = manager_client.get(reverse("reports:upload")).content.decode()
    assert "reports/upload.js" in page and "data-transfer-bar" in page and "data-upload-form" in page
    xhr = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
    refused = manager_client.post(reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video()}, **xhr)
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["consent"]
    assert not Recording.objects.exists()
    with django_capture_on_commit_callbacks():
        accepted = manager_client.post(
            reverse("reports:upload"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED}, **xhr
        )
    recording = Recording.objects.get()
    assert accepted.status_code == 201
    assert accepted.json() == {
        "url": reverse("reports:recording", args=[recording.pk]),
        "status_url": reverse("reports:recording_status", args=[recording.pk]),
    }


# --- the pilot's labelled upload --------------------------------------------------------------------


def test_the_labels_field_is_on_the_pilot_form_not_the_everyday_one(
    manager_client, client_of_manager, media_root, django_capture_on_commit_callbacks
):
    upload = manager_client.get(reverse("reports:upload"))
    assert "labels" not in upload.context["form"].fields and 'name="labels"' not in upload.content.decode()
    pilot = manager_client.get(reverse("reports:pilot"))
    assert "labels" in pilot.context["form"].fields
    assert 'name="labels"' in pilot.content.decode() and 'data-testid="pilot-upload-form"' in pilot.content.decode()

    # The everyday form ignores a labels file; the pilot's requires one.
    with django_capture_on_commit_callbacks():
        manager_client.post(
            reverse("reports:upload"),
            {"client": client_of_manager.pk, "video": _video(), "labels": _labels(), **ATTESTED},
        )
    assert Recording.objects.get().labels is None
    refused = manager_client.post(
        reverse("reports:pilot"), {"client": client_of_manager.pk, "video": _video(), **ATTESTED}
    )
    assert refused.status_code == 200 and refused.context["form"].errors["labels"]
    assert Recording.objects.count() == 1

    with django_capture_on_commit_callbacks() as starts:
        response = manager_client.post(
            reverse("reports:pilot"),
            {"client": client_of_manager.pk, "video": _video(), "labels": _labels(), **ATTESTED},
        )
    synthetic = Recording.objects.exclude(labels=None).get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:recording", args=[synthetic.pk])
    assert synthetic.labels == [{"start_ms": 0, "end_ms": 10000, "label": "happy"}] and len(starts) == 1
    event = AuditEvent.objects.get(object_id=str(synthetic.pk))
    assert event.details["consent_attested"] is True and event.details["synthetic"] is True


def test_the_pilot_form_also_needs_the_attestation(manager_client, client_of_manager, media_root):
    response = manager_client.post(
        reverse("reports:pilot"), {"client": client_of_manager.pk, "video": _video(), "labels": _labels()}
    )
    assert response.status_code == 200 and response.context["form"].errors["consent"]
    assert not Recording.objects.exists() and _files(media_root) == []
