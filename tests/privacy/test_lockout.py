"""Five failed sign-ins in 15 minutes lock the username for 15 minutes; the lock is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from privacy.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, username: str, password: str):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_fifth_failure_locks_even_the_right_password_out(client, manager):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(4):
            assert _login(client, "anna", "wrong").status_code == 200
        assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED).exists()
        response = _login(client, "ANNA", "wrong")  # usernames are matched case-insensitively
        assert "Too many failed sign-in attempts" in response.content.decode() or response.context["locked"]
        event = AuditEvent.objects.get(action=AuditAction.LOGIN_LOCKED)
        assert event.details["username"] == "anna"
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        response = _login(client, "anna", PASSWORD)
        assert response.status_code == 200 and response.context["locked"]
        assert not _signed_in(client)
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == 302
        assert _signed_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED).count() == 1


def test_failures_spread_over_more_than_15_minutes_do_not_lock(client, manager):
    start = timezone.now()
    for i in range(6):
        with time_machine.travel(start + timedelta(minutes=4 * i), tick=False):
            _login(client, "anna", "wrong")
    with time_machine.travel(start + timedelta(minutes=24), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == 302


def test_a_success_resets_the_count(client, manager):
    for _ in range(4):
        _login(client, "anna", "wrong")
    assert _login(client, "anna", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "anna", "wrong")
    assert _login(client, "anna", PASSWORD).status_code == 302


def test_the_lock_is_per_user(client, manager, other_manager):
    for _ in range(5):
        _login(client, "anna", "wrong")
    assert _login(client, "boris", PASSWORD).status_code == 302


def test_while_locked_further_attempts_neither_extend_the_lock_nor_reach_the_password_check(client, manager):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            _login(client, "anna", "wrong")
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        for _ in range(10):
            _login(client, "anna", "wrong")
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == 302
