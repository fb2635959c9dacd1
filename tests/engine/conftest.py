"""Fixtures of the engine tests (no Django, no database: the engine is a plain library)."""

from __future__ import annotations

import pytest

from engine.inference import Engine


@pytest.fixture
def fresh_engine(classifier_path) -> Engine:
    """An engine of its own: tracked faces are per engine, and these tests look at them."""
    return Engine(classifier_path=classifier_path)


@pytest.fixture
def detector_passes(engine, monkeypatch) -> list[int | None]:
    """The ``max_side`` of every detector run the engine makes (160: the coarse pass; None: full size)."""
    calls: list[int | None] = []
    real = engine.detector.detect

    def spy(rgb, max_side=None):
        calls.append(max_side)
        return real(rgb, max_side)

    monkeypatch.setattr(engine.detector, "detect", spy)
    return calls
