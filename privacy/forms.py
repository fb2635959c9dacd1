from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.models import AuditAction


class ClientLookupForm(forms.Form):
    pseudonym = forms.CharField(
        label=_("Client pseudonym"), max_length=16, widget=forms.TextInput(attrs={"placeholder": "C-XXXXXX"})
    )

    def clean_pseudonym(self) -> str:
        return self.cleaned_data["pseudonym"].strip()


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All actions")), *AuditAction.choices]
    )


class ErasureForm(forms.Form):
    """Erasure goes ahead only when the client's pseudonym is typed again."""

    confirm = forms.CharField(label=_("Type the client's pseudonym to confirm"), max_length=16)

    def __init__(self, *args, pseudonym: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pseudonym = pseudonym

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.pseudonym:
            raise forms.ValidationError(_("The pseudonym does not match: nothing was erased."))
        return typed
