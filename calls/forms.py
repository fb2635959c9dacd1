from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from calls.models import Client


class StartCallForm(forms.Form):
    """The manager's one-click start: an existing client or a new one, and the capture rate."""

    client = forms.ModelChoiceField(queryset=Client.objects.none(), required=False, label=_("Client"))
    new_client_name = forms.CharField(max_length=200, required=False, label=_("or a new client's name"))
    capture_fps = forms.TypedChoiceField(
        coerce=int, initial=2, label=_("Frames per second"), choices=[(n, str(n)) for n in range(1, 6)]
    )
    dion_meeting_url = forms.URLField(required=False, assume_scheme="https", label=_("Dion meeting link (optional)"))

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["client"].queryset = Client.objects.filter(manager=user)
        self.fields["client"].label_from_instance = self._client_label
        self.fields["capture_fps"].choices = [(n, str(n)) for n in range(1, settings.MIMIC_MAX_FPS + 1)]
        self.fields["capture_fps"].initial = settings.MIMIC_DEFAULT_FPS

    def _client_label(self, client: Client) -> str:
        """The manager's own clients by name, with the pseudonym that supervisors see beside it."""
        if client.shows_name_to(self.user):
            return f"{client.display_name} · {client.pseudonym}"
        return client.pseudonym

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("client") and not (data.get("new_client_name") or "").strip():
            raise forms.ValidationError(_("Choose a client or enter a new client's name."))
        return data

    def get_client(self) -> Client:
        if self.cleaned_data.get("client"):
            return self.cleaned_data["client"]
        return Client.objects.create(display_name=self.cleaned_data["new_client_name"].strip(), manager=self.user)


class ConsentForm(forms.Form):
    agree = forms.BooleanField(required=True)
