from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db import IntegrityError
from django.template.loader import render_to_string
from django.utils import translation

from reports.models import CallReport, PdfStatus, Recording, RecordingStatus, ReportPdf

logger = logging.getLogger(__name__)

# Messages shown on the page (English msgids, translated in the template via the error code).
ERROR_UNREADABLE = "unreadable"
ERROR_INTERNAL = "internal"


@shared_task(ignore_result=True)
def render_report_pdf(report_id: int, version: str, language: str) -> None:
    """Render and cache one report's PDF; a rerun for a ready PDF does nothing."""
    from reports.content import build_report_context
    from reports.pdf import render_pdf

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
    from emotions.video import BadVideo, analyze_video
    from reports.recordings import finish, store_analysis

    recording = Recording.objects.select_related("client", "manager").filter(pk=recording_id).first()
    if recording is None or recording.status in (RecordingStatus.DONE, RecordingStatus.FAILED):
        return
    if not recording.file:
        finish(recording, error=ERROR_UNREADABLE)
        return
    Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.PROCESSING)
    try:
        result = analyze_video(recording.file.path, fps=2.0, progress=_Progress(recording.pk))
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
