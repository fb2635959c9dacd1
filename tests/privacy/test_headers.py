"""Security headers, framing by Dion only, cookie flags, CSRF on every POST, and lockout-free basics."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

DION = "https://dion.bank.example"


def _csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_pages_carry_a_strict_csp_without_unsafe_inline(manager_client, call):
    response = manager_client.get(reverse("calls:call_detail", args=[call.id]))
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert any(src.startswith("'nonce-") for src in csp["script-src"])
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_the_nonce_changes_per_request(client):
    first = _csp(client.get(reverse("accounts:login")))["script-src"]
    second = _csp(client.get(reverse("accounts:login")))["script-src"]
    assert first != second


def test_without_embedding_no_one_may_frame_the_app(client, settings):
    settings.MIMIC_EMBEDDING = False
    settings.MIMIC_DION_ORIGINS = [DION]
    response = client.get(reverse("accounts:login"))
    assert _csp(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_with_embedding_only_the_configured_dion_origins_may_frame_it(client, settings):
    settings.MIMIC_EMBEDDING = True
    settings.MIMIC_DION_ORIGINS = [DION, "https://dion2.bank.example"]
    response = client.get(reverse("accounts:login"))
    assert _csp(response)["frame-ancestors"] == ["'self'", DION, "https://dion2.bank.example"]
    # XFO cannot list origins and would contradict the CSP, so it is dropped where framing is allowed.
    assert "X-Frame-Options" not in response
    admin = client.get("/admin/login/")
    assert _csp(admin)["frame-ancestors"] == ["'none'"] and admin["X-Frame-Options"] == "DENY"


def test_embedding_without_origins_still_forbids_framing(client, settings):
    settings.MIMIC_EMBEDDING = True
    settings.MIMIC_DION_ORIGINS = []
    response = client.get(reverse("accounts:login"))
    assert _csp(response)["frame-ancestors"] == ["'none'"] and response["X-Frame-Options"] == "DENY"


def _login_cookies(settings_overrides, settings, manager):
    for key, value in settings_overrides.items():
        setattr(settings, key, value)
    http = HttpClient()
    http.get(reverse("accounts:login"))
    response = http.post(reverse("accounts:login"), {"username": manager.username, "password": PASSWORD})
    assert response.status_code == 302
    return response.cookies


def test_embedded_cookies_are_secure_samesite_none_and_partitioned(settings, manager):
    cookies = _login_cookies(
        {
            "MIMIC_EMBEDDING": True,
            "MIMIC_COOKIE_PARTITIONED": True,
            "SESSION_COOKIE_SECURE": True,
            "CSRF_COOKIE_SECURE": True,
            "SESSION_COOKIE_SAMESITE": "None",
            "CSRF_COOKIE_SAMESITE": "None",
        },
        settings,
        manager,
    )
    for name in ("sessionid", "csrftoken"):
        header = cookies[name].OutputString()
        assert "Secure" in header and "SameSite=None" in header and "Partitioned" in header, header
    assert "HttpOnly" in cookies["sessionid"].OutputString()


def test_plain_cookies_are_lax_and_not_partitioned(settings, manager):
    cookies = _login_cookies({"MIMIC_EMBEDDING": False, "MIMIC_COOKIE_PARTITIONED": False}, settings, manager)
    header = cookies["sessionid"].OutputString()
    assert "SameSite=Lax" in header and "Partitioned" not in header and "HttpOnly" in header


def test_the_embedding_settings_follow_the_env_switch():
    import subprocess
    import sys

    code = (
        "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings';django.setup();"
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SAMESITE, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.MIMIC_COOKIE_PARTITIONED,"
        " s.MIMIC_DION_ORIGINS)"
    )
    env = {"MIMIC_EMBEDDING": "1", "MIMIC_DION_ORIGINS": DION, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None", "True", "True", "True", f"['{DION}']"]
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["Lax", "False", "False", "False", "[]"]


# --- CSRF on every POST ---------------------------------------------------------------------------

# Endpoints that authenticate by something other than the session cookie (signed token, webhook HMAC).
# The Dion relay signs its webhook; the client's page reports looks at an illustration with the share link's
# secret token in the URL and no cookie at all (sendBeacon), so there is no session a forged form could ride.
CSRF_EXEMPT_BY_DESIGN = {"dion:webhook", "illustrations:share_look"}


def _all_patterns(patterns=None, prefix="", namespace=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _all_patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), ":".join(filter(None, [namespace, entry.name or ""]))


def _concrete(route: str) -> str | None:
    path = re.sub(r"<uuid:\w+>", "00000000-0000-4000-8000-000000000000", route)
    path = re.sub(r"<(?:str|slug):\w+>", "token", path)
    path = re.sub(r"<path:\w+>", "x", path)
    path = re.sub(r"<int:\w+>", "1", path)
    return None if any(c in path for c in "^$()[]<>") else "/" + path


def _post_routes() -> list[tuple[str, str]]:
    return [
        (path, name)
        for route, name in _all_patterns()
        if (path := _concrete(route)) and name not in CSRF_EXEMPT_BY_DESIGN
    ]


@pytest.fixture
def quick_user(db):
    from accounts.models import Role, User

    return User.objects.create(username="csrf-probe", role=Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.mark.parametrize(("path", "name"), _post_routes())
def test_every_post_without_a_csrf_token_is_refused(path, name, quick_user):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(quick_user)  # a superuser, so no view turns the request away before CSRF would
    response = http.post(path, {"x": "1"})
    # 403 from CsrfViewMiddleware; a 405 is fine too (the view accepts no POST at all), never a 2xx/3xx.
    assert response.status_code in (403, 405), f"{name} {path} answered {response.status_code} to a POST without token"
    if response.status_code == 403:
        assert b"CSRF" in response.content or response.reason_phrase == "Forbidden"


@pytest.mark.parametrize("name", ["accounts:login", "accounts:logout", "set_language"])
def test_representative_posts_without_token_get_403(name, manager):
    http = HttpClient(enforce_csrf_checks=True)
    if name != "accounts:login":
        http.force_login(manager)
    data = {"username": manager.username, "password": PASSWORD, "language": "en"}
    assert http.post(reverse(name), data).status_code == 403
