"""A client link is bound to the browser that consented: two real browsers (cookie jars and WebSocket clients)
against real daphne. Another browser with the same link is refused until it consents itself; then the manager
is told, and the client's socket is never the one that gives way."""

from __future__ import annotations

import json
import re

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from calls.lifecycle import start_call
from calls.models import Notification
from calls.protocol import CloseCode, make_client_token
from tests.support.live import REDIS, frame_message, session_cookie
from tests.support.servers import CeleryWorker, DaphneServer, db_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def daphne(transactional_db, classifier_path):
    env = {**db_env(), "MIMIC_CLASSIFIER_PATH": str(classifier_path)}
    worker = CeleryWorker(env=env).start() if REDIS else None
    if worker is not None:
        env["CELERY_QUEUE"] = worker.queue
    try:
        with DaphneServer(env=env) as server:
            yield server
    finally:
        if worker is not None:
            worker.stop()


class Browser:
    """One browser: its own cookies, the client page over HTTP, the camera socket over WebSocket."""

    def __init__(self, server: DaphneServer, call) -> None:
        self.server, self.call = server, call
        self.http = requests.Session()
        self.page = f"{server.url}/calls/c/{make_client_token(call.pk)}/"

    def consents(self) -> bool:
        """Opens the link; ticks and sends the consent form if the page asks for it. True if it asked."""
        html = self.http.get(self.page, timeout=20).text
        if 'name="agree"' not in html:
            return False
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        response = self.http.post(self.page, data={"csrfmiddlewaretoken": csrf, "agree": "on"}, timeout=20,
                                  headers={"Referer": self.page})  # fmt: skip
        assert response.status_code == 200 and 'name="agree"' not in response.text
        return True

    def socket(self):
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        url = f"{self.server.ws_url}/ws/calls/{self.call.pk}/capture/?token={make_client_token(self.call.pk)}"
        return connect(url, origin=self.server.url, additional_headers={"Cookie": cookie}, open_timeout=20)


def closed_with(ws, timeout: float = 10.0) -> int | None:
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def hello(ws) -> dict:
    message = json.loads(ws.recv(timeout=20))
    assert message["t"] == "hello", message
    return message


def acked(ws, seq: int) -> bool:
    ws.send(frame_message(seq))
    return json.loads(ws.recv(timeout=30)) == {"t": "ack", "seq": seq}


def test_a_browser_without_the_consent_is_refused_and_the_clients_socket_lives_on(daphne, call) -> None:
    start_call(call)
    client, intruder = Browser(daphne, call), Browser(daphne, call)
    assert client.consents()
    with client.socket() as camera:
        hello(camera)
        assert acked(camera, 0)
        with intruder.socket() as stolen:  # the same link, another browser, no consent
            assert closed_with(stolen) == CloseCode.NO_CONSENT
        assert acked(camera, 1)  # never replaced (4009): the client's page goes on
    # The intruder's own page asks for consent: the client's does not hold for it.
    assert 'name="agree"' in intruder.http.get(intruder.page, timeout=20).text
    assert 'name="agree"' not in client.http.get(client.page, timeout=20).text


def test_another_browser_must_consent_itself_and_the_manager_is_told(daphne, call, manager) -> None:
    start_call(call)
    client, second = Browser(daphne, call), Browser(daphne, call)
    assert client.consents()
    live = connect(f"{daphne.ws_url}/ws/calls/{call.pk}/live/", origin=daphne.url,
                   additional_headers={"Cookie": session_cookie(manager)}, open_timeout=20)  # fmt: skip
    with live, client.socket() as camera:
        hello(live)
        hello(camera)
        assert second.consents()  # a second device consents for itself...
        messages = [json.loads(live.recv(timeout=10))]
        while messages[-1]["t"] != "consent":
            messages.append(json.loads(live.recv(timeout=10)))
        assert messages[-1]["devices"] == 2  # ...and the manager's live page hears of it
        note = Notification.objects.get(user=manager, call=call)
        assert "Another device" in note.message or "устройств" in note.message
        with second.socket() as other:  # while the client's camera is on, the second device waits
            assert closed_with(other) == CloseCode.DEVICE_BUSY
        assert acked(camera, 0)
    with second.socket() as other:  # once it is off, the second device may take over
        hello(other)
        assert acked(other, 1)
