"""The manager's live page in real Chromium, as it is used beside the Dion window: what fits at 1366×768 once
the client has consented, a side window from 360 px, what the status line says, End asking first, and the
ended and withdrawn states.

Django's live server speaks HTTP only, so the page's socket is Playwright's (``page.route_web_socket``): the
test sends the messages ManagerLiveConsumer sends (docs/live.md) into the page's real script, while End and
"Client withdrew consent" post to the real server.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse

from calls.lifecycle import give_consent, start_call
from calls.models import Call, CallStatus, Consent
from tests.conftest import PASSWORD
from tests.support.browser import second_factor
from tests.support.fake_socket import FakeSocket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SHOTS = Path(os.environ.get("TMPDIR", "/tmp")) / "mimic-screenshots"
DION_URL = "https://dion.example/room-42"


@pytest.fixture
def live_call(call) -> Call:
    """Started, the client not yet in. Made before the browser starts (Playwright's loop then runs here)."""
    call.dion_meeting_url = DION_URL
    call.save(update_fields=["dion_meeting_url"])
    start_call(call)
    return call


@pytest.fixture
def consented_call(live_call) -> Call:
    give_consent(live_call, "ru")
    return live_call


def _open_live_page(browser, call: Call, live_server, width: int, height: int):
    page = browser.new_context(locale="ru-RU", viewport={"width": width, "height": height}).new_page()
    dialogs: list[str] = []
    socket = FakeSocket(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", call.manager.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, call.manager.username)
    page.wait_for_load_state()
    page.goto(live_server.url + reverse("calls:call_live", args=[call.pk]))
    socket.wait_open()
    return page, socket, dialogs


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_at_1366x768_the_consented_page_shows_everything_without_scrolling(consented_call, live_server, browser):
    from playwright.sync_api import expect

    page, socket, _ = _open_live_page(browser, consented_call, live_server, 1366, 768)
    socket.send(t="hello", role="manager", consent=True, history=[])
    for i in range(6):
        socket.score(offset_ms=500 * i, label="angry", alert=True)
    socket.send(t="paused", services=["redis"])  # both banners at once: the tallest the panel gets
    expect(page.locator("#alert")).to_be_visible()
    expect(page.locator("#paused")).to_be_visible()
    expect(page.locator("#expression")).to_have_text("Гнев")

    # The link and Dion cards are one line each, the link itself folded away.
    for card in ("#link-card", "#dion-card"):
        assert page.locator(card).get_attribute("open") is None
        assert page.locator(card).bounding_box()["height"] < 50, card
    expect(page.locator("#client-link")).to_be_hidden()
    expect(page.locator("#link-card summary #copy-link")).to_be_visible()
    expect(page.locator("#dion-card summary a")).to_have_attribute("href", DION_URL)
    expect(page.locator("#consent-state")).to_have_text("Клиент дал согласие")
    _shot(page, "live-1366x768")

    assert page.evaluate("window.scrollY") == 0
    for part in ("#expression", "#gauge-box", "#alerts", "#timeline", "#status-line", "#end-form button"):
        box = page.locator(part).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 768, (part, box)
    assert _overflow(page) <= 0


@pytest.mark.parametrize(("width", "height"), [(360, 740), (390, 844)])
def test_a_side_window_from_360px_has_no_horizontal_overflow(live_call, live_server, browser, width, height):
    from playwright.sync_api import expect

    page, socket, _ = _open_live_page(browser, live_call, live_server, width, height)
    socket.send(t="hello", role="manager", consent=False, history=[])
    # Before consent the cards are open: the link, the footnote, the Dion form.
    expect(page.locator("#client-link")).to_be_visible()
    expect(page.locator("#dion-card input[name=dion_meeting_url]")).to_be_visible()
    assert _overflow(page) <= 0, f"{_overflow(page)}px wider than {width}px before consent"
    _shot(page, f"live-{width}x{height}-waiting")

    # The client consents: both cards fold by themselves.
    socket.send(t="consent", state="given", by="client")
    expect(page.locator("#consent-state")).to_have_attribute("data-state", "given")
    expect(page.locator("#client-link")).to_be_hidden()
    assert page.locator("#link-card").get_attribute("open") is None
    assert page.locator("#dion-card").get_attribute("open") is None
    socket.score(alert=True)
    socket.send(t="paused", services=["database"])
    expect(page.locator("#paused")).to_be_visible()
    assert _overflow(page) <= 0, f"{_overflow(page)}px wider than {width}px once consented"
    _shot(page, f"live-{width}x{height}-consented")


def test_the_status_line_says_what_is_happening(consented_call, live_server, browser):
    from playwright.sync_api import expect

    page, socket, _ = _open_live_page(browser, consented_call, live_server, 1366, 768)
    status = page.locator("#status-line")
    socket.send(t="hello", role="manager", consent=True, history=[])
    expect(status).to_have_attribute("data-state", "waiting")
    expect(status).to_have_text("Соединение установлено. Ожидаем кадры от клиента…")

    socket.score(face=True)  # the first score ends the waiting text
    expect(status).to_have_attribute("data-state", "analysing")
    expect(status).to_have_text("Идёт анализ, лицо в кадре")
    expect(page.locator("#expression")).to_have_text("Радость")

    socket.score(face=False, offset_ms=1500)
    expect(status).to_have_attribute("data-state", "no-face")
    expect(status).to_have_text(re.compile(r"^Лица нет в кадре [1-2] с$"))
    # It counts on from the last frame with a face, with no new message.
    expect(status).to_have_text(re.compile(r"^Лица нет в кадре [3-9] с$"), timeout=6000)

    socket.send(t="paused", services=["redis"])
    expect(status).to_have_text("Пауза: сервис недоступен")
    socket.send(t="resumed")
    expect(status).to_have_attribute("data-state", "no-face")
    socket.score(face=True, offset_ms=2000)
    expect(status).to_have_text("Идёт анализ, лицо в кадре")


def test_end_asks_first_and_then_the_page_points_to_the_report(consented_call, live_server, browser):
    from playwright.sync_api import expect

    page, socket, dialogs = _open_live_page(browser, consented_call, live_server, 1366, 768)
    socket.send(t="hello", role="manager", consent=True, history=[])
    socket.score()

    answer = {"accept": False}

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        if answer["accept"]:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.click("#end-form button")
    page.wait_for_timeout(500)  # a POST, had there been one, would have reached the server by now
    assert dialogs == ["Завершить звонок? Анализ остановится, и будет подготовлен отчёт."]
    assert Call.objects.get(pk=consented_call.pk).status == CallStatus.LIVE
    expect(page.locator("#call-status")).to_have_text("Идёт")
    expect(page.locator("#live-panel")).to_be_visible()

    answer["accept"] = True
    page.click("#end-form button")
    expect(page.locator("#call-status")).to_have_text("Завершён")
    expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
    assert Call.objects.get(pk=consented_call.pk).status == CallStatus.ENDED
    assert page.locator("#client-link").count() == 0 and page.locator("#link-card").count() == 0
    assert page.locator("#dion-card").count() == 0 and page.locator("input[name=dion_meeting_url]").count() == 0
    expect(page.locator("#done [data-message]")).to_have_text("Звонок завершён. Готовим отчёт…")
    expect(page.locator("#live-panel")).to_be_hidden()
    expect(page.locator("#done a[data-report]")).to_be_hidden()  # no link before the report exists

    report_url = reverse("reports:call_report", args=[consented_call.pk])
    socket.send(t="ended", reason="manager")
    socket.send(t="report", url=report_url)
    expect(page.locator("#done a[data-report]")).to_be_visible()
    expect(page.locator("#done a[data-report]")).to_have_attribute("href", report_url)
    expect(page.locator("#done [data-message]")).to_have_text("Звонок завершён.")
    _shot(page, "live-1366x768-ended")


@pytest.mark.parametrize("by", ["manager", "client", "socket-close"])
def test_after_a_withdrawal_the_page_says_the_data_was_deleted_and_links_no_report(
    consented_call, live_server, browser, by
):
    from playwright.sync_api import expect

    page, socket, dialogs = _open_live_page(browser, consented_call, live_server, 390, 844)
    socket.send(t="hello", role="manager", consent=True, history=[])
    socket.score()
    if by == "manager":

        def accept(dialog) -> None:
            dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        page.click("#withdraw-form button")
        expect(page.locator("#done")).to_have_attribute("data-state", "withdrawn")
        assert dialogs == ["Остановить анализ и удалить данные об эмоциях по этому звонку по просьбе клиента?"]
        assert Consent.objects.get(call=consented_call).withdrawn_by == "manager"
    elif by == "client":  # the client pressed Stop on their page: the consumer says so (then closes 4011)
        socket.send(t="consent", state="withdrawn", by="client")
    else:  # the message was missed (a reconnect): the close code alone says it
        socket.routes[-1].close(code=4011, reason="consent withdrawn")
    done = page.locator("#done")
    expect(done).to_be_visible()
    expect(done.locator("[data-message]")).to_have_text(
        "Клиент отозвал согласие: анализ остановлен, данные об эмоциях по этому звонку удалены."
    )
    expect(done.locator("a[data-report]")).to_be_hidden()
    expect(page.locator("#call-status")).to_have_text("Завершён")
    assert page.locator("#client-link").count() == 0
    _shot(page, f"live-390x844-withdrawn-by-{by}")
