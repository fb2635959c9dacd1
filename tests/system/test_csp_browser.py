"""The strict CSP breaks no page: real Chromium reports no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from calls import protocol as capture
from calls.models import Call, CallStatus
from tests.conftest import PASSWORD
from tests.support.browser import second_factor
from tests.support.privacy_world import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Collects violations in the page itself (the event fires for blocked scripts, styles, frames...).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
"""


@pytest.fixture
def page(live_server, browser) -> Iterator:
    context = browser.new_context(locale="ru-RU")
    context.add_init_script(WATCH)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))
    yield page


def test_the_main_pages_load_without_csp_violations(page, live_server, manager):
    world = build_world(manager)
    call = world["call"]
    base = live_server.url
    page.goto(f"{base}{reverse('accounts:login')}")
    page.fill("input[name=username]", manager.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, manager.username)
    page.wait_for_load_state()
    urls = [
        reverse("calls:call_list"),
        reverse("calls:call_detail", args=[call.pk]),
        reverse("reports:call_report", args=[call.pk]),
        reverse("reports:dashboard"),
        reverse("reports:trends"),
        reverse("reports:upload"),
    ]
    if "illustration" in world:
        urls += [world["illustration"].get_absolute_url(), reverse("illustrations:create")]
        urls.append(world["sharelink"].get_share_url())
    # An open call, so the live pages load their scripts (the consent page and the manager's panel).
    open_call = Call.objects.create(manager=manager, client=world["client"], status=CallStatus.SCHEDULED)
    urls.append(reverse("calls:call_live", args=[open_call.pk]))
    urls.append(reverse("calls:client_capture", args=[capture.make_client_token(open_call.pk)]))
    for url in urls:
        response = page.goto(base + url)
        assert response.status < 400, (url, response.status)
        page.wait_for_load_state("networkidle")
        assert "Content-Security-Policy" in " ".join(response.headers.keys()).title() or response.headers.get(
            "content-security-policy"
        )
        violations = page.evaluate("window.__csp")
        console = [m for m in page.console_messages if "Content Security Policy" in m]
        assert violations == [] and console == [], (url, violations, console)


def test_the_watch_does_see_a_violation(page, live_server, monkeypatch):
    # Proves the check above can fail: with a policy that forbids the stylesheet, Chromium reports it.
    from privacy import middleware

    monkeypatch.setattr(middleware, "content_security_policy", lambda nonce, path: "default-src 'none'")
    page.goto(live_server.url + reverse("accounts:login"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp"), "no violation seen"
