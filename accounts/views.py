from __future__ import annotations

from django.contrib.auth import views as auth_views

from accounts.forms import LockoutAuthenticationForm


class LoginView(auth_views.LoginView):
    """Sign-in with a per-username lockout (see privacy.lockout); sign-out is Django's own view."""

    template_name = "accounts/login.html"
    form_class = LockoutAuthenticationForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        context["locked"] = bool(form is not None and form.is_bound and form.has_error("__all__", "locked"))
        return context
