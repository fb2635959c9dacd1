"""Right of access (JSON export) and erasure per client, as audited Django admin actions."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.urls import reverse

from calls.models import Call, Client, EmotionSample
from privacy.models import AuditAction, AuditEvent, DestructionKind, DestructionRecord
from tests.support.privacy_world import build_world

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:emotions_client_changelist"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _rows_about(world) -> dict[str, int]:
    """How many rows of each kind in ``world`` still exist."""
    counts = {}
    for obj in world.values():
        if hasattr(obj, "_meta"):
            counts[obj._meta.label] = type(obj)._base_manager.filter(pk=obj.pk).count()
    return counts


def test_export_holds_everything_about_one_client_and_nothing_about_another(
    admin_client, admin_user, manager, other_manager
):
    mine = build_world(manager, name="Мария Иванова")
    build_world(other_manager, name="Пётр Сидоров")
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "export_client_data", "_selected_action": [str(mine["client"].pk)]}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    export = json.loads(response.content)["clients"][0]
    data = export["data"]
    assert export["client_id"] == str(mine["client"].pk)
    assert data["emotions.Client"][0]["display_name"] == "Мария Иванова"  # decrypted for the data subject
    assert data["emotions.Client"][0]["email"] == "maria@example.ru"
    assert [row["id"] for row in data["emotions.Call"]] == [str(mine["call"].pk)]
    assert len(data["emotions.EmotionSample"]) == EmotionSample.objects.filter(call=mine["call"]).count()
    for key in ("callreport", "reportpdf", "clientfeedback", "recording", "consent", "dionmeeting"):
        if key in mine:
            label = mine[key]._meta.label
            assert [str(row.get("id")) for row in data[label]] == [str(mine[key].pk)], label
    assert "Пётр Сидоров" not in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.CLIENT_EXPORT, object_id=str(mine["client"].pk))
    assert event.actor == admin_user


def test_erasure_asks_for_confirmation_first(admin_client, manager):
    world = build_world(manager)
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "erase_client_data", "_selected_action": [str(world["client"].pk)]}
    )
    assert response.status_code == 200
    assert b"confirm_erasure" in response.content
    assert Client.objects.filter(pk=world["client"].pk).exists()


def test_erasure_deletes_every_row_and_file_and_leaves_a_tombstone(
    admin_client, admin_user, manager, other_manager, media, django_capture_on_commit_callbacks
):
    world = build_world(manager, with_file=True)
    kept = build_world(other_manager, name="Пётр Сидоров")
    audit_before = AuditEvent.objects.count()
    file_path = media / world["recording"].file.name
    assert file_path.exists()
    client_id = str(world["client"].pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST),
            {"action": "erase_client_data", "_selected_action": [client_id], "confirm_erasure": "yes"},
        )
    assert response.status_code == 302

    remaining = {label: n for label, n in _rows_about(world).items() if n and label != "accounts.User"}
    # Illustrations name the client only by a free label and belong to the manager, not the client record.
    remaining = {label: n for label, n in remaining.items() if not label.startswith("illustrations.")}
    assert remaining == {}
    assert not file_path.exists()
    assert all(n == 1 for n in _rows_about(kept).values())  # the other client is untouched

    tombstone = AuditEvent.objects.get(action=AuditAction.CLIENT_ERASED)
    assert (tombstone.object_type, tombstone.object_id, tombstone.actor) == ("emotions.Client", client_id, admin_user)
    record = DestructionRecord.objects.get(pk=tombstone.details["destruction_record"])
    assert record.kind == DestructionKind.ERASURE and record.subject == client_id
    assert record.counts["emotions.Client"] == 1 and record.counts["emotions.Call"] == 1
    assert record.counts["emotions.EmotionSample"] == 6 and record.counts["files"] == 1
    assert "Мария" not in json.dumps(tombstone.details, ensure_ascii=False)
    assert AuditEvent.objects.count() == audit_before + 1  # earlier audit rows survive


def test_the_admin_delete_button_erases_with_a_tombstone_and_bulk_delete_is_gone(
    admin_client, admin_user, manager, media, django_capture_on_commit_callbacks
):
    world = build_world(manager, with_file=True)
    client_id = str(world["client"].pk)
    changelist = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="delete_selected"' not in changelist and 'value="erase_client_data"' in changelist

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:emotions_client_delete", args=[client_id]), {"post": "yes"})
    assert response.status_code == 302
    assert not Client.objects.filter(pk=client_id).exists()
    assert not EmotionSample.objects.filter(call__client_id=client_id).exists()
    assert not (media / world["recording"].file.name).exists()
    tombstone = AuditEvent.objects.get(action=AuditAction.CLIENT_ERASED)
    assert (tombstone.object_id, tombstone.actor) == (client_id, admin_user)


def test_a_manager_cannot_run_the_admin_actions(client, manager):
    world = build_world(manager)
    client.force_login(manager)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "erase_client_data", "_selected_action": [str(world["client"].pk)], "confirm_erasure": "yes"},
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Call.objects.filter(pk=world["call"].pk).exists()


def test_erasure_covers_models_of_every_installed_app_that_points_at_a_client():
    # Every model with a relation chain to Client is reached by privacy.erasure.related_objects;
    # this guards against a new model that points at a client through a many-to-many (not followed).
    for model in apps.get_models():
        for field in model._meta.local_many_to_many:
            assert field.related_model not in (Client, Call), f"{model._meta.label}.{field.name}"
