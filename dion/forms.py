from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class MeetingLinkForm(forms.Form):
    dion_meeting_url = forms.URLField(label=_("Dion meeting link"), max_length=200, assume_scheme="https")

    def clean_dion_meeting_url(self) -> str:
        url = self.cleaned_data["dion_meeting_url"]
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise forms.ValidationError(_("The meeting link must start with https://"))
        hosts = settings.DION_MEETING_HOSTS
        if hosts and (parts.hostname or "") not in hosts:
            raise forms.ValidationError(_("This is not a Dion meeting link."))
        return url
