"""Helpers for the reports tests: deterministic calls with samples and a stored report."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from calls.models import Call, CallSource
from engine.labels import EXPRESSIONS
from reports.recordings import store_ended_call, timeline_rows

STEP_MS = 500  # 2 fps


def probs_for(label: str, weight: float = 0.8) -> list[float]:
    rest = (1.0 - weight) / (len(EXPRESSIONS) - 1)
    return [weight if name == label else rest for name in EXPRESSIONS]


def timeline(
    seconds: float,
    *,
    negative: list[tuple[float, float]] = (),
    happy: list[tuple[float, float]] = (),
    gaps: list[tuple[float, float]] = (),
    no_face: list[tuple[float, float]] = (),
) -> tuple[list[int], list[bool], list[list[float] | None]]:
    """2 fps samples: neutral, except angry in ``negative`` and happy in ``happy`` ranges (seconds)."""

    def within(t: float, ranges) -> bool:
        return any(a <= t < b for a, b in ranges)

    t_ms, found, probs = [], [], []
    for i in range(int(seconds * 1000 / STEP_MS)):
        t = i * STEP_MS / 1000
        if within(t, gaps):
            continue
        t_ms.append(i * STEP_MS)
        if within(t, no_face):
            found.append(False)
            probs.append(None)
            continue
        label = "angry" if within(t, negative) else "happy" if within(t, happy) else "neutral"
        found.append(True)
        probs.append(probs_for(label))
    return t_ms, found, probs


def make_call(
    manager,
    client,
    *,
    created: datetime | None = None,
    seconds: float = 120,
    source: str = CallSource.LIVE,
    **shape,
) -> Call:
    created = created or timezone.now() - timedelta(days=1)
    t_ms, found, probs = timeline(seconds, **shape)
    return store_ended_call(
        manager, client, created, int(seconds * 1000), timeline_rows(t_ms, found, probs), source=source
    )
