"""``manage.py dion_bot``: the Mimic bot in Dion chats (long poll); ``--once``: one batch of updates, then exit."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError

from dion import bot
from dion.transport import DionError
from dion.worker import BotWorker


class Command(BaseCommand):
    help = "Run the Mimic bot of Dion.Chats: /call starts a call with its Dion meeting, /end ends it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="handle one batch of updates and exit")
        parser.add_argument(
            "--timeout", type=int, default=0, help="with --once: seconds to long-poll for updates (default 0)"
        )

    def handle(self, *args, once: bool = False, timeout: int = 0, **options) -> None:
        if not bot.is_configured():
            raise CommandError(
                "The Dion bot is not configured: set DION_BOT_EMAIL and DION_BOT_PASSWORD (docs/dion.md)"
            )
        try:
            worker = BotWorker(bot.client_from_settings())
            if once:
                taken = worker.run_once(timeout=timeout)
                worker.poll_meetings_if_due()
                self.stdout.write(f"{taken} new update(s)")
                return
            me = worker.setup()
        except DionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Dion bot {me.get('name') or me.get('username') or ''} is running; Ctrl-C stops it")
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        try:
            worker.run_forever(stop=lambda: bool(stopping))
        except KeyboardInterrupt:
            pass
