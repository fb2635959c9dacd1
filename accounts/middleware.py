"""Until the second factor is verified, a signed-in user reaches only the two-factor pages and sign-out."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import twofactor

# The pages a half-signed-in user may see: signing in, the second factor, signing out, the language switch.
OPEN_URL_NAMES = {
    "accounts:login",
    "accounts:logout",
    "accounts:two_factor",
    "accounts:enrol",
    "accounts:recovery_codes",
    "accounts:oidc_start",
    "accounts:oidc_callback",
    "set_language",
}


class TwoFactorMiddleware:
    """After django_otp's OTPMiddleware: sends an unverified user who needs a second factor to verify or enrol."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified() or not twofactor.second_factor_required(user):
            return None
        match = request.resolver_match
        if (match and match.view_name in OPEN_URL_NAMES) or request.path.startswith(settings.STATIC_URL):
            return None
        step = "accounts:two_factor" if twofactor.has_device(user) else "accounts:enrol"
        return redirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")


class TwoFactorScopeMiddleware:
    """The same rule for WebSockets: a session without its verified second factor is anonymous there."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is not None and getattr(user, "is_authenticated", False):
            if not await database_sync_to_async(_scope_verified)(user, scope.get("session")):
                scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)


def _scope_verified(user, session) -> bool:
    return not twofactor.second_factor_required(user) or twofactor.session_is_verified(user, session)
