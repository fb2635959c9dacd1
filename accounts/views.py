from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import twofactor
from accounts.forms import EnrolForm, SignInForm, TokenForm
from lib.qr import qr_data_uri

RECOVERY_CODES_SESSION_KEY = "mimic_recovery_codes"


class LoginView(auth_views.LoginView):
    """Password sign-in (django-axes locks it, accounts.lockout), then the second factor; sign-out is Django's own."""

    template_name = "accounts/login.html"
    form_class = SignInForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Set by django-axes when this attempt found or made a lock (the lockout page then replaces this one).
        context["locked"] = bool(getattr(self.request, "axes_locked_out", False))
        context["oidc_enabled"] = settings.MIMIC_OIDC_ENABLED
        return context

    def get_success_url(self) -> str:
        url = super().get_success_url()
        user = self.request.user
        if twofactor.second_factor_required(user) and not twofactor.is_verified(user):
            step = "accounts:two_factor" if twofactor.has_device(user) else "accounts:enrol"
            return f"{reverse(step)}?{urlencode({'next': url})}"
        return url


def _next_url(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, require_https=request.is_secure()):
        return url
    return reverse(settings.LOGIN_REDIRECT_URL)


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """The second step of sign-in: a code from the authenticator app, or a recovery code."""
    if request.user.is_verified():
        return redirect(_next_url(request))
    if not twofactor.has_device(request.user):
        return redirect(f"{reverse('accounts:enrol')}?{urlencode({'next': _next_url(request)})}")
    form = TokenForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        django_otp.login(request, form.device)
        return redirect(_next_url(request))
    context = {"form": form, "next": _next_url(request), "two_factor_pending": True}
    return render(request, "accounts/two_factor.html", context)


@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in: scan the QR code (drawn on the server), confirm with one code, get recovery codes."""
    if request.user.is_verified() or twofactor.has_device(request.user):
        return redirect(f"{reverse('accounts:two_factor')}?{urlencode({'next': _next_url(request)})}")
    device = twofactor.pending_totp_device(request.user)
    form = EnrolForm(device, request.POST or None)
    if request.method == "POST" and form.is_valid():
        django_otp.login(request, device)
        request.session[RECOVERY_CODES_SESSION_KEY] = form.recovery_codes
        return redirect(f"{reverse('accounts:recovery_codes')}?{urlencode({'next': _next_url(request)})}")
    context = {
        "form": form,
        "next": _next_url(request),
        "qr": qr_data_uri(device.config_url),
        "secret": twofactor.base32_secret(device),
        "two_factor_pending": True,
    }
    return render(request, "accounts/enrol.html", context)


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes, shown once right after enrolment."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        return redirect(_next_url(request))
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next_url(request)})


def oidc_only(view):
    """Corporate sign-in is off by default: its pages are 404 until MIMIC_OIDC_ENABLED."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.MIMIC_OIDC_ENABLED:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped
