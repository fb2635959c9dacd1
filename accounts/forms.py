from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from privacy import lockout


class LockoutAuthenticationForm(AuthenticationForm):
    """Django's sign-in form with a per-username lockout after repeated failures (privacy.lockout)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-in attempts. Try again in 15 minutes."),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if username and lockout.is_locked(username):
            # Checked before the password: a locked account answers the same whatever is typed.
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            ip = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
            if username and lockout.record_failure(username, ip=ip):
                raise forms.ValidationError(self.error_messages["locked"], code="locked") from None
            raise
        lockout.clear_failures(username)
        return cleaned
