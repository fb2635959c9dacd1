"""The signed Dion webhook: bad signatures, replays, unknown meetings, and a meeting end that ends the call."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.urls import reverse

from calls.models import CallStatus
from dion import signing
from dion.models import DionMeeting, WebhookEvent

SECRET = "webhook-secret-for-tests"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.DION_WEBHOOK_SECRET = SECRET
    return settings


@pytest.fixture
def live_call(call):
    call.status = CallStatus.LIVE
    call.started_at = call.created
    call.dion_meeting_url = "https://dion.example/room-42"
    call.save()
    DionMeeting.objects.create(call=call, room_id="room-42", room_url=call.dion_meeting_url)
    return call


def _event(**fields) -> bytes:
    event = {"event_id": uuid.uuid4().hex, "type": "meeting.ended", "meeting_id": "room-42"}
    event.update(fields)
    return json.dumps(event).encode()


def _post(client, body: bytes, *, secret: str = SECRET, timestamp: int | None = None, signature: str | None = None):
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "HTTP_X_DION_TIMESTAMP": ts,
        "HTTP_X_DION_SIGNATURE": signature if signature is not None else signing.sign(secret, ts, body),
    }
    return client.post(reverse("dion:webhook"), data=body, content_type="application/json", **headers)


def test_a_signed_meeting_end_ends_the_call(client, live_call):
    response = _post(client, _event(event_id="evt-1"))

    assert response.status_code == 204
    live_call.refresh_from_db()
    assert live_call.status == CallStatus.ENDED and live_call.ended_at is not None
    assert WebhookEvent.objects.filter(event_id="evt-1", kind="meeting.ended").exists()


def test_the_call_is_also_found_by_its_pasted_meeting_link(client, call):
    call.status = CallStatus.LIVE
    call.dion_meeting_url = "https://dion.example/pasted-7"
    call.save()
    response = _post(client, _event(meeting_id="", meeting_url="https://dion.example/pasted-7/"))
    assert response.status_code == 204
    call.refresh_from_db()
    assert call.status == CallStatus.ENDED


def test_a_bad_signature_is_forbidden_and_changes_nothing(client, live_call):
    assert _post(client, _event(), secret="someone-elses-secret").status_code == 403
    assert _post(client, _event(), signature="").status_code == 403
    live_call.refresh_from_db()
    assert live_call.status == CallStatus.LIVE
    assert not WebhookEvent.objects.exists()


def test_a_body_changed_after_signing_is_forbidden(client, live_call):
    ts = str(int(time.time()))
    signature = signing.sign(SECRET, ts, _event(meeting_id="room-1"))
    assert _post(client, _event(meeting_id="room-42"), timestamp=int(ts), signature=signature).status_code == 403


def test_without_a_configured_secret_every_request_is_forbidden(client, live_call, settings):
    settings.DION_WEBHOOK_SECRET = ""
    assert _post(client, _event(), secret="").status_code == 403
    live_call.refresh_from_db()
    assert live_call.status == CallStatus.LIVE


def test_the_same_event_id_twice_is_a_replay(client, live_call):
    body = _event(event_id="evt-dup")
    assert _post(client, body).status_code == 204
    # A fresh timestamp and a valid signature do not make an old event new.
    assert _post(client, body, timestamp=int(time.time()) + 1).status_code == 409
    assert WebhookEvent.objects.filter(event_id="evt-dup").count() == 1


def test_an_old_timestamp_is_a_replay(client, live_call):
    response = _post(client, _event(), timestamp=int(time.time()) - 301)
    assert response.status_code == 409
    live_call.refresh_from_db()
    assert live_call.status == CallStatus.LIVE


def test_a_timestamp_far_in_the_future_is_refused_too(client, live_call):
    assert _post(client, _event(), timestamp=int(time.time()) + 301).status_code == 409


def test_an_unknown_meeting_is_404_and_its_event_is_not_used_up(client, live_call):
    body = _event(event_id="evt-early", meeting_id="room-999")
    assert _post(client, body).status_code == 404
    assert not WebhookEvent.objects.exists()
    live_call.refresh_from_db()
    assert live_call.status == CallStatus.LIVE


def test_an_already_ended_call_is_acknowledged(client, live_call):
    assert _post(client, _event()).status_code == 204
    assert _post(client, _event()).status_code == 204  # a second, different event for the same meeting


def test_other_event_types_are_acknowledged_and_ignored(client, live_call):
    assert _post(client, _event(type="meeting.started")).status_code == 204
    live_call.refresh_from_db()
    assert live_call.status == CallStatus.LIVE


def test_a_malformed_event_is_a_bad_request(client, live_call):
    assert _post(client, b"not json").status_code == 400
    assert _post(client, json.dumps({"type": "meeting.ended"}).encode()).status_code == 400


def test_only_post_is_allowed(client):
    assert client.get(reverse("dion:webhook")).status_code == 405


def test_the_signature_matches_the_documented_openssl_example():
    # docs/dion.md: printf '1700000000.<body>' | openssl dgst -sha256 -hmac s3cret
    body = b'{"event_id":"e1","type":"meeting.ended","meeting_id":"room-42"}'
    expected = "sha256=f5078bce9acb4d400661afe5b5cbb9c330faa832cbb993cc34b2c43945d2bade"
    assert signing.sign("s3cret", "1700000000", body) == expected
    assert signing.verify("s3cret", "1700000000", body, expected)
    assert not signing.verify("s3cret", "1700000001", body, expected)


def test_old_event_ids_are_forgotten_after_a_day(client, live_call, time_machine):
    time_machine.move_to("2026-01-01 12:00:00+00:00", tick=False)
    WebhookEvent.objects.create(event_id="evt-old", kind="meeting.ended")
    time_machine.move_to("2026-01-02 12:00:01+00:00", tick=False)
    assert _post(client, _event(event_id="evt-new"), timestamp=int(time.time())).status_code == 204
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt-new"]
