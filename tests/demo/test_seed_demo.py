from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from calls.models import Call, EmotionSample
from demo.management.commands.seed_demo import DEMO_PASSWORD
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


def test_demo_logins_work_and_pages_render(client):
    call_command("seed_demo", calls_per_client=1, verbosity=0)
    response = client.post(reverse("accounts:login"), {"username": "anna", "password": DEMO_PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.context["user"].username == "anna"
    page = response.content.decode()
    anna_call = Call.objects.filter(manager__username="anna").first()
    assert anna_call.get_absolute_url() in page
    assert client.get(anna_call.get_absolute_url()).status_code == 200

    client.logout()
    assert client.login(username="svetlana", password=DEMO_PASSWORD)
    assert client.get(reverse("reports:dashboard")).status_code == 200
    # The pilot pages have something to compare: client feedback and an opened, rated illustration.
    assert ClientFeedback.objects.exists() and ShareView.objects.filter(rating__isnull=False).exists()
    for name in ("reports:pilot", "reports:trends", "illustrations:pilot"):
        assert client.get(reverse(name)).status_code == 200, name
    assert client.login(username="admin", password=DEMO_PASSWORD)
    assert client.get("/admin/emotions/call/").status_code == 200


def test_a_wrong_password_is_refused(client):
    call_command("seed_demo", calls_per_client=1, verbosity=0)
    response = client.post(reverse("accounts:login"), {"username": "anna", "password": "nope"})
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
