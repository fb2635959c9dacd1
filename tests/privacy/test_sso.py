"""Corporate sign-in (OpenID Connect through mozilla-django-oidc) against a real provider on loopback.

The provider is django-oauth-toolkit in its own process (tests/support/oidc_provider): the test walks the whole
authorization-code flow with PKCE as a browser would (Mimic's redirect, the directory's sign-in page, the code
back to Mimic), and Mimic exchanges the code, checks the RS256 ID token against the JWKS and reads userinfo.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.urls import reverse

from accounts.models import Role
from accounts.oidc import role_from_claims, role_map
from tests.conftest import PASSWORD
from tests.support.servers import OIDCProvider

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/accounts/oidc/callback/"
SECRET = "mimic-test-client-secret"
PEOPLE = {
    "s.orlova": {"email": "svetlana@bank.example", "password": "dir-pass-1", "roles": ["staff", "mimic-supervisor"]},
    "a.smirnova": {"email": "anna@bank.example", "password": "dir-pass-2", "roles": ["mimic-manager"]},
    "b.kuznetsov": {"email": "boris@bank.example", "password": "dir-pass-3"},  # no role claim at all
    "x.stranger": {"email": "nobody@bank.example", "password": "dir-pass-4", "roles": ["mimic-admin"]},
}
CLIENTS = [
    {"name": name, "client_id": client_id, "client_secret": SECRET, "redirect_uri": CALLBACK}
    for name, client_id in (("mimic", "mimic"), ("wrong-audience", "mimic-wrong-aud"), ("expired", "mimic-expired"))
]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with OIDCProvider(tmp_path_factory.mktemp("oidc"), PEOPLE, CLIENTS) as running:
        yield running


@pytest.fixture
def sso(settings, provider):
    """MIMIC_OIDC_ENABLED=1 and the OIDC_* variables, as an operator would set them for this provider."""
    settings.MIMIC_OIDC_ENABLED = True
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "accounts.oidc.RoleClaimOIDCBackend"]
    settings.OIDC_RP_CLIENT_ID = "mimic"
    settings.OIDC_RP_CLIENT_SECRET = SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.url}/o/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider.url}/o/token/"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider.url}/o/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider.url}/o/.well-known/jwks.json"
    settings.OIDC_OP_ISSUER = f"{provider.url}/o"
    return settings


def _sso_sign_in(client, provider, username: str):
    """The browser's part of the flow; returns Mimic's answer to the code coming back."""
    start = client.get(reverse("accounts:oidc_start") + "?next=/calls/")
    assert start.status_code == 302
    authorize = start["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{provider.url}/o/authorize/")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    directory = requests.Session()
    to_login = directory.get(authorize, allow_redirects=False, timeout=10)
    assert to_login.status_code == 302 and "/login/" in to_login.headers["Location"]
    login_page = urljoin(provider.url, to_login.headers["Location"])
    back_to = parse_qs(urlsplit(login_page).query)["next"][0]
    form = directory.get(login_page, timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    person = PEOPLE[username]
    signed = directory.post(
        login_page,
        {"username": username, "password": person["password"], "next": back_to, "csrfmiddlewaretoken": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 302, signed.text[:500]
    code = directory.get(urljoin(provider.url, signed.headers["Location"]), allow_redirects=False, timeout=10)
    assert code.status_code == 302 and code.headers["Location"].startswith(CALLBACK), code.text[:500]
    return client.get(code.headers["Location"].removeprefix("http://testserver"))


def _signed_in_as(client) -> str | None:
    from accounts.models import User

    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).username if user_id else None


def test_the_full_code_flow_with_pkce_signs_a_staff_member_in_with_the_role_from_the_claim(
    client, sso, provider, supervisor
):
    supervisor.email = "Svetlana@Bank.example"  # matched by e-mail, whatever its case
    supervisor.role = Role.MANAGER  # the IdP's claim decides the role
    supervisor.save()
    response = _sso_sign_in(client, provider, "s.orlova")
    assert response.status_code == 302 and response["Location"] == "/calls/"
    assert _signed_in_as(client) == "svetlana"
    supervisor.refresh_from_db()
    assert supervisor.role == Role.SUPERVISOR
    # Mimic's own second factor still applies after the corporate sign-in.
    assert client.get("/calls/")["Location"].startswith(reverse("accounts:enrol"))


def test_a_manager_signs_in_too(client, sso, provider, manager):
    manager.email = "anna@bank.example"
    manager.save()
    assert _sso_sign_in(client, provider, "a.smirnova")["Location"] == "/calls/"
    assert _signed_in_as(client) == "anna"


def test_a_person_without_a_role_claim_is_refused(client, sso, provider, other_manager):
    other_manager.email = "boris@bank.example"
    other_manager.save()
    response = _sso_sign_in(client, provider, "b.kuznetsov")
    assert response.status_code == 302 and "sso=failed" in response["Location"]
    assert _signed_in_as(client) is None
    other_manager.refresh_from_db()
    assert other_manager.role == Role.MANAGER


def test_a_person_without_a_mimic_account_is_refused(client, sso, provider, manager):
    response = _sso_sign_in(client, provider, "x.stranger")
    assert "sso=failed" in response["Location"] and _signed_in_as(client) is None


@pytest.mark.parametrize("client_id", ["mimic-wrong-aud", "mimic-expired"])
def test_an_id_token_for_another_audience_or_already_expired_is_refused(client, sso, provider, supervisor, client_id):
    supervisor.email = "svetlana@bank.example"
    supervisor.save()
    sso.OIDC_RP_CLIENT_ID = client_id
    response = _sso_sign_in(client, provider, "s.orlova")
    assert response.status_code == 302 and "sso=failed" in response["Location"]
    assert _signed_in_as(client) is None


def test_the_control_the_same_person_through_the_honest_client_gets_in(client, sso, provider, supervisor):
    # Proves the refusals above are about the token, not the person or the provider.
    supervisor.email = "svetlana@bank.example"
    supervisor.save()
    assert _sso_sign_in(client, provider, "s.orlova")["Location"] == "/calls/"


def test_a_locked_account_stays_locked_through_sso(client, sso, provider, supervisor):
    supervisor.email = "svetlana@bank.example"
    supervisor.save()
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": "svetlana", "password": "wrong"})
    response = _sso_sign_in(client, provider, "s.orlova")
    assert "sso=failed" in response["Location"] and _signed_in_as(client) is None


def test_password_sign_in_can_be_closed_to_managers(client, sso, manager, supervisor):
    sso.MIMIC_OIDC_MANAGER_PASSWORDS = False
    response = client.post(reverse("accounts:login"), {"username": "anna", "password": PASSWORD})
    assert response.status_code == 200 and _signed_in_as(client) is None
    assert "через корпоративную учётную запись" in response.content.decode()
    assert client.post(reverse("accounts:login"), {"username": "svetlana", "password": PASSWORD}).status_code == 302


def test_sso_is_off_by_default(client, settings):
    assert settings.MIMIC_OIDC_ENABLED is False
    assert client.get(reverse("accounts:oidc_start")).status_code == 404
    assert client.get(reverse("accounts:oidc_callback")).status_code == 404
    assert reverse("accounts:oidc_start") not in client.get(reverse("accounts:login")).content.decode()


def test_the_login_page_offers_sso_when_on(client, sso):
    assert reverse("accounts:oidc_start") in client.get(reverse("accounts:login")).content.decode()


def test_role_from_claims():
    mapping = role_map(["mimic-admin=admin", "mimic-supervisor=supervisor", "mimic-manager=manager"])
    assert role_from_claims({"roles": ["mimic-manager", "mimic-admin"]}, "roles", mapping) == Role.ADMIN
    assert role_from_claims({"roles": "mimic-supervisor"}, "roles", mapping) == Role.SUPERVISOR
    assert role_from_claims({"roles": ["staff"]}, "roles", mapping) is None
    assert role_from_claims({}, "roles", mapping) is None
    assert role_from_claims({"roles": {"x": 1}}, "roles", mapping) is None
    with pytest.raises(ValueError, match="root"):
        role_map(["x=root"])
