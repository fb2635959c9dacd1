"""Production settings pass Django's deployment checks; DEBUG=False error pages leak nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.http import HttpResponse
from django.test import Client as HttpClient
from django.urls import path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "prod-" + "k3y-" * 20


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MIMIC_", "SECURE_", "DEBUG", "SECRET_KEY"))}
    base.pop("FIELD_ENCRYPTION_KEYS", None)
    # The embedded shape unless a test names a database: a real one needs real secrets (test_secrets.py).
    base.pop("DATABASE_URL", None)
    base.pop("REDIS_URL", None)
    base.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by browser tests in this process; never in production
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "MIMIC_PRODUCTION": "1",
    "SECRET_KEY": SECRET,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mimic.bank.example",
    "MIMIC_OPERATOR": "АО «Банк», 101000, Москва, ул. Примерная, 1",
}


def test_production_settings_pass_check_deploy_at_warning_level():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_with_embedding_for_dion_passes_too():
    env = {**PRODUCTION, "MIMIC_EMBEDDING": "1", "MIMIC_DION_ORIGINS": "https://dion.bank.example"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_embedded_defaults_would_fail_the_deploy_check():
    # Proves the check above is not vacuous: plain-http embedded mode is not fit for production.
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout  # no SSL redirect


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "MIMIC_OPERATOR"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


# --- DEBUG=False error pages -----------------------------------------------------------------------

SECRET_MARKER = "very-secret-value-in-local-variable"


def _boom(request):
    token = SECRET_MARKER  # noqa: F841 - a local that a debug page would print
    raise RuntimeError("internal detail: db password is hunter2")


def _ok(request):
    return HttpResponse("ok")


urlpatterns = [path("boom/", _boom), path("ok/", _ok)]


@pytest.mark.urls("tests.privacy.test_deploy")
def test_a_500_page_shows_no_traceback_or_settings(settings, db):
    settings.DEBUG = False
    http = HttpClient(raise_request_exception=False)
    response = http.get("/boom/")
    body = response.content.decode()
    assert response.status_code == 500
    for leak in ("Traceback", "hunter2", SECRET_MARKER, "RuntimeError", "SECRET_KEY", "settings", "_boom"):
        assert leak not in body


@pytest.mark.urls("tests.privacy.test_deploy")
def test_a_404_page_does_not_list_the_urlconf(settings, db):
    settings.DEBUG = False
    response = HttpClient().get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    for leak in ("boom/", "ok/", "URLconf", "Using the URLconf", "tests.privacy.test_deploy"):
        assert leak not in body


def test_the_real_urlconf_404_leaks_no_routes(settings, client, db):
    settings.DEBUG = False
    body = client.get("/calls/not-a-uuid/").content.decode()
    assert "calls/<uuid" not in body and "admin/" not in body and "Traceback" not in body
