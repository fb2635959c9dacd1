"""Two-factor sign-in in real Chromium, for every role, in a tab: enrolment with the server-drawn QR code, the
code computed from the secret as a phone would, recovery codes, then a later sign-in with a fresh code.
(Inside the Dion iframe: tests/dion/test_embed.py.)"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD
from tests.support.twofactor import code_for, current_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collects CSP violations in the page itself (the QR code is a data: image, allowed by img-src).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
SHOTS = os.environ.get("MIMIC_SCREENSHOTS", "")  # a folder: save the enrolment page at 1366x768 and 390x844


@pytest.fixture
def context(browser) -> Iterator:
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 768})
    context.add_init_script(WATCH)
    yield context
    context.close()


@pytest.mark.parametrize("role", ["manager", "supervisor", "admin_user"])
def test_every_role_enrols_at_first_sign_in_and_later_signs_in_with_a_fresh_code(live_server, context, role, request):
    user = request.getfixturevalue(role)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")

    page.wait_for_url("**/accounts/login/enrol/**")
    qr = page.locator("img.qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")  # drawn: an SVG of the secret
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert len(secret) == 32 and secret in device.config_url
    assert page.evaluate("window.__csp") == []  # the data: QR image and the page pass the strict CSP
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/enrol-{role}-1366.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/enrol-{role}-390.png", full_page=True)
        page.set_viewport_size({"width": 1366, "height": 768})
    page.fill("input[name=token]", code_for(device))
    page.click("main button[type=submit].primary")

    page.wait_for_url("**/accounts/login/recovery-codes/**")
    assert page.locator(".recovery-codes li").count() == 10
    page.click("main a.button.primary")
    page.wait_for_url("**/calls/")
    assert page.evaluate("window.__csp") == []

    # Signed out and back: the password, then the code the app shows now.
    page.locator("form[action='/accounts/logout/'] button").first.click()
    page.wait_for_url("**/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/login/code/**")
    assert page.evaluate("window.__csp") == []
    page.fill("input[name=token]", current_code(user))
    page.click("main button[type=submit].primary")
    page.wait_for_url("**/calls/")
    assert page.evaluate("window.__csp") == []
