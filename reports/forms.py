from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from calls.models import Client
from reports.pilot import parse_label_csv

VIDEO_EXTENSIONS = ("mp4", "webm", "flv")
LABELS_MAX_BYTES = 1024 * 1024

SORTS = {
    "-date": ("-call__created",),
    "date": ("call__created",),
    "satisfaction": ("satisfaction_pct", "-call__created"),
    "-satisfaction": ("-satisfaction_pct", "-call__created"),
    "-negative": ("-negative_pct", "-call__created"),
    "manager": ("call__manager__last_name", "call__manager__username", "-call__created"),
    "client": ("call__client__pseudonym", "-call__created"),
}


def _manager_label(user: User) -> str:
    return user.get_full_name() or user.get_username()


class DashboardFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    manager = forms.ModelChoiceField(label=_("Manager"), queryset=User.objects.none(), required=False)
    client = forms.ModelChoiceField(label=_("Client"), queryset=Client.objects.none(), required=False)
    below = forms.FloatField(label=_("Satisfaction below, %"), required=False, min_value=0, max_value=100)
    negative = forms.ChoiceField(
        label=_("Negative episodes"),
        required=False,
        choices=[("", _("Any")), ("yes", _("With negative episodes")), ("no", _("Without"))],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("-date", _("Newest first")),
            ("date", _("Oldest first")),
            ("satisfaction", _("Lowest satisfaction")),
            ("-satisfaction", _("Highest satisfaction")),
            ("-negative", _("Most negative")),
            ("manager", _("Manager")),
            ("client", _("Client")),
        ],
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        manager_ids = user.visible_manager_ids()
        managers = (
            User.objects.filter(role="manager") if manager_ids is None else User.objects.filter(id__in=manager_ids)
        )
        self.fields["manager"].queryset = managers.order_by("last_name", "username")
        self.fields["manager"].label_from_instance = _manager_label
        self.fields["client"].queryset = Client.objects.for_user(user).order_by("pseudonym")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def apply(self, qs):
        """Filter and sort a CallReport queryset with the cleaned data."""
        data = self.cleaned_data
        qs = qs.in_period(data.get("start"), data.get("end"))
        if data.get("manager"):
            qs = qs.filter(call__manager=data["manager"])
        if data.get("client"):
            qs = qs.filter(call__client=data["client"])
        if data.get("below") is not None:
            qs = qs.satisfaction_below(data["below"])
        if data.get("negative") in ("yes", "no"):
            qs = qs.with_negative_episodes(data["negative"] == "yes")
        return qs

    def ordering(self) -> tuple[str, ...]:
        return SORTS.get(self.cleaned_data.get("sort") or "-date", SORTS["-date"])


class TrendsForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Group by"), required=False, choices=[("week", _("Week")), ("month", _("Month"))]
    )


class UploadForm(forms.Form):
    """The everyday upload: a client's recorded call, analysed once the manager attests the client's consent."""

    client = forms.ModelChoiceField(label=_("Client"), queryset=Client.objects.none())
    video = forms.FileField(
        label=_("Recording (mp4, webm or flv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".mp4,.webm,.flv,video/mp4,video/webm,video/x-flv"}),
    )
    consent = forms.BooleanField(
        label=_("I confirm that the client agreed to the analysis of this recording"),
        required=True,
        error_messages={"required": _("Confirm that the client agreed to the analysis of the recording.")},
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.for_user(user).order_by("pseudonym")

    def clean_video(self):
        video = self.cleaned_data["video"]
        ext = video.name.rsplit(".", 1)[-1].lower() if "." in video.name else ""
        if ext not in VIDEO_EXTENSIONS:
            raise forms.ValidationError(_("Unsupported file type. Upload an mp4, webm or flv recording."))
        limit = settings.MIMIC_UPLOAD_MAX_BYTES
        if video.size > limit:
            raise forms.ValidationError(
                _("The file is too large: the limit is %(mb)d MB.") % {"mb": limit // (1024 * 1024)}
            )
        if video.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return video


class PilotUploadForm(UploadForm):
    """The pilot's synthetic test: a recording with its ground-truth labels, compared with the model's output."""

    labels = forms.FileField(
        label=_("Labels CSV (columns start_s,end_s,label)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    field_order = ["client", "video", "labels", "consent"]

    def clean_labels(self) -> list[dict]:
        upload = self.cleaned_data["labels"]
        if upload.size > LABELS_MAX_BYTES:
            raise forms.ValidationError(_("The labels file is too large."))
        try:
            return parse_label_csv(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(_("The labels file must be UTF-8 text.")) from exc
        except ValueError as exc:
            raise forms.ValidationError(_("The labels file is invalid: %(error)s") % {"error": exc}) from exc


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with the call overall?"),
        coerce=int,
        choices=[(i, str(i)) for i in range(1, 6)],
        widget=forms.RadioSelect,
    )
    upset = forms.TypedChoiceField(
        label=_("Did anything in the call upset you?"),
        coerce=lambda v: v == "yes",
        choices=[("no", _("No")), ("yes", _("Yes"))],
        widget=forms.RadioSelect,
    )
    upset_moment = forms.CharField(
        label=_("If you remember when or what it was, tell us (optional)"), required=False, max_length=200
    )
