"""One lockout for every door (django-axes on the backend): five failures in a row, each within 15 minutes of
the one before, lock the username for 15 minutes, at /accounts/login/ and /admin/login/ alike; the lock is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from privacy.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD
from tests.support.twofactor import current_code, totp_device

pytestmark = pytest.mark.django_db

LOCKED = 429


def _login(client, username: str, password: str):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def _admin_login(client, username: str, password: str, code: str = ""):
    # The admin's own form (django-otp's OTPAdminSite) names the device and takes its code with the password.
    device = TOTPDevice.objects.filter(user__username=username).first()
    data = {"username": username, "password": password, "otp_token": code, "next": "/admin/"}
    if device is not None:
        data["otp_device"] = device.persistent_id
    return client.post(reverse("admin:login"), data)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_fifth_failure_locks_even_the_right_password_out(client, manager):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(4):
            assert _login(client, "anna", "wrong").status_code == 200
        assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED).exists()
        response = _login(client, "ANNA", "wrong")  # usernames are matched case-insensitively
        assert response.status_code == LOCKED and response.context["locked"]
        event = AuditEvent.objects.get(action=AuditAction.LOGIN_LOCKED)
        assert event.details["username"] == "anna"
        assert event.details["ip"] == "127.0.0.1"
        assert event.details["until"] == (start + timedelta(minutes=15)).isoformat()
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        response = _login(client, "anna", PASSWORD)
        assert response.status_code == LOCKED and response.context["locked"]
        assert not _signed_in(client)
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == 302
        assert _signed_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED).count() == 1


def test_the_locked_page_is_the_sign_in_page_in_russian(client, manager):
    for _ in range(5):
        response = _login(client, "anna", "wrong")
    assert response.status_code == LOCKED
    assert "Слишком много неудачных попыток входа" in response.content.decode()


def test_failures_more_than_15_minutes_apart_do_not_lock(client, manager):
    # Axes forgets a username's failures after 15 quiet minutes, so a slow trickle never adds up.
    start = timezone.now()
    for i in range(6):
        with time_machine.travel(start + timedelta(minutes=16 * i), tick=False):
            assert _login(client, "anna", "wrong").status_code == 200
    with time_machine.travel(start + timedelta(minutes=16 * 5 + 1), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == 302


def test_failures_within_15_minutes_of_each_other_lock_even_over_a_longer_span(client, manager):
    start = timezone.now()
    for i in range(5):
        with time_machine.travel(start + timedelta(minutes=4 * i), tick=False):
            _login(client, "anna", "wrong")
    with time_machine.travel(start + timedelta(minutes=17), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == LOCKED


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
            assert _login(client, "anna", PASSWORD).status_code == LOCKED  # the right password changes nothing
    assert AccessAttempt.objects.get(username="anna").failures_since_start == 5
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert _login(client, "anna", PASSWORD).status_code == 302


def test_five_failures_at_the_sign_in_page_lock_the_admin_door_too(client, admin_user):
    for _ in range(5):
        _login(client, "root", "wrong")
    response = _admin_login(client, "root", PASSWORD, current_code(admin_user))
    assert response.status_code == LOCKED
    assert not _signed_in(client)


def test_thirty_wrong_passwords_at_the_admin_door_are_counted_and_locked(client, admin_user):
    totp_device(admin_user)
    statuses = [_admin_login(client, "root", f"guess-{i}").status_code for i in range(30)]
    assert statuses[:4] == [200] * 4  # the admin's own form, with its error
    assert statuses[4:] == [LOCKED] * 26
    assert AccessAttempt.objects.get(username="root").failures_since_start == 5
    assert AccessFailureLog.objects.filter(username="root", path_info="/admin/login/").count() == 5
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED, details__username="root").count() == 1
    # ... and the lock holds at the other door, for the right password.
    assert _login(client, "root", PASSWORD).status_code == LOCKED
    assert not _signed_in(client)


def test_the_admin_door_wants_the_second_factor_as_well(client, admin_user):
    totp_device(admin_user)
    response = _admin_login(client, "root", PASSWORD)  # no code
    assert response.status_code == 200 and not _signed_in(client)
    response = _admin_login(client, "root", PASSWORD, current_code(admin_user))
    assert response.status_code == 302 and _signed_in(client)
    assert client.get("/admin/").status_code == 200
