"""Retention: expired rows and files go, fresh ones stay, and every purge leaves a destruction record."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from calls.models import Call, EmotionSample
from privacy.models import AuditAction, AuditEvent, DestructionKind, DestructionRecord, LoginFailure
from privacy.retention import RETENTION_RULES, active_rules, purge_expired
from privacy.tasks import purge_expired_data
from tests.support.privacy_world import build_world

pytestmark = pytest.mark.django_db


def test_every_rule_names_a_setting_with_a_positive_default():
    for rule in RETENTION_RULES:
        assert getattr(settings, rule.setting) > 0, rule


def test_the_beat_schedule_runs_the_purge():
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "privacy.tasks.purge_expired_data" in entries


def test_rules_cover_the_installed_models_that_exist():
    labels = {rule.model for rule, _ in active_rules()}
    assert "emotions.EmotionSample" in labels and "reports.CallReport" in labels
    for label in ("reports.ReportPdf", "reports.ClientFeedback", "illustrations.ShareLink"):
        if apps.is_installed(label.split(".")[0]):
            try:
                apps.get_model(label)
            except LookupError:
                continue
            assert label in labels


def test_samples_go_after_90_days_and_reports_after_365(manager, settings, media, django_capture_on_commit_callbacks):
    settings.MIMIC_RETENTION_SAMPLES_DAYS = 90
    settings.MIMIC_RETENTION_REPORTS_DAYS = 365
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        world = build_world(manager, with_file=True)
    call = world["call"]
    samples = EmotionSample.objects.filter(call=call).count()
    assert samples > 0
    recording_file = media / world["recording"].file.name
    assert recording_file.exists()

    with time_machine.travel(start + timedelta(days=89), tick=False):
        record = purge_expired()
        assert record.counts.get("emotions.EmotionSample", 0) == 0
        assert EmotionSample.objects.filter(call=call).count() == samples

    with time_machine.travel(start + timedelta(days=91), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            purge_expired_data.apply()  # the task itself, run here (no broker needed)
        record = DestructionRecord.objects.order_by("-at").first()
        assert record.kind == DestructionKind.RETENTION
        assert record.at == start + timedelta(days=91)
        assert record.counts["emotions.EmotionSample"] == samples
        assert record.counts["files"] == 1  # the recording's file
        assert not EmotionSample.objects.filter(call=call).exists()
        assert not recording_file.exists()
        assert call.report.pk  # reports are kept longer
        assert Call.objects.filter(pk=call.pk).exists()
        event = AuditEvent.objects.filter(action=AuditAction.RETENTION_PURGE, object_id=str(record.pk)).get()
        assert event.details["counts"] == record.counts

    with time_machine.travel(start + timedelta(days=366), tick=False):
        record = purge_expired()
        assert record.counts["reports.CallReport"] == 1
        assert not apps.get_model("reports.CallReport").objects.filter(call=call).exists()
        # The call itself and its consent remain (evidence; erased with the client).
        assert Call.objects.filter(pk=call.pk).exists()


def test_a_purge_with_nothing_expired_still_leaves_a_record(manager):
    build_world(manager)
    record = purge_expired()
    assert record.total == 0
    assert DestructionRecord.objects.filter(pk=record.pk).exists()


def test_zero_days_keeps_rows_forever(manager, settings):
    settings.MIMIC_RETENTION_SAMPLES_DAYS = 0
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        world = build_world(manager)
    with time_machine.travel(start + timedelta(days=3000), tick=False):
        purge_expired()
    assert EmotionSample.objects.filter(call=world["call"]).exists()


def test_feedback_links_pdfs_and_login_failures_follow_their_own_settings(manager, settings):
    settings.MIMIC_RETENTION_PDFS_DAYS = 10
    settings.MIMIC_RETENTION_FEEDBACK_DAYS = 20
    settings.MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS = 30
    settings.MIMIC_RETENTION_LOGIN_FAILURES_DAYS = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        world = build_world(manager)
        LoginFailure.objects.create(username="anna")
    expectations = [
        (2, "privacy.LoginFailure", LoginFailure, None),
        (11, "reports.ReportPdf", type(world.get("reportpdf")), "reportpdf"),
        (21, "reports.ClientFeedback", type(world.get("clientfeedback")), "clientfeedback"),
        (31, "illustrations.ShareLink", type(world.get("sharelink")), "sharelink"),
    ]
    for days, label, model, key in expectations:
        if key is not None and key not in world:
            continue
        with time_machine.travel(start + timedelta(days=days), tick=False):
            record = purge_expired()
        assert record.counts.get(label) == 1, (label, record.counts)
        assert not model.objects.exists()
    assert EmotionSample.objects.filter(call=world["call"]).exists()
