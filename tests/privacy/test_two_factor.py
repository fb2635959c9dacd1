"""Two factors (django-otp): every role enrols a TOTP device at first sign-in (managers unless switched off),
with a QR code drawn on the server and one-time recovery codes; nothing opens before the code is given."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from lib.qr import qr_svg
from tests.conftest import PASSWORD, force_login_password_only
from tests.support.twofactor import code_for, current_code, totp_device

pytestmark = pytest.mark.django_db


def _sign_in(client, username: str, next_url: str = "/calls/"):
    return client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD, "next": next_url})


def _pending_code(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    return code_for(device)


@pytest.mark.parametrize("role", ["supervisor", "admin_user", "manager"])
def test_the_first_sign_in_of_every_role_enrols_a_totp_device_before_anything_opens(client, role, request):
    user = request.getfixturevalue(role)
    response = _sign_in(client, user.username)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:enrol"))
    # Signed in by password only: every page sends the user back to the second factor.
    assert client.get("/calls/")["Location"].startswith(reverse("accounts:enrol"))
    assert client.get("/reports/dashboard/")["Location"].startswith(reverse("accounts:enrol"))
    page = client.get(response["Location"]).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page  # the QR code is drawn here, no CDN
    assert 'class="mainnav"' not in page  # no way on until the second factor is given
    assert "<script" not in page.split("<main", 1)[-1]
    wrong = client.post(response["Location"], {"token": "000000"})
    assert wrong.status_code == 200 and "Неверный или просроченный код" in wrong.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):  # a failure blocks the next try for 1 s
        done = client.post(response["Location"], {"token": _pending_code(user), "next": "/calls/"})
    assert done["Location"].startswith(reverse("accounts:recovery_codes"))
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", codes_page)
    assert len(codes) == 10 and set(codes) == set(StaticToken.objects.values_list("token", flat=True))
    assert client.get(done["Location"]).status_code == 302  # shown once
    assert client.get("/calls/").status_code == 200
    assert TOTPDevice.objects.get(user=user).confirmed


def test_an_enrolled_user_gives_a_real_totp_code_after_the_password(client, supervisor):
    device = totp_device(supervisor)
    response = _sign_in(client, "svetlana")
    assert response["Location"].startswith(reverse("accounts:two_factor"))
    assert client.get("/reports/dashboard/")["Location"].startswith(reverse("accounts:two_factor"))
    assert client.post(response["Location"], {"token": "123456"}).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):  # a failure blocks the next try for 1 s
        code = f"{totp(device.bin_key):06d}"  # what the phone shows now
        done = client.post(response["Location"], {"token": code, "next": "/calls/"})
    assert done.status_code == 302 and done["Location"] == "/calls/"
    assert client.get("/calls/").status_code == 200


def test_right_after_a_wrong_code_even_the_right_one_waits(client, supervisor):
    device = totp_device(supervisor)
    _sign_in(client, "svetlana")
    client.post(reverse("accounts:two_factor"), {"token": "000000"})
    assert client.post(reverse("accounts:two_factor"), {"token": code_for(device)}).status_code == 200


def test_a_totp_code_works_once(client, supervisor):
    code = current_code(supervisor)
    _sign_in(client, "svetlana")
    assert client.post(reverse("accounts:two_factor"), {"token": code}).status_code == 302
    client.logout()
    _sign_in(client, "svetlana")
    assert client.post(reverse("accounts:two_factor"), {"token": code}).status_code == 200  # replayed: refused


def test_a_recovery_code_signs_in_once(client, supervisor):
    from accounts.twofactor import new_recovery_codes

    totp_device(supervisor)
    code = new_recovery_codes(supervisor)[0]
    _sign_in(client, "svetlana")
    assert client.post(reverse("accounts:two_factor"), {"token": code}).status_code == 302
    client.logout()
    _sign_in(client, "svetlana")
    assert client.post(reverse("accounts:two_factor"), {"token": code}).status_code == 200


def test_managers_can_be_let_off_the_second_factor_only_by_the_setting(client, manager, supervisor, settings):
    settings.MIMIC_MANAGER_2FA = False
    assert _sign_in(client, "anna")["Location"] == "/calls/"
    assert client.get("/calls/").status_code == 200
    client.logout()
    # Supervisors (and admins) still need it.
    assert _sign_in(client, "svetlana")["Location"].startswith(reverse("accounts:enrol"))


def test_the_admin_is_closed_to_a_session_without_the_second_factor(client, admin_user):
    totp_device(admin_user)
    force_login_password_only(client, admin_user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:two_factor"))
    assert client.get("/admin/calls/client/").status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_from_a_session_without_the_second_factor_is_anonymous(manager):
    from channels.db import database_sync_to_async
    from django.contrib.auth.models import AnonymousUser

    from accounts.middleware import TwoFactorScopeMiddleware

    seen = {}

    async def inner(scope, receive, send):
        seen["user"] = scope["user"]

    device = await database_sync_to_async(totp_device)(manager)
    middleware = TwoFactorScopeMiddleware(inner)
    await middleware({"type": "websocket", "user": manager, "session": {}}, None, None)
    assert isinstance(seen["user"], AnonymousUser)
    session = {"otp_device_id": device.persistent_id}
    await middleware({"type": "websocket", "user": manager, "session": session}, None, None)
    assert seen["user"] == manager


def test_the_qr_code_is_an_svg_drawn_here():
    svg = qr_svg("otpauth://totp/Mimic:anna?secret=GEZDGNBVGY3TQOJQ&issuer=Mimic")
    assert svg.startswith(b"<svg") and b"<path" in svg and b"http" not in svg.split(b"xmlns", 1)[0]
