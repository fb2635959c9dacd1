"""Stored reports are recomputed to the design's satisfaction figure by reports/migrations/0003."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from calls.models import Call, CallStatus
from reports.models import CallReport

migration = importlib.import_module("reports.migrations.0003_design_satisfaction")


@pytest.mark.django_db
def test_stored_reports_get_the_designs_figure_from_their_own_shares(manager, client_of_manager) -> None:
    def old_report(valence_pct: dict | None, satisfaction_pct: float | None) -> CallReport:
        call = Call.objects.create(manager=manager, client=client_of_manager, status=CallStatus.ENDED)
        summary = {"valence_pct": valence_pct, "satisfaction_pct": satisfaction_pct, "frames": 10}
        return CallReport.objects.create(call=call, summary=summary, satisfaction_pct=satisfaction_pct)

    example = old_report({"negative": 15.3, "neutral": 52.0, "positive": 32.7}, 84.7)  # the old 100 − negative
    faceless = old_report({"negative": 0.0, "neutral": 0.0, "positive": 0.0}, None)

    migration.recompute(apps, None)

    example.refresh_from_db()
    faceless.refresh_from_db()
    assert example.satisfaction_pct == 79.32
    assert example.summary["satisfaction_pct"] == 79.32
    assert example.summary["frames"] == 10  # the rest of the summary is kept
    assert faceless.satisfaction_pct is None


def test_the_migration_computes_what_the_engine_computes() -> None:
    from engine.analytics import satisfaction

    for shares in [(32.7, 52.0, 15.3), (0, 0, 100), (10, 80, 10), (0, 0, 0)]:
        positive, neutral, negative = shares
        expected = satisfaction(positive, neutral, negative)
        assert migration._design_satisfaction({"positive": positive, "neutral": neutral, "negative": negative}) == (
            expected
        )
