"""The reports app's part in a call's life (receivers of calls.signals, connected in ReportsConfig.ready)."""

from __future__ import annotations

from reports.models import CallReport
from reports.tasks import build_call_report


def build_report(sender, call_id: str, reason: str, **kwargs) -> None:
    """The call ended: build its report in a worker (in-process in the embedded mode)."""
    build_call_report.delay(call_id)


def delete_report(sender, call_id: str, **kwargs) -> None:
    """The client withdrew consent: the call's report goes, inside the withdrawal's transaction."""
    CallReport.objects.filter(call_id=call_id).delete()
