"""Check the audit log's hash chain; exit 1 when any event was changed or deleted."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from privacy.chain import verify
from privacy.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain (privacy.chain): every event unchanged, none missing. Prints the head "
        "(newest seq and hash): record it elsewhere, and pass it back with --head to also detect the newest "
        "events being deleted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--head", help="SEQ:HASH recorded earlier; that event must still be in the chain")

    def handle(self, *args, head: str | None = None, **options) -> None:
        events = AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)
        report = verify((e.seq, e.prev_hash, e.hash, e.chain_fields()) for e in events)
        problems = list(report.problems)
        if head:
            seq, _, digest = head.partition(":")
            recorded = AuditEvent.objects.filter(seq=int(seq)).values_list("hash", flat=True).first()
            if recorded != digest:
                problems.append(f"seq {seq}: the recorded head is no longer in the chain (events deleted)")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"audit chain broken: {len(problems)} problem(s) in {report.checked} events")
        head_text = f"head {report.head_seq}:{report.head_hash}" if report.head_seq is not None else "no head yet"
        self.stdout.write(f"audit chain intact: {report.checked} events; {head_text}")
