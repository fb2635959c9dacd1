from __future__ import annotations

from django.db import models
from django.utils import timezone


class CallReport(models.Model):
    """The stored aggregation of one call (see emotions.analytics.summarize)."""

    call = models.OneToOneField("emotions.Call", on_delete=models.CASCADE, related_name="report")
    summary = models.JSONField()
    satisfaction_pct = models.FloatField(null=True, blank=True)
    negative_pct = models.FloatField(null=True, blank=True)
    face_visible_pct = models.FloatField(default=0.0)
    negative_episodes = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

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
