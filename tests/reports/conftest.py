"""Fixtures of the reports tests."""

from __future__ import annotations

import pytest

from engine.analytics import satisfaction
from reports.models import CallReport
from tests.support.reports import make_call


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def design_call(manager, client_of_manager):
    """A call whose shares are the design's example: negative 15.3 %, neutral 52.0 %, positive 32.7 %."""
    call = make_call(manager, client_of_manager)
    shares = {"negative": 15.3, "neutral": 52.0, "positive": 32.7}
    summary = {
        **call.report.summary,
        "valence_pct": shares,
        "satisfaction_pct": satisfaction(shares["positive"], shares["neutral"], shares["negative"]),
    }
    CallReport.store(call, summary)
    return call
