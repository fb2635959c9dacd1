"""The browser a client consented in: a random key in a cookie set at consent, its SHA-256 on the Consent.

A client link alone lets a browser read the consent text and consent; only the browser holding the key of an
active consent may open the camera socket (calls.consumers). Plain functions, no models.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings

# A day: longer than any call; the link dies with the call anyway.
COOKIE_MAX_AGE = 24 * 3600


def cookie_name(call_id: uuid.UUID | str) -> str:
    return f"mimic_device_{uuid.UUID(str(call_id)).hex}"


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(key: str | None) -> str:
    """The stored form of a device key; "" for no key (which matches only consents given without a browser)."""
    return hashlib.sha256(key.encode()).hexdigest() if key else ""


def set_cookie(response, call_id: uuid.UUID | str, key: str) -> None:
    """HttpOnly, with the session cookie's SameSite and Secure (so it also works where the page is framed)."""
    name = cookie_name(call_id)
    response.set_cookie(
        name,
        key,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )
    if getattr(settings, "MIMIC_COOKIE_PARTITIONED", False) and settings.SESSION_COOKIE_SAMESITE == "None":
        response.cookies[name]["samesite"] = "None; Partitioned"  # as privacy.middleware does for the session
