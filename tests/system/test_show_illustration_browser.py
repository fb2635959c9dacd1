"""In real Chromium during a fake-camera call: the manager shows an illustration from the live page, the
client's page displays it, and the report marks when the client looked at it."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client as HttpClient

from calls.lifecycle import start_call
from calls.models import Call, CallStatus, Client, Showing, ShowingSource
from illustrations.models import Illustration, Product
from tests.support.browser import chromium
from tests.support.engine import shared_data_dir
from tests.support.live import write_y4m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

# Content-Security-Policy violations in the page itself (blocked scripts, styles, images).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def wait_for(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_the_manager_shows_an_illustration_and_the_report_carries_the_interval(
    daphne_stack, classifier_path, process_engine, manager, tmp_path
):
    from playwright.sync_api import expect

    source = shared_data_dir() / "cremad" / "1001_DFA_HAP_XX.flv"
    if not source.exists():
        pytest.skip(f"shared CREMA-D clip missing: {source}")
    camera = write_y4m(source, tmp_path / "HAP.y4m", loops=12)
    client_row = Client.objects.create(display_name="Иван Петров", manager=manager)
    ill = Illustration.objects.create(
        manager=manager, client=client_row, client_label="Иван", initial_amount=Decimal(1000000), horizon_years=5
    )
    for i, name in enumerate(("обычный депозит", "золото в обезличенных металлических счетах", "золото в слитках")):
        Product.objects.create(illustration=ill, position=i, name=name, rate_pct=10 + i)
    call = Call.objects.create(manager=manager, client=client_row, status=CallStatus.SCHEDULED)
    start_call(call)
    # The manager's signed-in session (password and second factor: force_login in tests records both).
    session = HttpClient()
    session.force_login(manager)
    base = daphne_stack.url
    with chromium(*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={camera}") as browser:
        staff = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 900})
        cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
        staff.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
        staff.add_init_script(WATCH_CSP)
        page = staff.new_page()
        page.goto(f"{base}/calls/{call.pk}/live/")
        link = page.input_value("#client-link")

        client_ctx = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
        client_ctx.add_init_script(WATCH_CSP)
        client = client_ctx.new_page()
        errors: list[str] = []
        client.on("pageerror", lambda exc: errors.append(str(exc)))
        client.goto(link)
        client.check("input[name=agree]")
        client.click("form button[type=submit].primary")
        expect(client.locator("#indicator")).to_be_visible(timeout=15000)
        expect(page.locator("#live")).to_have_attribute("data-scores", re.compile(r"^([4-9]|\d{2,})$"), timeout=60000)

        # Show: the client's page displays the picture (the phone's narrow layout) and reports it on screen.
        card = page.locator("#ill-show-card")
        expect(card.locator("li[data-illustration]")).to_have_count(1)
        card.locator(f"li[data-illustration='{ill.pk}'] button.ill-show").click()
        expect(card.locator(f"li[data-illustration='{ill.pk}']")).to_have_attribute("data-shown", "yes")
        expect(client.locator("#shown")).to_be_visible(timeout=10000)
        expect(client.locator("#shown [data-title]")).to_have_text(
            "обычный депозит, золото в обезличенных металлических счетах, золото в слитках"
        )
        # Polled from here: wait_for_function evaluates a string in the page, which its CSP forbids.
        wait_for(lambda: client.evaluate("document.querySelector('#shown img').naturalWidth") > 0)
        assert client.evaluate("document.documentElement.scrollWidth") <= 390
        client.screenshot(path=str(tmp_path / "client-shown.png"), full_page=True)
        page.screenshot(path=str(tmp_path / "live-shown.png"), full_page=True)
        wait_for(lambda: Showing.objects.filter(call=call, ended_at=None).exists())
        time.sleep(4)  # the client looks at it for a few seconds while frames keep coming

        assert page.evaluate("window.__csp") == [] and client.evaluate("window.__csp") == []
        page.click("#ill-hide")
        expect(client.locator("#shown")).to_be_hidden(timeout=10000)
        wait_for(lambda: Showing.objects.filter(call=call).exclude(ended_at=None).exists())
        time.sleep(2)

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#end-form button")
        report_link = page.locator("#done a[data-report]")
        expect(report_link).to_be_visible(timeout=15000)
        page.goto(base + report_link.get_attribute("href"))
        expect(page.locator("[data-testid=shown-A]")).to_be_visible(timeout=30000)
        band = page.locator("svg g.shown").first
        start_ms = int(band.get_attribute("data-start-ms"))
        end_ms = int(band.get_attribute("data-end-ms"))
        assert page.evaluate("window.__csp") == []
        during = page.locator("[data-testid=shown-A] tr[data-row=during] td.num").all_text_contents()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    assert errors == []
    showing = Showing.objects.get(call=call)
    assert showing.source == ShowingSource.MANAGER and showing.subject == ill.pk
    call.refresh_from_db()
    assert (start_ms, end_ms) == showing.interval_ms(call)
    assert 3000 <= end_ms - start_ms <= 20000
    assert during[0] != "—"  # frames with a face arrived while it was on screen
