"""Uploading a recorded call in real Chromium: the consent check, the transfer's progress bar, then the
analysis's (in the background, embedded shape), and the report's link, all without leaving the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reports.models import Recording, RecordingStatus
from tests.conftest import PASSWORD
from tests.support.browser import second_factor
from tests.support.engine import HAPPY_CLIP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, browser) -> Iterator:
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # uncaught errors in the scripts
    yield page
    context.close()


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, username)
    page.wait_for_load_state()


def _value(page, testid: str) -> int:
    return page.eval_on_selector(f"[data-testid={testid}]", "bar => bar.value")


def test_a_manager_uploads_a_cremad_clip_and_follows_the_progress_to_the_report(
    page, live_server, manager, client_of_manager, media, eager_celery, process_engine
):
    from playwright.sync_api import expect

    base = live_server.url
    _sign_in(page, base, manager.username)
    page.goto(f"{base}/reports/upload/")
    assert page.locator("input[name=labels]").count() == 0  # labelled uploads live on the pilot page
    page.select_option("select[name=client]", str(client_of_manager.pk))
    page.set_input_files("input[name=video]", str(HAPPY_CLIP))

    # Without the consent attestation the browser does not send the form.
    page.click("[data-upload-submit]")
    page.wait_for_timeout(300)
    assert not Recording.objects.exists()
    assert page.locator("[data-testid=upload-progress]").is_hidden()

    page.check("input[name=consent]")
    page.click("[data-upload-submit]")
    # The transfer's own bar fills, then the analysis's, on the same page (no navigation: the form went by XHR).
    expect(page.locator("[data-testid=transfer-bar]")).to_have_js_property("value", 100, timeout=30_000)
    assert page.locator("[data-transfer-text]").inner_text() == "Файл загружен."
    report_link = page.locator("[data-testid=upload-progress] [data-testid=report-link]")
    report_link.wait_for(state="visible", timeout=90_000)
    assert _value(page, "transfer-bar") == 100 and _value(page, "analysis-bar") == 100
    assert page.locator("[data-analysis-text]").inner_text() == "Анализ завершён."
    assert page.url == f"{base}/reports/upload/"

    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.DONE and recording.call_id is not None
    assert page.locator("[data-recording-link]").get_attribute("href") == f"/reports/upload/{recording.pk}/"
    report_link.click()
    page.wait_for_url(f"**/reports/call/{recording.call_id}/")
    assert page.locator("[data-testid=upload-deleted]").count() == 1
    assert page.errors == []
