"""The audit log (and the destruction records) can be appended to, never changed or deleted."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from privacy.audit import audit
from privacy.models import AuditAction, AuditEvent, DestructionKind, DestructionRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(manager) -> AuditEvent:
    return audit(manager, AuditAction.VIEW_REPORT, manager, format="html")


@pytest.fixture
def outsider_event(outsider) -> AuditEvent:
    return audit(outsider, AuditAction.VIEW_REPORT, None)


def test_audit_records_the_actor_the_object_and_details(event, manager):
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.actor_label, stored.action) == (manager, "anna", "view_report")
    assert (stored.object_type, stored.object_id, stored.details) == (
        "accounts.User",
        str(manager.pk),
        {"format": "html"},
    )


def test_the_orm_refuses_to_update_or_delete_an_event(event):
    event.details = {"format": "forged"}
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="export_report")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.bulk_update([event], ["details"])
    assert AuditEvent.objects.get(pk=event.pk).details == {"format": "html"}


def test_destruction_records_are_append_only_too():
    record = DestructionRecord.objects.create(kind=DestructionKind.RETENTION, counts={"x": 1})
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        DestructionRecord.objects.filter(pk=record.pk).delete()


def test_deleting_a_user_never_rewrites_their_audit_rows(outsider_event):
    # SET_NULL would UPDATE audit rows (and trip the trigger); PROTECT refuses such a deletion up front.
    from django.db.models import PROTECT

    assert AuditEvent._meta.get_field("actor").remote_field.on_delete is PROTECT


@pytest.mark.parametrize("table", ["privacy_auditevent", "privacy_destructionrecord"])
def test_the_database_trigger_refuses_raw_sql_update_and_delete(event, table):
    DestructionRecord.objects.create(kind=DestructionKind.RETENTION, counts={"x": 1})
    for sql in (f"UPDATE {table} SET actor_label = 'forged'", f"DELETE FROM {table}"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE actor_label = 'forged'")
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] >= 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
@pytest.mark.parametrize("table", ["privacy_auditevent", "privacy_destructionrecord"])
def test_the_database_trigger_refuses_truncate(event, table):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own inserts leave deferred checks
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_orm_bypass_through_the_base_manager_is_refused_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            AuditEvent._base_manager.filter(pk=event.pk).update(actor_label="forged")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            AuditEvent._base_manager.filter(pk=event.pk)._raw_delete(connection.alias)
    assert AuditEvent.objects.get(pk=event.pk).actor_label == "anna"
