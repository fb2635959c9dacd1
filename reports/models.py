from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib.querysets import VisibleToUserQuerySet

# Bump when the PDF layout changes so cached PDFs are rendered again.
PDF_LAYOUT_VERSION = 6


class CallReportQuerySet(VisibleToUserQuerySet):
    """Dashboard and trend queries; every method returns a queryset or a fixed number of queries."""

    manager_field = "call__manager"

    def with_call(self) -> CallReportQuerySet:
        return self.select_related("call", "call__client", "call__manager")

    def in_period(self, start: date | None = None, end: date | None = None) -> CallReportQuerySet:
        qs = self
        tz = timezone.get_current_timezone()
        if start:
            qs = qs.filter(call__created__gte=timezone.make_aware(datetime.combine(start, time.min), tz))
        if end:
            qs = qs.filter(call__created__lt=timezone.make_aware(datetime.combine(end, time.max), tz))
        return qs

    def satisfaction_below(self, threshold: float) -> CallReportQuerySet:
        return self.filter(satisfaction_pct__lt=threshold)

    def with_negative_episodes(self, flag: bool = True) -> CallReportQuerySet:
        return self.filter(negative_episodes__gt=0) if flag else self.filter(negative_episodes=0)

    def headline(self) -> dict:
        """Calls, mean satisfaction and share of calls with negative episodes, in one query."""
        agg = self.aggregate(
            calls=Count("id"),
            mean_satisfaction=Avg("satisfaction_pct"),
            with_negative=Count("id", filter=Q(negative_episodes__gt=0)),
        )
        agg["negative_share_pct"] = 100.0 * agg["with_negative"] / agg["calls"] if agg["calls"] else None
        return agg

    def daily_satisfaction(self) -> list[dict]:
        """Mean satisfaction and number of calls per local day, oldest first."""
        return list(
            self.annotate(day=TruncDate("call__created", tzinfo=timezone.get_current_timezone()))
            .values("day")
            .annotate(mean=Avg("satisfaction_pct"), calls=Count("id"))
            .order_by("day")
        )

    def by_manager_period(self, period: str = "week") -> list[dict]:
        """Mean satisfaction per manager per calendar week or month."""
        trunc = {"week": TruncWeek, "month": TruncMonth}[period]
        return list(
            self.annotate(period=trunc("call__created", tzinfo=timezone.get_current_timezone()))
            .values("call__manager", "period")
            .annotate(mean=Avg("satisfaction_pct"), calls=Count("id"))
            .order_by("period", "call__manager")
        )


class CallReport(models.Model):
    """The stored aggregation of one call (see engine.analytics.summarize)."""

    call = models.OneToOneField("emotions.Call", on_delete=models.CASCADE, related_name="report")
    summary = models.JSONField()
    satisfaction_pct = models.FloatField(null=True, blank=True)
    negative_pct = models.FloatField(null=True, blank=True)
    face_visible_pct = models.FloatField(default=0.0)
    negative_episodes = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    objects = CallReportQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["satisfaction_pct"]), models.Index(fields=["negative_episodes"])]

    def __str__(self) -> str:
        return f"Report for {self.call_id}"

    @classmethod
    def store(cls, call, summary: dict) -> CallReport:
        """Create or replace the report of ``call``: idempotent, so a rerun never doubles it."""
        report, _ = cls.objects.update_or_create(
            call=call,
            defaults={
                "summary": summary,
                "satisfaction_pct": summary.get("satisfaction_pct"),
                "negative_pct": summary.get("valence_pct", {}).get("negative"),
                "face_visible_pct": summary.get("face_visible_pct", 0.0),
                "negative_episodes": len(summary.get("negative_episodes", [])),
                "created": timezone.now(),
            },
        )
        return report

    def pdf_version(self) -> str:
        """Changes whenever the report is recomputed or the layout changes, so stale PDFs are never served."""
        raw = f"{PDF_LAYOUT_VERSION}|{self.created.isoformat()}|{self.satisfaction_pct}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class PdfStatus(models.TextChoices):
    PENDING = "pending", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class ReportPdf(models.Model):
    """Cached PDF bytes of one report, per report version and language."""

    report = models.ForeignKey(CallReport, on_delete=models.CASCADE, related_name="pdfs")
    version = models.CharField(max_length=32)
    language = models.CharField(max_length=8)
    status = models.CharField(max_length=8, choices=PdfStatus.choices, default=PdfStatus.PENDING)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "version", "language"], name="unique_pdf_per_report_version")
        ]

    def __str__(self) -> str:
        return f"PDF {self.report_id} v{self.version} {self.language} ({self.status})"


class RecordingStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Analysing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


def _recording_path(instance: Recording, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"recordings/{instance.id}.{ext}"


class Recording(models.Model):
    """An uploaded call recording. The file lives only until its analysis ends."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recordings")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="uploaded_recordings"
    )
    client = models.ForeignKey("emotions.Client", on_delete=models.CASCADE, related_name="recordings")
    call = models.OneToOneField(
        "emotions.Call", on_delete=models.SET_NULL, null=True, blank=True, related_name="recording"
    )
    file = models.FileField(upload_to=_recording_path, blank=True)
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=RecordingStatus.choices, default=RecordingStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    error = models.CharField(max_length=300, blank=True)
    # Synthetic test: ground-truth time ranges [{"start_ms", "end_ms", "label"}] and the agreement found.
    labels = models.JSONField(null=True, blank=True)
    label_agreement = models.JSONField(null=True, blank=True)
    file_deleted_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleToUserQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"

    @property
    def is_synthetic(self) -> bool:
        return self.labels is not None

    def delete_file(self) -> None:
        """Remove the uploaded video from storage; safe to call twice."""
        if self.file:
            self.file.delete(save=False)
        self.file = ""
        self.file_deleted_at = self.file_deleted_at or timezone.now()


class ClientFeedback(models.Model):
    """What the client said after the call (pilot measurement)."""

    call = models.OneToOneField("emotions.Call", on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    upset = models.BooleanField()
    upset_moment = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Feedback {self.call_id}: {self.rating}"

    @property
    def reported_negative(self) -> bool:
        from reports.pilot import client_reported_negative

        return client_reported_negative(self.rating, self.upset)
