from __future__ import annotations

import base64
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import totp

from accounts.models import User
from calls.models import Call, EmotionSample
from demo.management.commands.seed_demo import DEMO_PASSWORD, demo_totp_secret
from illustrations.models import ShareView
from reports.models import CallReport, ClientFeedback

pytestmark = pytest.mark.django_db


def test_demo_data_is_complete_and_idempotent():
    call_command("seed_demo", calls_per_client=2, verbosity=0)
    calls = Call.objects.count()
    samples = EmotionSample.objects.count()
    call_command("seed_demo", calls_per_client=2, verbosity=0)
    assert Call.objects.count() == calls == 12
    assert EmotionSample.objects.count() == samples > 12 * 300
    assert CallReport.objects.count() == calls
    assert set(User.objects.values_list("username", flat=True)) >= {"anna", "boris", "svetlana", "admin"}


def _sign_in(client, username: str, **kwargs):
    """The demo password, then the code computed from the printed TOTP secret, as a newcomer's app would."""
    client.post(reverse("accounts:login"), {"username": username, "password": DEMO_PASSWORD})
    secret = base64.b32decode(demo_totp_secret(username))
    code = f"{totp(secret):06d}"
    return client.post(reverse("accounts:two_factor"), {"token": code, "next": "/calls/"}, **kwargs)


def test_demo_logins_work_and_pages_render(client):
    out = io.StringIO()
    call_command("seed_demo", calls_per_client=1, stdout=out)
    for username in ("anna", "boris", "svetlana", "admin"):
        assert f"TOTP secret {demo_totp_secret(username)}" in out.getvalue()
    assert DEMO_PASSWORD in out.getvalue()
    response = _sign_in(client, "anna", follow=True)
    assert response.status_code == 200
    assert response.context["user"].username == "anna"
    page = response.content.decode()
    anna_call = Call.objects.filter(manager__username="anna").first()
    assert anna_call.get_absolute_url() in page
    assert client.get(anna_call.get_absolute_url()).status_code == 200

    client.logout()
    _sign_in(client, "svetlana")
    assert client.get(reverse("reports:dashboard")).status_code == 200
    # The pilot pages have something to compare: client feedback and an opened, rated illustration.
    assert ClientFeedback.objects.exists() and ShareView.objects.filter(rating__isnull=False).exists()
    for name in ("reports:pilot", "reports:trends", "illustrations:pilot"):
        assert client.get(reverse(name)).status_code == 200, name
    client.logout()
    _sign_in(client, "admin")
    assert client.get("/admin/emotions/call/").status_code == 200


def test_a_wrong_password_is_refused(client):
    call_command("seed_demo", calls_per_client=1, verbosity=0)
    response = client.post(reverse("accounts:login"), {"username": "anna", "password": "nope"})
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


def test_demo_code_prints_the_code_the_sign_in_accepts(client):
    call_command("seed_demo", calls_per_client=1, verbosity=0)
    out = io.StringIO()
    call_command("demo_code", "svetlana", stdout=out)
    client.post(reverse("accounts:login"), {"username": "svetlana", "password": DEMO_PASSWORD})
    response = client.post(reverse("accounts:two_factor"), {"token": out.getvalue().strip()})
    assert response.status_code == 302 and client.get(reverse("reports:dashboard")).status_code == 200
