"""The whole live call in real Chromium: fake camera on the client's side, the manager's live page,
End call, and the report's dominant expression for a happy and an angry CREMA-D clip."""

from __future__ import annotations

import re

import pytest

from calls.models import Call, CallStatus, Consent
from engine.video import analyze_video
from reports.models import CallReport
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.engine import shared_data_dir
from tests.support.live import write_y4m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

# A real face video as the webcam, and camera permission granted without a prompt.
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.mark.parametrize(("clip", "expected"), [("HAP", "happy"), ("ANG", "angry")])
def test_live_call_from_client_camera_to_report(
    daphne_stack, classifier_path, process_engine, manager, tmp_path, clip, expected
):
    from playwright.sync_api import expect

    source = shared_data_dir() / "cremad" / f"1001_DFA_{clip}_XX.flv"
    if not source.exists():
        pytest.skip(f"shared CREMA-D clip missing: {source}")
    camera = write_y4m(source, tmp_path / f"{clip}.y4m")
    base = daphne_stack.url
    with chromium(*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={camera}") as browser:
        # The manager signs in and starts the call with one click.
        staff = browser.new_context(locale="ru-RU")
        page = staff.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", manager.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].primary")
        page.wait_for_url(re.compile(r"/calls/$"))
        page.fill("input[name=new_client_name]", "Test Client")
        page.click("form.start-call button[type=submit]")
        page.wait_for_url(re.compile(r"/calls/[0-9a-f-]{36}/live/$"))
        link = page.input_value("#client-link")
        expect(page.locator("#consent-state")).to_have_attribute("data-state", "waiting")

        # The client opens the link in their own browser, reads, consents; the camera streams.
        client = browser.new_context(locale="ru-RU").new_page()
        client.goto(link)
        expect(client.locator("form input[name=agree]")).to_be_visible()
        client.check("input[name=agree]")
        client.click("form button[type=submit].primary")
        expect(client.locator("#indicator")).to_be_visible(timeout=15000)

        # The manager's page updates live.
        expect(page.locator("#consent-state")).to_have_attribute("data-state", "given", timeout=10000)
        # At least 12 scores arrived (the attribute counts them; no eval: the page's CSP forbids it).
        expect(page.locator("#live")).to_have_attribute(
            "data-scores", re.compile(r"^(1[2-9]|[2-9]\d|\d{3,})$"), timeout=60000
        )
        expect(page.locator("#expression")).not_to_have_text("—")
        expect(page.locator("#face")).to_have_attribute("data-visible", "yes")
        expect(page.locator("#status-line")).to_have_text("Идёт анализ, лицо в кадре")  # no longer "waiting"
        counters = client.evaluate("JSON.stringify(window.mimicCapture.counters)")

        # End call (asked first): the live page turns into a link to the report; the client page says thanks.
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#end-form button")
        report_link = page.locator("#done a[data-report]")
        expect(report_link).to_be_visible(timeout=10000)
        expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
        assert page.locator("#client-link").count() == 0 and page.locator("#dion-card").count() == 0
        expect(client.locator("#done")).to_be_visible(timeout=10000)
        href = report_link.get_attribute("href")

    call = Call.objects.get(manager=manager)
    assert call.status == CallStatus.ENDED
    assert str(call.pk) in href
    assert Consent.objects.filter(call=call, withdrawn_at=None).count() == 1
    report = CallReport.objects.get(call=call)
    assert report.summary["frames"] >= 12, counters
    assert report.summary["face_visible_pct"] > 80
    # The live path (browser downsampling, JPEG 0.7, sockets, workers) reads the clip as offline analysis does.
    offline = analyze_video(source, fps=2.0, engine=process_engine)["summary"]
    assert report.summary["dominant"] == offline["dominant"], (report.summary, offline)
    if offline["dominant"] != expected:
        # Not the live path's doing: the classifier itself reads the clip so at full resolution.
        pytest.xfail(f"the classifier reads {clip} as {offline['dominant']} offline too: {offline['expressions_pct']}")
    assert report.summary["dominant"] == expected, report.summary["expressions_pct"]
