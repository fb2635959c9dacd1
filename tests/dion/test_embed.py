"""Mimic inside a Dion iframe, in real Chromium.

A "Dion" host page is served from another site (http://localhost:<port>) and frames the portal
(http://127.0.0.1:<port>, pytest-django's live_server). With MIMIC_EMBEDDING and the host in
MIMIC_DION_ORIGINS the manager signs in inside the frame (SameSite=None; Secure; Partitioned cookies,
which Chromium accepts over http on 127.0.0.1, a potentially trustworthy origin), starts a call and sees the
live page. A host that is not in MIMIC_DION_ORIGINS gets no portal: CSP frame-ancestors blocks it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import second_factor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class _HostHandler(BaseHTTPRequestHandler):
    portal_url = ""

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>Dion</title><h1>Dion meeting</h1>"
            f'<iframe id="mimic" src="{self.portal_url}" allow="camera; display-capture" '
            'width="1100" height="800"></iframe>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HostPage:
    """A tiny page on another site that frames ``portal_url``; reached as http://localhost:<port>."""

    def __init__(self, portal_url: str) -> None:
        handler = type("Handler", (_HostHandler,), {"portal_url": portal_url})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.server.server_address[1]}"

    def __enter__(self) -> HostPage:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def embedding(settings):
    """The portal configured for embedding, as MIMIC_EMBEDDING=1 would configure it."""
    settings.MIMIC_EMBEDDING = True
    settings.MIMIC_COOKIE_PARTITIONED = True
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.DION_ACCESS_TOKEN = settings.DION_ACCESS_TOKEN_FILE = settings.DION_BOT_EMAIL = ""
    return settings


def test_the_manager_signs_in_starts_a_call_and_sees_the_live_page_inside_dion(
    browser, live_server, embedding, manager, client_of_manager
):
    portal = live_server.url.replace("localhost", "127.0.0.1")
    with HostPage(f"{portal}/accounts/login/?next=/calls/") as host:
        embedding.MIMIC_DION_ORIGINS = [host.origin]
        page = browser.new_page()
        page.goto(host.origin + "/")
        frame = page.frame_locator("#mimic")

        frame.locator("input[name=username]").fill(manager.username)
        frame.locator("input[name=password]").fill(PASSWORD)
        frame.locator("button[type=submit].primary").click()
        # The second factor inside the frame too: a real TOTP code on Mimic's own page, no top-level redirect.
        second_factor(frame, manager.username)
        assert page.url == host.origin + "/"

        # Signed in without leaving the frame: the Dion page is still the top-level document.
        start = frame.locator(
            f"form[action='/calls/start/'] select[name=client] option[value='{client_of_manager.pk}']"
        )
        start.wait_for(state="attached", timeout=15_000)
        assert page.url == host.origin + "/"
        frame.locator("form[action='/calls/start/'] select[name=client]").select_option(str(client_of_manager.pk))
        frame.locator("form[action='/calls/start/'] button[type=submit]").click()

        frame.locator("#client-link").wait_for(timeout=15_000)
        call = manager.calls.get()
        assert call.status == "live"
        mimic = page.frame(url=lambda url: url.startswith(portal))
        assert mimic is not None and mimic.url == f"{portal}/calls/{call.pk}/live/"
        assert "/calls/c/" in frame.locator("#client-link").input_value()
        assert frame.locator("#dion-meeting").is_visible()  # the paste-the-link box of the Dion panel
        cookies = {c["name"]: c for c in page.context.cookies(portal)}
        assert cookies["sessionid"]["sameSite"] == "None" and cookies["sessionid"]["secure"] is True
        assert cookies["sessionid"].get("partitionKey", "").startswith("http://localhost")
        page.close()


def test_a_host_that_is_not_a_dion_origin_cannot_frame_the_portal(browser, live_server, embedding):
    portal = live_server.url.replace("localhost", "127.0.0.1")
    embedding.MIMIC_DION_ORIGINS = ["https://dion.bank.example"]
    with HostPage(f"{portal}/accounts/login/") as host:
        page = browser.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        with page.expect_response(lambda r: r.url.startswith(portal + "/accounts/login/")) as framed:
            page.goto(host.origin + "/")
        response = framed.value
        # The portal answered (so the block is the browser enforcing our CSP, not a dead server) ...
        assert response.status == 200
        assert "frame-ancestors 'self' https://dion.bank.example" in response.headers["content-security-policy"]
        page.wait_for_timeout(500)
        # ... and the frame shows no portal: no sign-in form was ever rendered in it.
        frame = page.frame_locator("#mimic")
        assert frame.locator("input[name=username]").count() == 0
        assert any("frame-ancestors" in text for text in console), console
        page.close()


def test_without_samesite_none_cookies_the_sign_in_inside_dion_fails(
    browser, live_server, embedding, manager, client_of_manager
):
    """The control: proves the host really is another site, so the passing test above depends on the cookies."""
    embedding.SESSION_COOKIE_SAMESITE = embedding.CSRF_COOKIE_SAMESITE = "Lax"
    embedding.MIMIC_COOKIE_PARTITIONED = False
    portal = live_server.url.replace("localhost", "127.0.0.1")
    with HostPage(f"{portal}/accounts/login/?next=/calls/") as host:
        embedding.MIMIC_DION_ORIGINS = [host.origin]
        page = browser.new_page()
        page.goto(host.origin + "/")
        frame = page.frame_locator("#mimic")
        frame.locator("input[name=username]").fill(manager.username)
        frame.locator("input[name=password]").fill(PASSWORD)
        with page.expect_response(
            lambda r: r.url.startswith(portal + "/accounts/login/") and r.request.method == "POST"
        ) as posted:
            frame.locator("button[type=submit].primary").click()
        assert posted.value.status == 403  # CSRF: the Lax cookie was not sent inside the cross-site frame
        assert frame.locator("form[action='/calls/start/']").count() == 0
        page.close()
