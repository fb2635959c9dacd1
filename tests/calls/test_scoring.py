"""The worker's engine and call-state cache: one per process, built from settings, reset on demand."""

from __future__ import annotations

import pytest

from calls import scoring
from calls.lifecycle import end_call, start_call
from calls.models import Call
from tests.support.live import give_consent


@pytest.fixture
def clean_scoring():
    scoring.reset()
    yield
    scoring.reset()


def test_get_engine_is_one_per_process_until_reset(clean_scoring) -> None:
    engine = scoring.get_engine()
    assert scoring.get_engine() is engine
    scoring.reset()
    assert scoring.get_engine() is not engine


def test_the_engine_is_built_from_the_settings(clean_scoring, settings, classifier_path) -> None:
    settings.MIMIC_CLASSIFIER_PATH = str(classifier_path)
    settings.MIMIC_FRAME_MAX_BYTES = 12345
    engine = scoring.get_engine()
    assert engine.classifier_path == classifier_path
    assert engine.max_frame_bytes == 12345


@pytest.mark.django_db
def test_call_states_say_why_frames_of_a_call_cannot_be_stored(clean_scoring, call, manager, client_of_manager) -> None:
    consented = Call.objects.create(manager=manager, client=client_of_manager)
    start_call(consented)
    give_consent(consented)
    start_call(call)  # live, but the client has not consented
    states = scoring.call_states.get({str(consented.pk), str(call.pk), "00000000-0000-0000-0000-000000000000"})
    assert states == {
        str(consented.pk): None,
        str(call.pk): "no_consent",
        "00000000-0000-0000-0000-000000000000": "ended",
    }


@pytest.mark.django_db
def test_call_states_are_cached_until_forgotten(clean_scoring, call) -> None:
    start_call(call)
    give_consent(call)
    assert scoring.call_states.get({str(call.pk)}) == {str(call.pk): None}
    end_call(call.pk, "manager")
    assert scoring.call_states.get({str(call.pk)}) == {str(call.pk): None}  # within MIMIC_CALL_STATE_CACHE_MS
    scoring.call_states.forget(str(call.pk))
    assert scoring.call_states.get({str(call.pk)}) == {str(call.pk): "ended"}
