"""The pages people use, on the demo's data, in real Chromium at 1366×768 and 390×844, in Russian: the manager's
live page while the call streams and after its end, the client's page, the call list, the report, the
illustration's share page and the dashboard.

Each page is checked for what a person sees first: the page is no wider than the screen, the controls the page
exists for are on the screen without scrolling, and no English UI word is left in the Russian text. One
screenshot per page and size is kept in ``$TMPDIR/mimic-screenshots/pages`` (the path is in each failure's
message and in the JUnit report's ``screenshot`` property) for a person to look at.

Django's live server speaks HTTP only, so the pages' sockets are Playwright's (tests/support/fake_socket.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from calls.lifecycle import give_consent, start_call
from calls.models import Call, CallStatus, Client
from calls.protocol import make_client_token
from demo.management.commands.seed_demo import DEMO_PASSWORD
from illustrations.models import ShareLink
from tests.support.browser import chromium, second_factor
from tests.support.engine import shared_data_dir
from tests.support.fake_socket import CAPTURE_PATH, FakeSocket
from tests.support.live import write_y4m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SHOTS = Path(os.environ.get("TMPDIR", "/tmp")) / "mimic-screenshots" / "pages"
VIEWPORTS = [pytest.param((1366, 768), id="1366x768"), pytest.param((390, 844), id="390x844")]
DESKTOP = (1366, 768)
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# Latin words a Russian page may show: the product's and the meeting service's names, file formats, the language
# switch (RU/EN is two letters, below the three a word needs here).
ALLOWED_LATIN = {"mimic", "dion", "pdf", "csv", "svg", "png", "sha"}
# English words that only the scripts write (not gettext msgids) or that a broken template leaves.
SCRIPT_WORDS = {"none", "null", "undefined", "nan", "true", "false", "object", "loading", "error", "live", "ended"}


def _english_ui_words() -> frozenset[str]:
    """Every English word of the UI: the words of the catalogue's msgids (placeholders and markup removed)."""
    po = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    msgids: list[str] = []
    current: list[str] | None = None
    for line in po.read_text(encoding="utf-8").splitlines():
        if line.startswith(("msgid ", "msgid_plural ")):
            current = [line.split(" ", 1)[1]]
            msgids.append("")
        elif line.startswith('"') and current is not None:
            current.append(line)
        else:
            if current is not None:
                msgids[-1] = "".join(part.strip()[1:-1] for part in current)
            current = None
    words: set[str] = set()
    for msgid in msgids:
        text = re.sub(r"%\(\w+\)[sd]|\{\{[^}]*\}\}|\{\w*\}|<[^>]+>|%[sd]|\S*://\S*", " ", msgid)
        words |= {w.lower() for w in re.findall(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z0-9])", text)}
    return frozenset((words | SCRIPT_WORDS) - ALLOWED_LATIN)


ENGLISH_UI_WORDS = _english_ui_words()

# What a person reads: the rendered text (innerText skips hidden elements), the title, and the words a control
# carries for them (placeholders, tooltips, labels for screen readers).
VISIBLE_TEXT = """() => [document.title, document.body.innerText,
  ...[...document.querySelectorAll('[placeholder], [title], [aria-label]')]
     .filter(el => el.getClientRects().length)
     .map(el => [el.getAttribute('placeholder'), el.getAttribute('title'), el.getAttribute('aria-label')].join(' ')),
].join('\\n')"""


# The innermost elements that reach past the screen's right edge, for a failure's message.
WIDEST = """(width) => [...document.body.querySelectorAll('*')]
  .filter(el => el.getBoundingClientRect().right > width + 0.5)
  .filter(el => ![...el.children].some(child => child.getBoundingClientRect().right > width + 0.5))
  .slice(0, 5)
  .map(el => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')}`
    + ` right=${Math.round(el.getBoundingClientRect().right)}`)"""


def english_words(text: str) -> list[str]:
    """The known English UI words in ``text``, as whole Latin words."""
    text = re.sub(r"\S*://\S*", " ", text)  # a link's address (the Dion meeting's) is no UI text
    text = re.sub(r"\bC-[0-9A-F]{6}\b", " ", text)  # nor a client's pseudonym (C-FACADE is hex)
    found = re.findall(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z0-9])", text)
    return sorted({w for w in found if w.lower() in ENGLISH_UI_WORDS})


def check_page(page, name: str, record_property, on_screen: tuple[str, ...] = ()) -> Path:
    """The checks every page gets; returns the screenshot's path."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}-{width}x{height}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), full_page=True)  # the first screen is its top
    record_property(f"screenshot-{name}-{width}x{height}", str(shot))

    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    inner_width = page.evaluate("window.innerWidth")
    if scroll_width > inner_width:
        wide = page.evaluate(WIDEST, inner_width)
        raise AssertionError(f"{name}: {scroll_width}px wide on a {inner_width}px screen: {wide} ({shot})")
    for selector in on_screen:
        locator = page.locator(selector)
        assert locator.count() == 1, f"{name}: {selector} appears {locator.count()} times ({shot})"
        box = locator.bounding_box()
        assert box is not None, f"{name}: {selector} is not shown ({shot})"
        right, bottom = box["x"] + box["width"], box["y"] + box["height"]
        inside = box["x"] >= 0 and box["y"] >= 0 and right <= width and bottom <= height
        assert inside, f"{name}: {selector} at {box} is not on the {width}×{height} screen ({shot})"
    text = page.evaluate(VISIBLE_TEXT)
    english = english_words(text)
    assert not english, f"{name}: {[line for line in text.splitlines() if any(w in line for w in english)]}"
    assert not english, f"{name}: English words on the Russian page: {english} ({shot})"
    return shot


# --- the demo's data ----------------------------------------------------------------------------------


@pytest.fixture
def demo(transactional_db) -> dict[str, User]:
    """The demo's users, clients, ended calls, feedback and shared illustrations (manage.py seed_demo)."""
    call_command("seed_demo", calls_per_client=2, verbosity=0)
    return {user.username: user for user in User.objects.filter(username__in=["anna", "boris", "svetlana"])}


@pytest.fixture
def live_call(demo) -> Call:
    """Anna's call with a demo client, started, with a Dion meeting; made before the browser starts."""
    client = Client.objects.filter(manager=demo["anna"]).order_by("pk").first()
    call = Call.objects.create(
        manager=demo["anna"], client=client, status=CallStatus.SCHEDULED, dion_meeting_url="https://dion.example/r/1"
    )
    start_call(call)
    return call


@pytest.fixture
def consented_call(live_call) -> Call:
    give_consent(live_call, "ru")
    return live_call


@pytest.fixture
def context(browser, live_server, viewport) -> Iterator:
    """A Russian browser context of the test's size."""
    width, height = viewport
    ctx = browser.new_context(locale="ru-RU", viewport={"width": width, "height": height})
    yield ctx
    ctx.close()


@pytest.fixture(params=VIEWPORTS)
def viewport(request) -> tuple[int, int]:
    return request.param


def open_page(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"


def sign_in(page, base: str, user: User) -> None:
    """The real sign-in: password, then the second factor (tests/support/browser.py)."""
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, user.username)
    page.wait_for_load_state()
    assert "/accounts/" not in page.url, f"{user.username} could not sign in: {page.url}"


# --- the pages ------------------------------------------------------------------------------------------


def test_the_live_page_while_streaming_and_after_the_end(
    demo, consented_call, live_server, context, viewport, record_property
):
    from playwright.sync_api import expect

    live_call = consented_call
    page = context.new_page()
    socket = FakeSocket(page)
    sign_in(page, live_server.url, demo["anna"])
    open_page(page, live_server.url + reverse("calls:call_live", args=[live_call.pk]))
    socket.wait_open()
    socket.send(t="hello", role="manager", consent=True, history=[])
    for i in range(8):
        socket.score(offset_ms=500 * i, label="angry" if i > 2 else "happy", alert=i > 5)
    expect(page.locator("#alert")).to_be_visible()
    expect(page.locator("#expression")).to_have_text("Гнев")
    expect(page.locator("#status-line")).to_have_text("Идёт анализ, лицо в кадре")
    # The manager watches it beside Dion: at 1366×768 End, the alerts and the gauge are on screen at once.
    controls = ("#end-form button", "#alerts", "#gauge-box") if viewport == DESKTOP else ()
    check_page(page, "live-streaming", record_property, on_screen=controls)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#end-form button")
    expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
    socket.send(t="ended", reason="manager")
    socket.send(t="report", url=reverse("reports:call_report", args=[live_call.pk]))
    expect(page.locator("#done a[data-report]")).to_be_visible()
    check_page(page, "live-ended", record_property, on_screen=("#done a[data-report]",))


@pytest.fixture
def camera(tmp_path) -> list[str]:
    """Chromium's fake camera: a CREMA-D face where the shared data has it, else Chromium's own test pattern."""
    clip = shared_data_dir() / "cremad" / "1001_DFA_HAP_XX.flv"
    if not clip.exists():
        return FAKE_CAMERA_ARGS
    return [*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={write_y4m(clip, tmp_path / 'face.y4m', loops=1)}"]


def test_the_client_page_asks_for_consent_then_shows_one_analysis_indicator(
    live_call, live_server, camera, viewport, record_property
):
    from playwright.sync_api import expect

    width, height = viewport
    url = live_server.url + reverse("calls:client_capture", args=[make_client_token(live_call.pk)])
    with chromium(*camera) as browser:
        page = browser.new_context(locale="ru-RU", viewport={"width": width, "height": height}).new_page()
        socket = FakeSocket(page, CAPTURE_PATH, ack_frames=True)
        open_page(page, url)
        # The consent text is long; the agreement and its button are on the first screen all the same.
        check_page(page, "client-consent", record_property, on_screen=("input[name=agree]", "form button.primary"))
        page.check("input[name=agree]")
        page.click("form button.primary")

        socket.wait_open()
        socket.send(t="hello", next_seq=0)
        for _ in range(200):  # the frames reach the socket (no wait_for_function: the page's CSP forbids eval)
            if socket.frames >= 3:
                break
            page.wait_for_timeout(100)
        assert socket.frames >= 3, f"{socket.frames} frames from the fake camera"
        # The camera is on: one "analysis on", and no button to turn on the camera that is already on.
        expect(page.locator("#indicator")).to_be_visible()
        assert page.evaluate("document.body.innerText").count("Анализ включён") == 1
        expect(page.locator("#start-camera")).to_be_hidden()
        expect(page.locator("#capture-state")).to_be_hidden()
        check_page(page, "client-streaming", record_property, on_screen=("#indicator", "#stop-form button"))


def test_without_a_camera_the_client_page_offers_to_turn_it_on_and_says_analysis_is_off(
    consented_call, live_server, browser, record_property
):
    from playwright.sync_api import expect

    live_call = consented_call
    page = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844}).new_page()
    socket = FakeSocket(page, CAPTURE_PATH)
    open_page(page, live_server.url + reverse("calls:client_capture", args=[make_client_token(live_call.pk)]))
    socket.wait_open()
    # This Chromium has no camera: getUserMedia fails, as when the client refuses it.
    expect(page.locator("#start-camera")).to_be_visible()
    expect(page.locator("#capture-state")).to_have_text(
        "Камера недоступна. Разрешите доступ к ней в браузере и попробуйте ещё раз."
    )
    expect(page.locator("#indicator")).to_be_hidden()
    assert "Анализ включён" not in page.evaluate("document.body.innerText")
    check_page(page, "client-no-camera", record_property, on_screen=("#start-camera", "#stop-form button"))


def test_the_call_list(demo, live_server, context, record_property):
    page = context.new_page()
    sign_in(page, live_server.url, demo["anna"])
    open_page(page, live_server.url + reverse("calls:call_list"))
    assert page.locator("[data-testid=calls] tbody tr").count() == Call.objects.filter(manager=demo["anna"]).count()
    check_page(page, "call-list", record_property)


def test_the_report(demo, live_server, context, record_property):
    call = Call.objects.filter(manager=demo["anna"], report__isnull=False).order_by("-created").first()
    page = context.new_page()
    sign_in(page, live_server.url, demo["anna"])
    open_page(page, live_server.url + reverse("reports:call_report", args=[call.pk]))
    downloads = ("[data-testid=pdf-link]", "[data-testid=csv-link]")
    check_page(page, "report", record_property, on_screen=downloads)


def test_the_illustration_share_page(demo, live_server, context, record_property):
    link = ShareLink.objects.filter(illustration__manager=demo["anna"]).first()
    page = context.new_page()
    open_page(page, live_server.url + link.get_share_url())
    page.wait_for_selector("#ill-controls:not([hidden])")
    check_page(page, "illustration-share", record_property)


def test_the_dashboard(demo, live_server, context, record_property):
    page = context.new_page()
    sign_in(page, live_server.url, demo["svetlana"])
    open_page(page, live_server.url + reverse("reports:dashboard"))
    assert page.locator("[data-testid=calls] tbody tr").count() >= 10
    check_page(page, "dashboard", record_property)
