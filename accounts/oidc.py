"""Corporate sign-in by OpenID Connect (mozilla-django-oidc): the bank's IdP says who, Mimic's roles say what.

Only existing staff accounts sign in, matched by e-mail; the role comes from the claim MIMIC_OIDC_ROLE_CLAIM,
mapped by MIMIC_OIDC_ROLES. A person whose claim maps to no Mimic role is refused. The ID token must be signed by
the IdP (JWKS), unexpired, for this client (aud) and, when OIDC_OP_ISSUER is set, from that issuer. A username
locked by django-axes is locked here too. The second factor is still Mimic's own (accounts.twofactor).
"""

from __future__ import annotations

import logging

import jwt
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from requests import RequestException

from accounts.models import Role, User

log = logging.getLogger(__name__)

# Strongest first: a person with several matching IdP groups gets the strongest role.
ROLE_ORDER = (Role.ADMIN, Role.SUPERVISOR, Role.MANAGER)


def role_map(pairs: list[str]) -> dict[str, str]:
    """``["idp-group=role", ...]`` -> {"idp-group": "role"}; unknown roles are configuration errors."""
    mapping = {}
    for pair in pairs:
        value, _, role = pair.partition("=")
        if role.strip() not in Role.values:
            raise ValueError(f"MIMIC_OIDC_ROLES: {role.strip()!r} is not one of {Role.values}")
        mapping[value.strip()] = role.strip()
    return mapping


def role_from_claims(claims: dict, claim: str, mapping: dict[str, str]) -> str | None:
    """The Mimic role the claim grants (a string or a list of IdP values), or None."""
    values = claims.get(claim)
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return None
    granted = {mapping[value] for value in values if isinstance(value, str) and value in mapping}
    return next((role for role in ROLE_ORDER if role in granted), None)


class RoleClaimOIDCBackend(OIDCAuthenticationBackend):
    def authenticate(self, request, **kwargs):
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, jwt.InvalidTokenError, RequestException) as exc:
            # A forged, expired or foreign token, or an IdP that did not answer: no sign-in, and the reason logged.
            log.warning("OIDC sign-in refused: %s", exc)
            return None

    def _verify_jws(self, payload, key):
        claims = super()._verify_jws(payload, key)  # signature, algorithm and expiry
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation(f"ID token for audience {audience!r}, not this client")
        if "exp" not in claims:
            raise SuspiciousOperation("ID token without expiry")
        issuer = settings.OIDC_OP_ISSUER
        if issuer and claims.get("iss") != issuer:
            raise SuspiciousOperation(f"ID token from issuer {claims.get('iss')!r}")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        # The role claim may come in the ID token (Keycloak, ADFS) or from userinfo: both are the IdP's word.
        return {**payload, **super().get_userinfo(access_token, id_token, payload)}

    def verify_claims(self, claims) -> bool:
        if not claims.get("email"):
            return False
        role = role_from_claims(claims, settings.MIMIC_OIDC_ROLE_CLAIM, role_map(settings.MIMIC_OIDC_ROLES))
        if role is None:
            log.warning("OIDC sign-in refused: no Mimic role in claim %r", settings.MIMIC_OIDC_ROLE_CLAIM)
            return False
        return True

    def filter_users_by_claims(self, claims):
        return User.objects.filter(email__iexact=claims["email"], is_active=True)

    def update_user(self, user, claims):
        if not AxesProxyHandler.is_allowed(self.request, {"username": user.username}):
            raise SuspiciousOperation("the account is locked")
        role = role_from_claims(claims, settings.MIMIC_OIDC_ROLE_CLAIM, role_map(settings.MIMIC_OIDC_ROLES))
        if user.role != role:
            user.role = role
            user.save(update_fields=["role"])
        return user
