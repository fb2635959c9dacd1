from __future__ import annotations

import statistics
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models import Client
from illustrations.finance import ProductInput
from illustrations.trees import IllustrationInput

SHARE_SALT = "illustrations.share"
DEFAULT_SHARE_DAYS = 14
MAX_SHARE_DAYS = 90

# Pilot targets (issue 6): clarity mean ≥ 4.5, engagement ≥ 70 %, median time to understand ≤ 2 min.
TARGET_CLARITY = 4.5
TARGET_ENGAGEMENT_PCT = 70.0
TARGET_UNDERSTAND_S = 120.0


class Currency(models.TextChoices):
    RUB = "RUB", "₽ RUB"
    USD = "USD", "$ USD"
    EUR = "EUR", "€ EUR"
    CNY = "CNY", "¥ CNY"


class Compounding(models.TextChoices):
    YEARLY = "yearly", _("Yearly")
    MONTHLY = "monthly", _("Monthly")
    SIMPLE = "simple", _("Simple interest")


class Risk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class IllustrationQuerySet(models.QuerySet):
    def for_user(self, user) -> IllustrationQuerySet:
        manager_ids = user.visible_manager_ids()
        return self if manager_ids is None else self.filter(manager__in=manager_ids)


class Illustration(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="illustrations")
    # A label the manager chooses (e.g. first name); the only client datum ever shown on the share page.
    client_label = models.CharField(max_length=80)
    # Which client it is for (optional): lists it on that client's live call, where it can be shown.
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="illustrations")
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.RUB)
    initial_amount = models.DecimalField(max_digits=15, decimal_places=2)
    monthly_topup = models.DecimalField(max_digits=13, decimal_places=2, default=Decimal(0))
    horizon_years = models.PositiveSmallIntegerField()
    created = models.DateTimeField(default=timezone.now)

    objects = IllustrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.client_label} ({self.horizon_years}y)"

    def get_absolute_url(self) -> str:
        return reverse("illustrations:detail", args=[self.id])

    @property
    def products_label(self) -> str:
        """What a call's report names it by: its products (never the client)."""
        return ", ".join(p.name for p in self.products.all())[:160]

    def as_input(self, locale: str = "ru") -> IllustrationInput:
        products = tuple(
            ProductInput(name=p.name, rate_pct=p.rate_pct, compounding=p.compounding, risk=p.risk)
            for p in self.products.all()
        )
        return IllustrationInput(
            client_label=self.client_label,
            initial=self.initial_amount,
            monthly=self.monthly_topup,
            years=self.horizon_years,
            currency=self.currency,
            products=products,
            locale=locale,
        )


class Product(models.Model):
    illustration = models.ForeignKey(Illustration, on_delete=models.CASCADE, related_name="products")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=80)
    rate_pct = models.DecimalField(max_digits=5, decimal_places=2)
    compounding = models.CharField(max_length=8, choices=Compounding.choices, default=Compounding.YEARLY)
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["illustration", "position"], name="ill_product_position")]

    def __str__(self) -> str:
        return self.name


class LinkState(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class ShareLinkQuerySet(models.QuerySet):
    def for_user(self, user) -> ShareLinkQuerySet:
        manager_ids = user.visible_manager_ids()
        return self if manager_ids is None else self.filter(illustration__manager__in=manager_ids)


class ShareLink(models.Model):
    """A revocable, expiring link for the client. The URL carries a signed token naming this row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    illustration = models.ForeignKey(Illustration, on_delete=models.CASCADE, related_name="links")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"link {self.id} ({self.state})"

    @classmethod
    def issue(cls, illustration: Illustration, days: int = DEFAULT_SHARE_DAYS) -> ShareLink:
        now = timezone.now()
        return cls.objects.create(illustration=illustration, created=now, expires_at=now + timedelta(days=days))

    @property
    def token(self) -> str:
        return signing.dumps({"l": str(self.id)}, salt=SHARE_SALT)

    @classmethod
    def from_token(cls, token: str) -> ShareLink | None:
        """The link a token names, or None for a forged, tampered or unknown token (state is checked apart)."""
        try:
            # The signature's own age limit is a backstop; the row's expires_at is the real expiry.
            payload = signing.loads(token, salt=SHARE_SALT, max_age=timedelta(days=MAX_SHARE_DAYS + 1))
            link_id = uuid.UUID(str(payload["l"]))
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None
        return cls.objects.select_related("illustration").filter(pk=link_id).first()

    def get_share_url(self) -> str:
        return reverse("illustrations:share", args=[self.token])

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return LinkState.REVOKED
        if timezone.now() >= self.expires_at:
            return LinkState.EXPIRED
        return LinkState.ACTIVE

    def get_state_display(self) -> str:
        return LinkState(self.state).label

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class ShareView(models.Model):
    """One opening of a share link and what the client did there. No IP, no user agent: nothing personal."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="views")
    opened_at = models.DateTimeField(default=timezone.now)
    slider_at = models.DateTimeField(null=True, blank=True)
    details_at = models.DateTimeField(null=True, blank=True)
    understood_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["opened_at"]

    def __str__(self) -> str:
        return f"view {self.id}"

    @property
    def engaged(self) -> bool:
        return self.slider_at is not None or self.details_at is not None

    @property
    def seconds_to_understand(self) -> float | None:
        if self.understood_at is None:
            return None
        return max((self.understood_at - self.opened_at).total_seconds(), 0.0)

    def record(self, kind: str, rating: int | None = None) -> None:
        """Store an event; the first slider/details/understood time wins, a new rating replaces the old one."""
        now = timezone.now()
        fields: list[str] = []
        if kind in ("slider", "details", "understood"):
            attr = f"{kind}_at"
            if getattr(self, attr) is None:
                setattr(self, attr, now)
                fields.append(attr)
        elif kind == "rating":
            if rating is None or not 1 <= rating <= 5:
                raise ValueError("rating must be 1..5")
            self.rating, self.rated_at = rating, now
            fields += ["rating", "rated_at"]
        else:
            raise ValueError(f"unknown event: {kind!r}")
        if fields:
            self.save(update_fields=fields)


def link_measures(link: ShareLink, views: list[ShareView]) -> dict:
    """Per-link pilot measures: latest rating, engaged at all, first time to understand."""
    rated = [v for v in views if v.rating is not None]
    times = [v.seconds_to_understand for v in views if v.understood_at is not None]
    return {
        "link": link,
        "opened": bool(views),
        "views": len(views),
        "rating": max(rated, key=lambda v: v.rated_at).rating if rated else None,
        "engaged": any(v.engaged for v in views),
        "understand_s": min(times) if times else None,
    }


def pilot_summary(links: list[ShareLink]) -> dict:
    """Aggregate measures over links (``links`` must have their views prefetched)."""
    rows = [link_measures(link, list(link.views.all())) for link in links]
    opened = [r for r in rows if r["opened"]]
    ratings = [r["rating"] for r in rows if r["rating"] is not None]
    times = [r["understand_s"] for r in rows if r["understand_s"] is not None]
    return {
        "rows": rows,
        "links": len(rows),
        "opened": len(opened),
        "clarity_mean": round(statistics.fmean(ratings), 2) if ratings else None,
        "clarity_n": len(ratings),
        "engagement_pct": round(100 * sum(r["engaged"] for r in opened) / len(opened), 1) if opened else None,
        "understand_median_s": round(statistics.median(times), 1) if times else None,
        "understand_n": len(times),
    }
