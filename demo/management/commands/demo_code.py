from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from demo.management.commands.seed_demo import DEMO_USERS, demo_totp_key


class Command(BaseCommand):
    help = "Print the current sign-in code of a demo user (what an authenticator app would show)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", choices=[username for username, *_ in DEMO_USERS])

    def handle(self, *args, username: str, **options) -> None:
        if username not in {name for name, *_ in DEMO_USERS}:
            raise CommandError(f"{username} is not a demo user")
        self.stdout.write(f"{totp(bytes.fromhex(demo_totp_key(username))):06d}")
