"""The audit log's hash chain: every event chained to the one before, edits and deletions found by
``manage.py verify_audit``, appends serialised under concurrent writers; and the app's database role."""

from __future__ import annotations

import threading
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from privacy import appendonly
from privacy.audit import audit
from privacy.chain import GENESIS
from privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def verify_audit(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=out)
    return out.getvalue()


def as_the_owner_past_the_triggers(sql: str, params=()) -> None:
    """What only someone above the application's role can do: write with the triggers out of the way."""
    vendor = connection.vendor
    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            for statement in appendonly.drop_sql(vendor):
                cursor.execute(statement)
        cursor.execute(sql, params)
        if vendor != "postgresql":
            for statement in appendonly.create_sql(vendor):
                cursor.execute(statement)


@pytest.fixture
def events(manager) -> list[AuditEvent]:
    return [audit(manager, AuditAction.VIEW_REPORT, manager, format="html", n=n) for n in range(5)]


def test_each_event_is_chained_to_the_one_before(events):
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert "audit chain intact: 5 events; head 5:" + events[-1].hash in verify_audit()


def test_an_edited_event_is_found(events):
    as_the_owner_past_the_triggers(
        "UPDATE privacy_auditevent SET actor_label = %s WHERE id = %s", ["someone-else", events[2].pk.hex]
        if connection.vendor == "sqlite" else ["someone-else", str(events[2].pk)]
    )  # fmt: skip
    with pytest.raises(CommandError, match="audit chain broken"):
        verify_audit()


def test_a_deleted_event_is_found(events, capsys):
    pk = events[1].pk.hex if connection.vendor == "sqlite" else str(events[1].pk)
    as_the_owner_past_the_triggers("DELETE FROM privacy_auditevent WHERE id = %s", [pk])
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=out, stderr=out)
    assert "seq 3: expected seq 2" in out.getvalue()


def test_deleting_the_newest_events_is_found_against_a_recorded_head(events):
    head = verify_audit().rsplit("head ", 1)[1].strip()
    pk = events[-1].pk.hex if connection.vendor == "sqlite" else str(events[-1].pk)
    as_the_owner_past_the_triggers("DELETE FROM privacy_auditevent WHERE id = %s", [pk])
    assert "intact: 4 events" in verify_audit()  # the chain alone cannot tell...
    with pytest.raises(CommandError):
        verify_audit("--head", head)  # ...the head recorded elsewhere can


def test_an_empty_log_verifies():
    assert "intact: 0 events" in verify_audit()


@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_append_one_unbroken_chain(manager):
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(label: str) -> None:
        try:
            start.wait()
            for n in range(25):
                audit(label, AuditAction.VIEW_REPORT, None, n=n)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(f"writer-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 51))
    assert "intact: 50 events" in verify_audit()


# --- the application's role (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="roles exist on PostgreSQL only")
def test_the_app_role_can_append_but_never_change_truncate_or_disarm_the_log(events):
    role = f"mimic_app_test_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER")
    try:
        call_command("grant_app_role", role, stdout=StringIO())
        refused = [
            "UPDATE privacy_auditevent SET actor_label = 'forged'",
            "DELETE FROM privacy_auditevent",
            "TRUNCATE privacy_auditevent CASCADE",
            "ALTER TABLE privacy_auditevent DISABLE TRIGGER ALL",
            "DROP TRIGGER privacy_auditevent_append_only ON privacy_auditevent",
            "SET session_replication_role = replica",
            "TRUNCATE privacy_destructionrecord",
        ]
        for sql in refused:
            with pytest.raises(DatabaseError, match="permission denied|must be owner|append-only"):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL ROLE {role}")
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute(sql)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {role}")
            # The app's own work: reads everything, appends to the log, writes its other tables.
            audit("client-link", AuditAction.CONSENT_GIVEN, None)
            cursor.execute("UPDATE emotions_call SET dion_meeting_url = '' WHERE false")
            cursor.execute("SELECT count(*) FROM privacy_auditevent")
            assert cursor.fetchone()[0] == 6
            cursor.execute("RESET ROLE")  # SET LOCAL outlives a released savepoint: back to the test's role
        assert "intact: 6 events" in verify_audit()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="roles exist on PostgreSQL only")
def test_grant_app_role_refuses_a_superuser():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        me = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="superuser|owns"):
        call_command("grant_app_role", me, stdout=StringIO())
