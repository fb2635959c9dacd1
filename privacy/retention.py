"""Retention: purge what has outlived its configured period, and record the destruction.

The registry names models by label so it works whatever apps are installed: entries whose
model does not exist (yet) are skipped, and a period of 0 days keeps rows forever.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.audit import audit
from privacy.destruction import delete_with_files
from privacy.models import AuditAction, DestructionKind, DestructionRecord


@dataclass(frozen=True)
class RetentionRule:
    model: str  # "app_label.ModelName"
    date_field: str  # rows older than the period, by this field, are destroyed
    setting: str  # days, from settings
    name: str = ""  # what the rows are, for people (translated lazily)
    # A QuerySet method ``(cutoff) -> rows`` where "older than the cutoff by date_field" is not the whole rule
    # (a client is kept while they still have recent calls).
    select: str = ""


# Calls go with their consents (the evidence for processing), scores, reports and notifications; consent
# records have the calls' period, so none outlives its call; a client's name and contacts go once the client has
# had no call for MIMIC_RETENTION_CLIENTS_DAYS.
RETENTION_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("emotions.Call", "created", "MIMIC_RETENTION_CALLS_DAYS", _("Calls, with their consents")),
    RetentionRule("emotions.Consent", "given_at", "MIMIC_RETENTION_CALLS_DAYS", _("Consent records")),
    RetentionRule(
        "emotions.Client",
        "created",
        "MIMIC_RETENTION_CLIENTS_DAYS",
        _("Clients' names and contacts"),
        select="without_calls_since",
    ),
    RetentionRule("emotions.EmotionSample", "created", "MIMIC_RETENTION_SAMPLES_DAYS", _("Emotion scores of calls")),
    RetentionRule("emotions.Notification", "created", "MIMIC_RETENTION_SAMPLES_DAYS", _("Portal notifications")),
    RetentionRule("reports.Recording", "created", "MIMIC_RETENTION_SAMPLES_DAYS", _("Uploaded recordings")),
    RetentionRule("reports.ReportPdf", "created", "MIMIC_RETENTION_PDFS_DAYS", _("Report PDFs")),
    RetentionRule("reports.CallReport", "created", "MIMIC_RETENTION_REPORTS_DAYS", _("Call reports")),
    RetentionRule("reports.ClientFeedback", "created", "MIMIC_RETENTION_FEEDBACK_DAYS", _("Client feedback")),
    RetentionRule(
        "illustrations.ShareLink", "created", "MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS", _("Illustration share links")
    ),
    RetentionRule(
        "illustrations.Illustration",
        "created",
        "MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS",
        _("Investment illustrations"),
    ),
    RetentionRule("dion.DionMeeting", "created", "MIMIC_RETENTION_MEETINGS_DAYS", _("Dion meetings")),
    # django-axes' logs (accounts.lockout): every failed sign-in, and every sign-in with its address.
    RetentionRule("axes.AccessFailureLog", "attempt_time", "MIMIC_RETENTION_LOGIN_FAILURES_DAYS", _("Failed sign-ins")),
    RetentionRule("axes.AccessLog", "attempt_time", "MIMIC_RETENTION_SIGN_INS_DAYS", _("Sign-ins")),
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


def expired_rows(rule: RetentionRule, model: type, cutoff: datetime):
    """The rows of ``model`` past the rule's period at ``cutoff``."""
    if rule.select:
        return getattr(model._default_manager, rule.select)(cutoff)
    return model._default_manager.filter(**{f"{rule.date_field}__lt": cutoff})


def period_days(rule: RetentionRule) -> int:
    """The rule's period in days from settings; 0 (or less) keeps the rows forever."""
    return int(getattr(settings, rule.setting, 0) or 0)


def purge_expired(now: datetime | None = None, actor: Any = "retention") -> DestructionRecord:
    """Destroy every row past its retention period; always leaves a DestructionRecord and an audit event.

    ``actor`` is "retention" for the daily task, or the user who asked for the purge in the portal.
    """
    now = now or timezone.now()
    counts: Counter = Counter()
    cutoffs: dict[str, str] = {}
    for rule, model in active_rules():
        days = period_days(rule)
        if days <= 0:
            continue
        cutoff = now - timedelta(days=days)
        cutoffs[rule.model] = cutoff.isoformat()
        counts.update(delete_with_files(expired_rows(rule, model, cutoff)))
    actor_label = actor.get_username() if hasattr(actor, "get_username") else str(actor)
    record = DestructionRecord.objects.create(
        at=now, kind=DestructionKind.RETENTION, counts=dict(counts), cutoffs=cutoffs, actor_label=actor_label
    )
    audit(actor, AuditAction.RETENTION_PURGE, record, counts=dict(counts))
    return record


@dataclass(frozen=True)
class RuleStatus:
    """Where one active rule stands now, for the portal's retention page."""

    rule: RetentionRule
    model: type
    days: int  # 0: kept forever
    expired: int  # rows past their period now (what the next purge destroys)
    last_purge: DestructionRecord | None  # the latest retention purge
    last_purged: int | None  # rows of this model it destroyed; None when the rule was not applied then

    @property
    def name(self) -> str:
        return self.rule.name or self.model._meta.verbose_name_plural


def retention_status(now: datetime | None = None) -> list[RuleStatus]:
    """Each active rule with its period, the rows past it now and what the latest purge destroyed."""
    now = now or timezone.now()
    last = DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).order_by("-at").first()
    found = []
    for rule, model in active_rules():
        days = period_days(rule)
        expired = 0
        if days > 0:
            cutoff = now - timedelta(days=days)
            expired = expired_rows(rule, model, cutoff).count()
        last_purged = None
        if last is not None and rule.model in last.cutoffs:
            last_purged = int(last.counts.get(rule.model, 0))
        found.append(RuleStatus(rule, model, days, expired, last, last_purged))
    return found
