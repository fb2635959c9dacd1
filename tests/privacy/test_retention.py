"""Retention: expired rows and files go, fresh ones stay, and every purge leaves a destruction record."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessFailureLog
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from calls.models import Call, EmotionSample
from privacy.models import AuditAction, AuditEvent, DestructionKind, DestructionRecord
from privacy.retention import RETENTION_RULES, active_rules, purge_expired
from privacy.tasks import purge_expired_data
from tests.support.privacy_world import build_world, failed_sign_in

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
    settings.MIMIC_RETENTION_CALLS_DAYS = 730
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
        # The call itself and its consent remain until their own period (MIMIC_RETENTION_CALLS_DAYS).
        assert Call.objects.filter(pk=call.pk).exists()


def test_a_purge_with_nothing_expired_still_leaves_a_record(manager):
    build_world(manager)
    record = purge_expired()
    assert record.total == 0
    assert DestructionRecord.objects.filter(pk=record.pk).exists()


def test_zero_days_keeps_rows_forever(manager, settings):
    settings.MIMIC_RETENTION_SAMPLES_DAYS = 0
    settings.MIMIC_RETENTION_CALLS_DAYS = 0  # or the samples would go with their call
    settings.MIMIC_RETENTION_CLIENTS_DAYS = 0
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
        failed_sign_in("anna", start)
    expectations = [
        (2, "axes.AccessFailureLog", AccessFailureLog, None),
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


def test_calls_consents_and_clients_go_after_their_own_periods(manager, settings):
    from calls.models import Client, Consent

    settings.MIMIC_RETENTION_CALLS_DAYS = 365
    settings.MIMIC_RETENTION_CLIENTS_DAYS = 730
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        world = build_world(manager)
        call, client = world["call"], world["call"].client
        Consent.objects.create(call=call, text_version="1", text_sha256="0" * 64, language="ru", operator="Bank")
    assert Consent.objects.filter(call=call).exists()
    with time_machine.travel(start + timedelta(days=364), tick=False):
        purge_expired()
        assert Call.objects.filter(pk=call.pk).exists()
    with time_machine.travel(start + timedelta(days=366), tick=False):
        record = purge_expired()
        assert record.counts["emotions.Call"] >= 1 and record.counts["emotions.Consent"] >= 1
        assert not Call.objects.filter(pk=call.pk).exists()
        assert not Consent.objects.filter(call_id=call.pk).exists()
        assert Client.objects.filter(pk=client.pk).exists()  # a client is kept for a while after the last call
        # A client with a recent call stays, whenever they were first seen.
        recent = Client.objects.create(display_name="Мария Иванова", manager=manager, created=start)
        Call.objects.create(manager=manager, client=recent)
    with time_machine.travel(start + timedelta(days=731), tick=False):
        record = purge_expired()
        assert record.counts["emotions.Client"] >= 1
        assert not Client.objects.filter(pk=client.pk).exists()
        assert Client.objects.filter(pk=recent.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_without_beat_the_web_process_purges_after_a_request_once_due(client, manager, settings):
    from privacy import housekeeping

    settings.MIMIC_RETENTION_IN_PROCESS_HOURS = 24
    housekeeping.reset()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get("/accounts/login/")
        assert DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).count() == 1
        client.get("/accounts/login/")  # not due again
        assert DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).count() == 1
    housekeeping.reset()
    with time_machine.travel(start + timedelta(hours=25), tick=False):
        client.get("/accounts/login/")
        assert DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).count() == 2
    settings.MIMIC_RETENTION_IN_PROCESS_HOURS = 0  # with beat: never in process
    housekeeping.reset()
    with time_machine.travel(start + timedelta(days=3), tick=False):
        client.get("/accounts/login/")
        assert DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).count() == 2
