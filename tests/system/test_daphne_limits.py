"""WebSocket limits enforced by the real server process (daphne started by bin/serve)."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from calls.lifecycle import give_consent, start_call
from calls.models import EmotionSample
from calls.protocol import make_client_token
from tests.support.live import browser_like_jpeg, frame_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(180)]


def test_daphne_refuses_a_message_over_256_kib_and_passes_a_normal_frame(daphne_stack, call) -> None:
    start_call(call)
    give_consent(call, "ru")
    url = f"{daphne_stack.ws_url}/ws/calls/{call.pk}/capture/?token={make_client_token(call.pk)}"
    with connect(url, origin=daphne_stack.url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
        ws.send(frame_message(0))
        assert json.loads(ws.recv(timeout=30)) == {"t": "ack", "seq": 0}
        ws.send(frame_message(1, browser_like_jpeg() + b"\0" * (256 * 1024)))
        with pytest.raises(ConnectionClosedError) as closed:
            # The server cuts the connection itself (1009 "message too big"): the application never
            # sees the message, so no "drop" reply ever comes.
            ws.recv(timeout=10)
    # Autobahn (under daphne) fails the connection: a 1009 close frame or just the TCP close.
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    # With Redis the ack means "queued"; the worker stores it shortly after.
    deadline = time.monotonic() + 20
    while not EmotionSample.objects.filter(call=call).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(EmotionSample.objects.filter(call=call).values_list("seq", flat=True)) == [0]


def test_daphne_refuses_a_foreign_origin_at_the_handshake(daphne_stack, call) -> None:
    from websockets.exceptions import InvalidStatus

    give_consent(call, "ru")
    url = f"{daphne_stack.ws_url}/ws/calls/{call.pk}/capture/?token={make_client_token(call.pk)}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="https://evil.example", open_timeout=10)
    assert refused.value.response.status_code == 403
