from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from calls.models import Call, Client
from demo.timelines import synthetic_timeline
from illustrations.models import Compounding, Illustration, Product, Risk, ShareLink, ShareView
from reports.models import ClientFeedback
from reports.recordings import store_ended_call, timeline_rows

DEMO_PASSWORD = "mimic-demo-2026"
DEMO_USERS = [
    # username, first, last, role, supervisor username
    ("svetlana", "Светлана", "Орлова", Role.SUPERVISOR, None),
    ("anna", "Анна", "Смирнова", Role.MANAGER, "svetlana"),
    ("boris", "Борис", "Кузнецов", Role.MANAGER, "svetlana"),
    ("admin", "Admin", "", Role.ADMIN, None),
]
DEMO_CLIENTS = [
    ("anna", "Игорь Волков", 0.2),
    ("anna", "Мария Лебедева", 0.1),
    ("anna", "Олег Новиков", 0.8),
    ("boris", "Елена Морозова", 0.3),
    ("boris", "Дмитрий Соколов", 0.5),
    ("boris", "Ольга Павлова", 0.15),
]


def demo_totp_key(username: str) -> str:
    """The demo user's TOTP secret (hex), as published as the demo password: for the embedded demo only."""
    return hashlib.sha1(f"mimic-demo-totp-{username}".encode()).hexdigest()


def demo_totp_secret(username: str) -> str:
    """The same secret in base32, as authenticator apps (and oathtool) take it."""
    return base64.b32encode(bytes.fromhex(demo_totp_key(username))).decode("ascii")


class Command(BaseCommand):
    help = "Create demo users, clients and past calls with realistic timelines (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--calls-per-client", type=int, default=4)
        parser.add_argument("--seed", type=int, default=7)

    @transaction.atomic
    def handle(self, *args, calls_per_client: int, seed: int, **options) -> None:
        users: dict[str, User] = {}
        for username, first, last, role, boss in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last, "role": role}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = user.is_superuser = role == Role.ADMIN
                user.supervisor = users.get(boss) if boss else None
                user.save()
            users[username] = user
            # Pre-enrolled, so that a newcomer can sign in as every role (the secrets are printed below).
            if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                TOTPDevice.objects.create(
                    user=user, name="Demo authenticator", key=demo_totp_key(username), confirmed=True
                )

        if Call.objects.filter(manager__in=[users["anna"], users["boris"]]).exists():
            self._print_logins()
            return

        rng = np.random.default_rng(seed)
        now = timezone.now().replace(second=0, microsecond=0)
        for manager_name, name, temper in DEMO_CLIENTS:
            client = Client.objects.create(display_name=name, manager=users[manager_name])
            for k in range(calls_per_client):
                started = now - timedelta(days=int(rng.integers(2, 120)), hours=int(rng.integers(0, 8)))
                minutes = float(rng.uniform(3, 12))
                t_ms, found, probs = synthetic_timeline(rng, minutes, temper=temper * (0.6 + 0.2 * k))
                call = store_ended_call(
                    users[manager_name], client, started, t_ms[-1] + 500, timeline_rows(t_ms, found, probs)
                )
                summary = call.report.summary
                if rng.random() < 0.7:  # most clients answer the feedback form
                    self._feedback(rng, call, summary)
        for manager in (users["anna"], users["boris"]):
            self._illustration(rng, manager, now)
        self.stdout.write(self.style.SUCCESS(f"Demo data: {Call.objects.count()} calls."))
        self._print_logins()

    def _feedback(self, rng: np.random.Generator, call: Call, summary: dict) -> None:
        """A client's answer that mostly, not always, agrees with what the model saw."""
        satisfaction = summary["satisfaction_pct"] or 0.0
        rating = int(np.clip(round(1 + 4 * satisfaction / 100 + rng.normal(0, 0.7)), 1, 5))
        upset = (len(summary["negative_episodes"]) >= 6 and rng.random() < 0.6) or rng.random() < 0.05
        ClientFeedback.objects.create(
            call=call,
            rating=rating,
            upset=upset,
            upset_moment="когда обсуждали комиссию" if upset else "",
            created=call.ended_at + timedelta(minutes=3),
        )

    def _illustration(self, rng: np.random.Generator, manager: User, now) -> None:
        """One shared illustration per manager, opened a few times by the client."""
        illustration = Illustration.objects.create(
            manager=manager,
            client_label="Игорь" if manager.username == "anna" else "Елена",
            initial_amount=Decimal("1000000"),
            monthly_topup=Decimal("10000"),
            horizon_years=5,
            created=now - timedelta(days=3),
        )
        products = [
            ("Вклад «Надёжный»", "16.00", Compounding.MONTHLY, Risk.LOW),
            ("Облигации ОФЗ", "14.50", Compounding.YEARLY, Risk.MEDIUM),
            ("Фонд акций", "22.00", Compounding.YEARLY, Risk.HIGH),
        ]
        for position, (name, rate, compounding, risk) in enumerate(products):
            Product.objects.create(
                illustration=illustration,
                position=position,
                name=name,
                rate_pct=Decimal(rate),
                compounding=compounding,
                risk=risk,
            )
        link = ShareLink.issue(illustration)
        for k in range(5):
            opened = now - timedelta(days=2, hours=k)
            engaged = rng.random() < 0.8
            ShareView.objects.create(
                link=link,
                opened_at=opened,
                slider_at=opened + timedelta(seconds=20) if engaged else None,
                understood_at=opened + timedelta(seconds=int(rng.integers(40, 150))),
                rating=int(rng.choice([4, 5, 5])),
                rated_at=opened + timedelta(minutes=3),
            )

    def _print_logins(self) -> None:
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}; then the code of the TOTP secret):")
        for username, _first, _last, role, _ in DEMO_USERS:
            self.stdout.write(f"  {username:10} {str(role.label):20} TOTP secret {demo_totp_secret(username)}")
        self.stdout.write(
            "Add a secret to an authenticator app, or print the current code: .venv/bin/python manage.py demo_code anna"
        )
