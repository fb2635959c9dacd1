"""The admin shows decrypted client names and can change and delete calls and samples: all of it is audited."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from calls.models import CallStatus, EmotionSample
from privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)  # both factors (tests/conftest.py)
    return client


def _events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("at"))


def test_viewing_the_client_list_and_a_client_is_audited(admin, admin_user, client_of_manager):
    page = admin.get(reverse("admin:emotions_client_changelist") + "?q=xyz")
    assert page.status_code == 200
    admin.get(reverse("admin:emotions_client_change", args=[client_of_manager.pk]))
    listed, opened = _events(AuditAction.ADMIN_VIEWED)
    assert listed.actor == admin_user and listed.object_type == "emotions.Client" and listed.details["query"] == "q=xyz"
    assert opened.object_id == str(client_of_manager.pk)
    assert "Иван Петров" not in str(listed.details) + str(opened.details)  # the audit names no client


def test_editing_and_deleting_a_call_in_the_admin_is_audited(admin, admin_user, call):
    url = reverse("admin:emotions_call_change", args=[call.pk])
    form = admin.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime):  # the admin's split date and time inputs
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.date().isoformat(), local.time().strftime("%H:%M:%S")
        elif value is not None:
            data[name] = value
    data["status"] = CallStatus.ENDED
    response = admin.post(url, data)
    assert response.status_code == 302, getattr(response, "context", None) and response.context["adminform"].form.errors
    (changed,) = _events(AuditAction.ADMIN_CHANGED)
    assert changed.actor == admin_user and changed.object_id == str(call.pk) and "status" in changed.details["fields"]
    admin.post(reverse("admin:emotions_call_delete", args=[call.pk]), {"post": "yes"})
    (deleted,) = _events(AuditAction.ADMIN_DELETED)
    assert deleted.object_type == "emotions.Call" and deleted.object_id == str(call.pk)


def test_bulk_deleting_samples_in_the_admin_is_audited(admin, call):
    samples = [EmotionSample.objects.create(call=call, seq=i, offset_ms=i * 500, face_found=False) for i in range(3)]
    data = {"action": "delete_selected", "_selected_action": [s.pk for s in samples], "post": "yes"}
    admin.post(reverse("admin:emotions_emotionsample_changelist"), data)
    assert not EmotionSample.objects.exists()
    (deleted,) = _events(AuditAction.ADMIN_DELETED)
    assert deleted.details["count"] == 3 and sorted(deleted.details["ids"]) == sorted(str(s.pk) for s in samples)
