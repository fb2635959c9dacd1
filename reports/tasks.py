from __future__ import annotations

import logging
import os
import threading
import time

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connections, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from calls.broadcast import send_to_call
from calls.models import Call, CallStatus, EmotionSample, Notification
from engine.analytics import summarize
from reports.models import CallReport, PdfStatus, Recording, RecordingStatus, ReportPdf

logger = logging.getLogger(__name__)

# Messages shown on the page (English msgids, translated in the template via the error code).
ERROR_UNREADABLE = "unreadable"
ERROR_INTERNAL = "internal"


@shared_task(ignore_result=True)
def build_call_report(call_id: str) -> bool:
    """Summarise an ended call into its CallReport and tell the manager (idempotent): in the portal, by e-mail,
    and on the live page, which then links to the report."""
    call = Call.objects.select_related("manager", "client").filter(pk=call_id, status=CallStatus.ENDED).first()
    if call is None or not call.consents.active().exists():
        # Never consented, or consent withdrawn: there is nothing to report.
        send_to_call(call_id, {"type": "call.report", "url": None})
        return False
    samples = EmotionSample.objects.filter(call=call)
    t_ms, found, probs = samples.timeline()
    CallReport.store(call, summarize(t_ms, found, probs, poor_view=samples.poor_view()))
    url = call.report_url
    # A worker has no request language: the texts are stored and mailed in the site's language (users have no
    # language of their own).
    with translation.override(settings.LANGUAGE_CODE):
        message = _("The report of your call with %(client)s is ready.") % {"client": call.client.pseudonym}
        subject = _("Mimic: call report ready")
    _note, created = Notification.objects.get_or_create(
        user=call.manager, call=call, url=url, defaults={"message": message}
    )
    if created and call.manager.email:
        link = settings.SITE_ROOT.rstrip("/") + url
        send_mail(subject, f"{message}\n{link}\n", None, [call.manager.email], fail_silently=True)
    send_to_call(call_id, {"type": "call.report", "url": url})
    return True


@shared_task(ignore_result=True)
def render_report_pdf(report_id: int, version: str, language: str) -> None:
    """Render and cache one report's PDF; a rerun for a ready PDF does nothing."""
    from lib.pdf import render_pdf
    from reports.content import build_report_context

    try:
        cached, _ = ReportPdf.objects.get_or_create(report_id=report_id, version=version, language=language)
    except IntegrityError:  # a concurrent task created it first
        cached = ReportPdf.objects.get(report_id=report_id, version=version, language=language)
    if cached.status == PdfStatus.READY:
        return
    report = CallReport.objects.select_related("call", "call__client", "call__manager").get(pk=report_id)
    try:
        with translation.override(language):
            html = render_to_string("reports/call_report_pdf.html", build_report_context(report, "pdf"))
        pdf = render_pdf(html)
    except Exception:
        logger.exception("PDF rendering failed for report %s", report_id)
        ReportPdf.objects.filter(pk=cached.pk).update(status=PdfStatus.FAILED)
        raise
    ReportPdf.objects.filter(pk=cached.pk).update(pdf=pdf, status=PdfStatus.READY)


class _Progress:
    """Writes progress to the database at most every half second or 2 %, so polling sees it move."""

    def __init__(self, recording_id) -> None:
        self.recording_id = recording_id
        self.last_value = 0.0
        self.last_time = 0.0

    def __call__(self, fraction: float, *rest: float) -> None:
        if rest:  # tolerate progress(done, total)
            fraction = fraction / rest[0] if rest[0] else 0.0
        fraction = max(0.0, min(1.0, float(fraction)))
        now = time.monotonic()
        if fraction - self.last_value >= 0.02 or now - self.last_time >= 0.5 or fraction >= 1.0:
            self.last_value, self.last_time = fraction, now
            # Never above 0.99 before the results are stored.
            Recording.objects.filter(pk=self.recording_id).update(progress=min(fraction, 0.99))


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=4 * 3600, time_limit=4 * 3600 + 120)
def analyze_recording(recording_id: str) -> None:
    """Analyse an uploaded recording at 2 fps into a Call with samples and a report; delete the upload after.

    Idempotent: a finished recording is left alone; a redelivered one is analysed again from its
    file, and the results are stored in one transaction, so nothing is ever doubled.
    """
    from calls.scoring import get_engine
    from engine.video import BadVideo, analyze_video
    from reports.recordings import finish, store_analysis

    recording = Recording.objects.select_related("client", "manager").filter(pk=recording_id).first()
    if recording is None or recording.status in (RecordingStatus.DONE, RecordingStatus.FAILED):
        return
    if not recording.file:
        finish(recording, error=ERROR_UNREADABLE)
        return
    if not os.path.exists(recording.file.path):
        # Written by the web host that took the upload: this worker must see the same MEDIA_ROOT (docker-compose.yml).
        logger.error("Recording %s: its upload is not on this worker's MEDIA_ROOT; share that storage", recording_id)
        finish(recording, error=ERROR_INTERNAL)
        return
    Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.PROCESSING)
    try:
        result = analyze_video(
            recording.file.path, fps=2.0, progress=_Progress(recording.pk), engine=get_engine(),
            max_seconds=settings.MIMIC_UPLOAD_MAX_SECONDS,
        )  # fmt: skip
        store_analysis(recording, result)
    except BadVideo as exc:
        logger.info("Recording %s could not be analysed: %s", recording_id, exc.reason)
        finish(recording, error=ERROR_UNREADABLE)
    except Exception:
        # Logged with traceback; the page shows a generic error and the upload is still deleted.
        logger.exception("Recording %s failed", recording_id)
        finish(recording, error=ERROR_INTERNAL)
    else:
        finish(recording)


def start_analysis(recording_id) -> None:
    """Start a stored recording's analysis once the upload is committed, never inside the upload request.

    With a broker the task goes to a worker (``delay``). Where tasks run in-process (embedded:
    CELERY_TASK_ALWAYS_EAGER, no REDIS_URL), ``delay`` would run the whole analysis inside the request, so it
    runs on a daemon thread of its own instead: the response goes back at once and the pages poll the
    progress (``reports:recording_status``). Either way it starts after the commit, so it sees the row.
    """
    recording_id = str(recording_id)
    if analyze_recording.app.conf.task_always_eager:
        transaction.on_commit(lambda: _analyze_on_thread(recording_id))
    else:
        transaction.on_commit(lambda: analyze_recording.delay(recording_id))


def _analyze_on_thread(recording_id: str) -> threading.Thread:
    thread = threading.Thread(
        target=_analyze_in_background, args=(recording_id,), name=f"analyze-recording-{recording_id}", daemon=True
    )
    thread.start()
    return thread


def _analyze_in_background(recording_id: str) -> None:
    try:
        analyze_recording.apply(args=[recording_id], throw=False)
    except Exception:  # noqa: BLE001 - nothing above this thread would log it
        logger.exception("Background analysis of recording %s failed", recording_id)
    finally:
        connections.close_all()  # this thread's own connections
