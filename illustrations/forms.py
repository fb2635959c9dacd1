from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from calls.models import Client
from illustrations.models import DEFAULT_SHARE_DAYS, MAX_SHARE_DAYS, Compounding, Currency, Risk

MAX_PRODUCTS = 6
MAX_INITIAL = Decimal("100000000000")  # 100 bn: more is a typo, not a client
MAX_MONTHLY = Decimal("1000000000")
MIN_RATE, MAX_RATE = Decimal(-50), Decimal(100)

# Presets: typical rates, editable on the form (the manager is expected to adjust them).
PRESETS: dict[str, dict] = {
    "deposit": {"name": _("Deposit"), "rate_pct": Decimal("15"), "compounding": "monthly", "risk": "low"},
    "bonds": {"name": _("Bonds"), "rate_pct": Decimal("13"), "compounding": "yearly", "risk": "medium"},
    "equity": {"name": _("Equity fund"), "rate_pct": Decimal("18"), "compounding": "yearly", "risk": "high"},
}


class FriendlyDecimalField(forms.DecimalField):
    """Accepts ``1 000 000,50`` as typed in Russia; bounds give human messages instead of digit counts."""

    def __init__(self, *, low: Decimal, high: Decimal, low_message, high_message, **kwargs) -> None:
        self.low, self.high = low, high
        self.low_message, self.high_message = low_message, high_message
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("error_messages", {})
        kwargs["error_messages"].setdefault("invalid", _("Enter a number, for example 1 000 000 or 12,5."))
        kwargs["error_messages"].setdefault("max_decimal_places", _("Use at most 2 digits after the decimal point."))
        super().__init__(max_digits=None, **kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})

    def to_python(self, value):
        if isinstance(value, str):
            value = "".join(value.split()).replace("\u202f", "").replace("\u00a0", "").replace(",", ".")
            value = value.replace("\u2212", "-")
        return super().to_python(value)

    def validate(self, value) -> None:
        super().validate(value)
        if value is None:
            return
        if value < self.low:
            raise forms.ValidationError(self.low_message, code="too_low")
        if value > self.high:
            raise forms.ValidationError(self.high_message, code="too_high")


class ClientChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, user=None, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Client) -> str:
        return obj.name_for(self.user)


class IllustrationForm(forms.Form):
    client_label = forms.CharField(
        label=_("Client label"),
        max_length=80,
        help_text=_("Shown to the client. A first name or a nickname; no surnames, no account numbers."),
        error_messages={
            "required": _("Enter a label for the client."),
            "max_length": _("Keep the label under %(limit_value)d characters."),
        },
    )
    client = ClientChoiceField(
        label=_("For the client"),
        queryset=Client.objects.none(),
        required=False,
        help_text=_("Optional: the illustration is then listed on this client's live calls, to show it there."),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.RUB)
    initial_amount = FriendlyDecimalField(
        label=_("Initial amount"),
        low=Decimal("0.01"),
        high=MAX_INITIAL,
        low_message=_("The initial amount must be greater than zero."),
        high_message=_("This amount looks unrealistic: at most 100 000 000 000."),
        error_messages={"required": _("Enter the initial amount.")},
    )
    monthly_topup = FriendlyDecimalField(
        label=_("Monthly top-up"),
        required=False,
        low=Decimal(0),
        high=MAX_MONTHLY,
        low_message=_("The top-up cannot be negative."),
        high_message=_("This top-up looks unrealistic: at most 1 000 000 000 a month."),
    )
    horizon_years = forms.IntegerField(
        label=_("Horizon, years"),
        initial=10,
        widget=forms.NumberInput(attrs={"min": 1, "max": 30}),
        error_messages={"required": _("Enter the horizon in years."), "invalid": _("Enter a whole number of years.")},
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["client"]
        field.user = user
        # Only the user's own clients: an illustration is shown by the manager who owns the relationship.
        field.queryset = Client.objects.filter(manager=user) if user is not None else Client.objects.none()

    def clean_client_label(self) -> str:
        from illustrations.trees import clean_text

        label = clean_text(self.cleaned_data["client_label"])
        if not label:
            raise forms.ValidationError(_("Enter a label for the client."), code="required")
        return label

    def clean_monthly_topup(self) -> Decimal:
        return self.cleaned_data.get("monthly_topup") or Decimal(0)

    def clean_horizon_years(self) -> int:
        years = self.cleaned_data["horizon_years"]
        if years < 1:
            raise forms.ValidationError(_("The horizon must be at least 1 year."), code="too_low")
        if years > 30:
            raise forms.ValidationError(_("The horizon can be at most 30 years."), code="too_high")
        return years


class ProductForm(forms.Form):
    name = forms.CharField(
        label=_("Product"),
        max_length=80,
        error_messages={
            "required": _("Enter the product's name."),
            "max_length": _("Keep the name under %(limit_value)d characters."),
        },
    )
    rate_pct = FriendlyDecimalField(
        label=_("Expected rate, % a year"),
        low=MIN_RATE,
        high=MAX_RATE,
        low_message=_("The rate must be between −50 % and +100 % a year."),
        high_message=_("The rate must be between −50 % and +100 % a year."),
        error_messages={"required": _("Enter the expected rate.")},
    )
    compounding = forms.ChoiceField(label=_("Compounding"), choices=Compounding.choices, initial=Compounding.YEARLY)
    risk = forms.ChoiceField(label=_("Risk"), choices=Risk.choices, initial=Risk.LOW)

    def has_changed(self) -> bool:
        # Selects always carry a value; a row counts as filled once it has a name or a rate.
        if not self.is_bound:
            return super().has_changed()
        return any((self.data.get(self.add_prefix(f)) or "").strip() for f in ("name", "rate_pct"))

    def clean_name(self) -> str:
        from illustrations.trees import clean_text

        name = clean_text(self.cleaned_data["name"])
        if not name:
            raise forms.ValidationError(_("Enter the product's name."), code="required")
        return name


class BaseProductFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": _("At most 6 products can be compared in one illustration."),
        "too_few_forms": _("Add at least one product."),
    }

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.filled():
            raise forms.ValidationError(_("Add at least one product."), code="too_few_forms")

    def filled(self) -> list[dict]:
        return [f.cleaned_data for f in self.forms if f.cleaned_data and f.has_changed()]


ProductFormSet = forms.formset_factory(
    ProductForm,
    formset=BaseProductFormSet,
    extra=MAX_PRODUCTS,
    max_num=MAX_PRODUCTS,
    validate_max=True,
    absolute_max=MAX_PRODUCTS * 2,
)


def product_formset(data=None) -> BaseProductFormSet:
    """Six rows; on a fresh form the first three hold the editable presets."""
    formset = ProductFormSet(data, prefix="products")
    if data is None:
        for form, preset in zip(formset.forms, PRESETS.values(), strict=False):
            form.initial = dict(preset)
    return formset


class ShareForm(forms.Form):
    days = forms.IntegerField(
        label=_("Valid for, days"),
        initial=DEFAULT_SHARE_DAYS,
        min_value=1,
        max_value=MAX_SHARE_DAYS,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_SHARE_DAYS}),
    )
