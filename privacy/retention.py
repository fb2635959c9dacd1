"""Retention: purge what has outlived its configured period, and record the destruction.

The registry names models by label so it works whatever apps are installed: entries whose
model does not exist (yet) are skipped, and a period of 0 days keeps rows forever.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from privacy.audit import audit
from privacy.destruction import delete_with_files
from privacy.models import AuditAction, DestructionKind, DestructionRecord


@dataclass(frozen=True)
class RetentionRule:
    model: str  # "app_label.ModelName"
    date_field: str  # rows older than the period, by this field, are destroyed
    setting: str  # days, from settings


# Consents are not here on purpose: they are the evidence for processing and go with their call.
RETENTION_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("emotions.EmotionSample", "created", "MIMIC_RETENTION_SAMPLES_DAYS"),
    RetentionRule("emotions.Notification", "created", "MIMIC_RETENTION_SAMPLES_DAYS"),
    RetentionRule("reports.Recording", "created", "MIMIC_RETENTION_SAMPLES_DAYS"),
    RetentionRule("reports.ReportPdf", "created", "MIMIC_RETENTION_PDFS_DAYS"),
    RetentionRule("reports.CallReport", "created", "MIMIC_RETENTION_REPORTS_DAYS"),
    RetentionRule("reports.ClientFeedback", "created", "MIMIC_RETENTION_FEEDBACK_DAYS"),
    RetentionRule("illustrations.ShareLink", "created", "MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS"),
    RetentionRule("illustrations.Illustration", "created", "MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS"),
    RetentionRule("dion.DionMeeting", "created", "MIMIC_RETENTION_MEETINGS_DAYS"),
    RetentionRule("privacy.LoginFailure", "at", "MIMIC_RETENTION_LOGIN_FAILURES_DAYS"),
)


def active_rules() -> list[tuple[RetentionRule, type]]:
    """Rules whose model exists in this installation and has the date field."""
    found = []
    for rule in RETENTION_RULES:
        try:
            model = apps.get_model(rule.model)
        except LookupError:
            continue
        if any(f.name == rule.date_field for f in model._meta.get_fields()):
            found.append((rule, model))
    return found


def purge_expired(now: datetime | None = None) -> DestructionRecord:
    """Destroy every row past its retention period; always leaves a DestructionRecord and an audit event."""
    now = now or timezone.now()
    counts: Counter = Counter()
    cutoffs: dict[str, str] = {}
    for rule, model in active_rules():
        days = int(getattr(settings, rule.setting, 0) or 0)
        if days <= 0:
            continue
        cutoff = now - timedelta(days=days)
        cutoffs[rule.model] = cutoff.isoformat()
        counts.update(delete_with_files(model._default_manager.filter(**{f"{rule.date_field}__lt": cutoff})))
    record = DestructionRecord.objects.create(
        at=now, kind=DestructionKind.RETENTION, counts=dict(counts), cutoffs=cutoffs, actor_label="retention"
    )
    audit("retention", AuditAction.RETENTION_PURGE, record, counts=dict(counts))
    return record
