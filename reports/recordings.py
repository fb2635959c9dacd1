"""Recorded calls: probe an upload, turn an analysis into a Call with samples and a report."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import av
from django.db import transaction
from django.utils import timezone

from calls.models import Call, CallSource, CallStatus, EmotionSample, ScoredFrame
from engine.analytics import summarize
from engine.labels import POOR_VIEW_FLAGS
from reports.models import CallReport, Recording, RecordingStatus
from reports.pilot import label_agreement


def probe_video(path: str | Path) -> str | None:
    """None when the file opens as a video with a decodable frame; otherwise a reason (never the content)."""
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                return "no video stream"
            stream = container.streams.video[0]
            for _frame in container.decode(stream):
                return None
            return "no decodable video frames"
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        return type(exc).__name__


def limits_problem(path: str | Path) -> str | None:
    """Why a recording is refused before a pixel is decoded (resolution or duration from the container header,
    settings MIMIC_UPLOAD_MAX_PIXELS / MIMIC_UPLOAD_MAX_SECONDS), as the manager reads it; None when within."""
    from django.conf import settings
    from django.utils.translation import gettext as _

    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                return None  # probe_video says why
            stream = container.streams.video[0]
            width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
            if width * height > settings.MIMIC_UPLOAD_MAX_PIXELS or max(width, height) > 8192:
                return _("The video's resolution (%(width)s×%(height)s) is over the limit.") % {
                    "width": width,
                    "height": height,
                }
            duration_s = None
            if stream.duration and stream.time_base:
                duration_s = float(stream.duration * stream.time_base)
            elif container.duration:
                duration_s = container.duration / av.time_base
            if duration_s is not None and duration_s > settings.MIMIC_UPLOAD_MAX_SECONDS:
                return _("The recording is longer than the limit of %(minutes)d minutes.") % {
                    "minutes": settings.MIMIC_UPLOAD_MAX_SECONDS // 60
                }
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None  # probe_video says why
    return None


@transaction.atomic
def store_ended_call(
    manager,
    client,
    started: datetime,
    duration_ms: int,
    timeline: list[dict],
    *,
    source: str = CallSource.LIVE,
    summary: dict | None = None,
) -> Call:
    """An ended call from a whole analysed timeline (rows ``{t_ms, face_found, probs, flags?}``): the call, its
    samples and its report, in one transaction. ``summary`` defaults to the timeline's own."""
    call = Call.objects.create(
        manager=manager,
        client=client,
        status=CallStatus.ENDED,
        source=source,
        created=started,
        started_at=started,
        ended_at=started + timedelta(milliseconds=duration_ms),
    )
    EmotionSample.objects.store_timeline(
        call,
        [
            ScoredFrame.from_probs(
                call.pk, i, int(row["t_ms"]), bool(row["face_found"]), row["probs"], row.get("flags") or ()
            )
            for i, row in enumerate(timeline)
        ],
        started,
    )
    if summary is None:
        summary = summarize(
            [r["t_ms"] for r in timeline],
            [r["face_found"] for r in timeline],
            [r["probs"] for r in timeline],
            poor_view=[bool(POOR_VIEW_FLAGS.intersection(r.get("flags") or ())) for r in timeline],
        )
    CallReport.store(call, summary)
    return call


def timeline_rows(t_ms, face_found, probs) -> list[dict]:
    """Parallel lists (as the demo and test timelines come) as the rows store_ended_call takes."""
    return [{"t_ms": t, "face_found": ok, "probs": p} for t, ok, p in zip(t_ms, face_found, probs, strict=True)]


@transaction.atomic
def store_analysis(recording: Recording, result: dict) -> Call:
    """Create the upload's Call, its samples and its report in one transaction (all or nothing)."""
    timeline = result["timeline"]
    summary = result["summary"]
    duration_ms = int(summary.get("duration_ms") or (timeline[-1]["t_ms"] if timeline else 0))
    call = store_ended_call(
        recording.manager,
        recording.client,
        recording.created,
        duration_ms,
        timeline,
        source=CallSource.UPLOAD,
        summary=summary,
    )
    recording.call = call
    if recording.labels is not None:
        recording.label_agreement = label_agreement(
            [r["t_ms"] for r in timeline],
            [r["face_found"] for r in timeline],
            [r["probs"] for r in timeline],
            recording.labels,
        )
    recording.save(update_fields=["call", "label_agreement"])
    return call


def finish(recording: Recording, *, error: str = "") -> None:
    """Delete the upload whatever happened and record the outcome."""
    recording.delete_file()
    recording.status = RecordingStatus.FAILED if error else RecordingStatus.DONE
    recording.error = error[:300]
    recording.progress = recording.progress if error else 1.0
    recording.finished_at = timezone.now()
    recording.save(update_fields=["file", "file_deleted_at", "status", "error", "progress", "finished_at"])
