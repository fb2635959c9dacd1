"""The client's consent record on a phone: the whole page fits the width, the hash wraps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from calls.lifecycle import give_consent, start_call
from calls.protocol import make_client_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("TMPDIR", "/tmp")) / "mimic-screenshots"


@pytest.fixture
def consent(call):
    """Made before the browser starts: Playwright's own event loop then runs in this thread."""
    start_call(call)
    return give_consent(call, "ru")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 768)])
def test_the_consent_record_fits_the_screen_with_its_hash(consent, live_server, browser, width, height) -> None:
    url = live_server.url + reverse("calls:client_consent_record", args=[make_client_token(consent.call_id)])
    page = browser.new_context(locale="ru-RU", viewport={"width": width, "height": height}).new_page()
    page.goto(url)
    hash_box = page.locator("code", has_text=consent.text_sha256).bounding_box()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"consent-record-{width}x{height}.png"), full_page=True)
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    assert hash_box["x"] + hash_box["width"] <= width
