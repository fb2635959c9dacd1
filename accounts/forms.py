from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts import twofactor


class SignInForm(AuthenticationForm):
    """Django's sign-in form; the lockout is django-axes' on the backend (accounts.lockout), for every door."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "sso_only": _("Personal managers sign in with the bank's corporate sign-in."),
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.is_manager and settings.MIMIC_OIDC_ENABLED and not settings.MIMIC_OIDC_MANAGER_PASSWORDS:
            raise forms.ValidationError(self.error_messages["sso_only"], code="sso_only")


class TokenForm(forms.Form):
    """One code: six digits from the authenticator app, or one of the recovery codes."""

    token = forms.CharField(label=_("Code"), max_length=32, strip=True)

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.device = None

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        self.device = twofactor.verify(self.user, token)
        if self.device is None:
            raise forms.ValidationError(_("Wrong or expired code."), code="invalid")
        return token


class EnrolForm(forms.Form):
    token = forms.CharField(label=_("Code from the app"), max_length=16, strip=True)

    def __init__(self, device, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.device = device
        self.recovery_codes: list[str] | None = None

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        self.recovery_codes = twofactor.confirm_totp(self.device, token)
        if self.recovery_codes is None:
            raise forms.ValidationError(_("Wrong or expired code."), code="invalid")
        return token
