"""Real Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out, and this network refuses it.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium(*extra_args: str) -> Iterator:
    """A launched Chromium; skipped where it is not installed, but a failure in CI, which installs it."""
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test are still sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
        pytest.skip(f"no {CHROMIUM} (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def second_factor(target, username: str, timeout: float = 15_000) -> None:
    """After the password: give the second factor on the real pages, with a real TOTP code.

    A user with a device types its current code; a user without one goes through the enrolment (QR page,
    code from the new secret, recovery codes, Continue) as on a first sign-in. ``target`` is a Playwright Page or
    FrameLocator (sign-in inside the Dion iframe); codes are computed from the secrets as a phone would.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from tests.support.twofactor import code_for, current_code

    user = User.objects.get(username=username)
    token = target.locator("input[name=token]")
    token.wait_for(timeout=timeout)
    if target.locator("img.qr").count():
        token.fill(code_for(TOTPDevice.objects.get(user=user, confirmed=False)))
        target.locator("main button[type=submit].primary").click()
        target.locator(".recovery-codes").wait_for(timeout=timeout)
        target.locator("main a.button.primary").click()
        return
    token.fill(current_code(user))
    target.locator("main button[type=submit].primary").click()
