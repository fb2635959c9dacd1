"""The one sign-in lockout, django-axes' (settings AXES_*): the hooks Mimic gives it.

Axes guards the authentication backend, so every door that calls ``authenticate`` (the sign-in page,
/admin/login/, the OpenID Connect callback) counts failures against the same username and is locked alike.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from lib.clientip import request_client_ip
from privacy.audit import audit
from privacy.models import AuditAction


def username_key(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """Usernames are locked case-insensitively: "ANNA" and "anna" share one count."""
    username = (credentials or {}).get("username")
    if username is None and request is not None:
        username = request.POST.get("username")
    return username.strip().lower()[:150] if username else None


def lockout_response(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """The sign-in page saying the account is locked (HTTP 429), whichever door was knocked on."""
    from accounts.forms import SignInForm

    response = TemplateResponse(
        request,
        "accounts/login.html",
        {"form": SignInForm(request), "locked": True, "next": request.POST.get("next", "")},
        status=429,
    )
    return response.render()


@receiver(user_locked_out)
def audit_lockout(sender, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs) -> None:
    # Axes also signals every attempt while locked; only the failure that locks is the event.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    until = (timezone.now() + settings.AXES_COOLOFF_TIME).isoformat()
    ip = ip_address or request_client_ip(request)
    audit("login-lockout", AuditAction.LOGIN_LOCKED, username=username or "", ip=ip, until=until)
