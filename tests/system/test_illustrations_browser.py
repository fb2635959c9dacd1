"""The whole illustration flow in real Chromium: manager builds and shares, the client explores and rates."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from illustrations.models import Illustration, ShareView

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in(browser, live_server, user, **options):
    """A browser context with ``user``'s fully signed-in session (password and second factor: force_login in
    tests records both), so these tests exercise the illustration pages, not the sign-in pages."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return context


# The trees of the layout on screen (the page holds both; CSS shows one).
TREE_HEIGHTS = (
    "() => [...document.querySelectorAll('#ill-figure .ill-tree .ill-shape')]"
    ".filter(s => s.closest('svg').getBoundingClientRect().width > 0)"
    ".map(s => s.getBoundingClientRect().height)"
)


def test_manager_shares_and_the_client_regrows_trees_and_rates(browser, live_server, manager, tmp_path):
    errors: list[str] = []
    staff = signed_in(browser, live_server, manager, viewport={"width": 1200, "height": 900})
    page = staff.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/illustrations/new/")

    page.fill("#id_client_label", "Иван")
    page.fill("#id_initial_amount", "1 000 000")
    page.fill("#id_monthly_topup", "5000")
    page.fill("#id_horizon_years", "15")
    # The three presets are already there; the JS preset button fills the fourth row.
    page.click(".ill-preset >> nth=0")
    assert page.input_value("#id_products-3-rate_pct") == "15"
    page.fill("#id_products-3-name", "Вклад плюс")
    page.fill("#id_products-3-rate_pct", "16,5")
    page.click("form#ill-form button[type=submit]")
    page.wait_for_selector(".ill-figure svg")
    illustration = Illustration.objects.get()
    assert illustration.manager == manager and illustration.products.count() == 4

    page.click("#ill-share")
    share_url = page.input_value(".ill-share-url >> nth=0")
    assert "/illustrations/s/" in share_url
    # One click copies the link: the clipboard API here (localhost is a secure context).
    staff.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click(".ill-copy >> nth=0")
    page.wait_for_selector(".ill-copy-state:not(:empty)")
    assert page.text_content(".ill-copy-state") == page.get_attribute(".ill-copy >> nth=0", "data-copied")
    assert page.evaluate("navigator.clipboard.readText()") == share_url
    staff.close()

    # The client: a fresh context, no session, phone-sized.
    client_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    client = client_ctx.new_page()
    client.on("pageerror", lambda exc: errors.append(str(exc)))
    response = client.goto(share_url)
    assert response.status == 200 and response.headers["referrer-policy"] == "no-referrer"
    client.wait_for_selector("#ill-controls:not([hidden])")
    before = client.evaluate(TREE_HEIGHTS)
    assert len(before) == 4 and all(h > 0 for h in before)
    # Every tree on a 390 px phone without sideways scrolling, and a thumb-sized slider.
    assert client.evaluate("document.documentElement.scrollWidth") <= 390
    boxes = client.evaluate(
        "[...document.querySelectorAll('#ill-figure .ill-narrow .ill-tree .ill-shape')]"
        ".map(s => { const r = s.getBoundingClientRect(); return [r.left, r.right]; })"
    )
    assert len(boxes) == 4 and all(0 <= left and right <= 390 for left, right in boxes)
    assert client.locator("#ill-year").bounding_box()["height"] >= 44

    client.locator("#ill-year").fill("1")
    client.wait_for_function(
        f"(before) => ({TREE_HEIGHTS})().every((h, i) => h < before[i] * 0.5)", arg=before, timeout=5000
    )
    after = client.evaluate(TREE_HEIGHTS)
    assert all(a < b for a, b in zip(after, before, strict=True))
    assert client.text_content("#ill-year-out").startswith("1")
    client.screenshot(path=str(tmp_path / "client-year1.png"), full_page=True)

    client.locator("#ill-figure .ill-narrow .ill-tree >> nth=2").tap()
    client.wait_for_selector("#ill-details:not([hidden])")
    assert client.locator("#ill-details").inner_text().strip() != ""

    client.click("#ill-understood")
    client.click(".ill-rate[data-rating='5']")
    client.wait_for_selector("#ill-thanks:not([hidden])")
    client_ctx.close()

    view = ShareView.objects.get()
    assert view.rating == 5
    assert view.slider_at is not None and view.details_at is not None and view.understood_at is not None
    assert errors == []


def test_the_copy_button_falls_back_without_the_clipboard_api(browser, live_server, manager):
    from illustrations.models import Product, ShareLink

    illustration = Illustration.objects.create(
        manager=manager, client_label="Пётр", initial_amount=1000, monthly_topup=0, horizon_years=5
    )
    Product.objects.create(illustration=illustration, position=0, name="Вклад", rate_pct=10)
    ShareLink.issue(illustration)
    ctx = signed_in(browser, live_server, manager)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    page = ctx.new_page()
    page.goto(live_server.url + illustration.get_absolute_url())
    page.wait_for_selector(".ill-copy")
    url = page.input_value(".ill-share-url")
    # An intranet served over plain HTTP has no navigator.clipboard: the selection is copied instead.
    page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})")
    page.click(".ill-copy")
    page.wait_for_selector(".ill-copy-state:not(:empty)")
    reader = ctx.new_page()
    reader.goto(live_server.url + "/accounts/login/")
    assert reader.evaluate("navigator.clipboard.readText()") == url
    ctx.close()


def test_without_javascript_the_client_still_sees_the_picture(browser, live_server, manager):
    from illustrations.models import Product, ShareLink

    illustration = Illustration.objects.create(
        manager=manager, client_label="Пётр", initial_amount=1000, monthly_topup=0, horizon_years=5
    )
    Product.objects.create(illustration=illustration, position=0, name="Вклад", rate_pct=10)
    link = ShareLink.issue(illustration)
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(live_server.url + link.get_share_url())
    assert page.locator("#ill-figure .ill-wide").is_visible()
    assert page.locator("#ill-figure .ill-wide .ill-tree .ill-shape").bounding_box()["height"] > 100
    assert not page.locator("#ill-controls").is_visible()
    assert page.locator("a[href$='illustration.pdf']").is_visible()
    ctx.close()


def test_the_default_example_on_desktop_and_phone(browser, live_server, manager, tmp_path):
    """The design's example (10, 11, 12 % over 5 years) on the client's page: three clearly different trees.

    ``MIMIC_DOCS_SCREENSHOTS=1`` writes the pictures to docs/ (docs/illustrations.md shows them).
    """
    import os
    from pathlib import Path

    from illustrations.models import Product, ShareLink

    illustration = Illustration.objects.create(
        manager=manager, client_label="Анна", initial_amount=1_000_000, monthly_topup=0, horizon_years=5
    )
    products = ("обычный депозит", "золото в обезличенных металлических счетах", "золото в слитках")
    for i, (name, risk) in enumerate(zip(products, ("low", "medium", "high"), strict=True)):
        Product.objects.create(illustration=illustration, position=i, name=name, rate_pct=10 + i, risk=risk)
    url = live_server.url + ShareLink.issue(illustration).get_share_url()
    out = Path(__file__).resolve().parents[2] / "docs" if os.environ.get("MIMIC_DOCS_SCREENSHOTS") else tmp_path
    for name, options, layout in (
        ("illustration-desktop.png", {"viewport": {"width": 1366, "height": 768}}, "wide"),
        ("illustration-phone.png", {"viewport": {"width": 390, "height": 844}, "is_mobile": True}, "narrow"),
    ):
        ctx = browser.new_context(**options)
        ctx.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_selector("#ill-controls:not([hidden])")
        assert page.evaluate("window.__csp") == []
        heights = page.evaluate(TREE_HEIGHTS)
        assert [round(h / heights[-1], 2) for h in heights] == [0.8, 0.9, 1.0]
        assert page.locator(f"#ill-figure .ill-{layout}").is_visible()
        labels = page.locator(f"#ill-figure .ill-{layout} .ill-rate-label").all_text_contents()
        assert [t.replace("\u00a0", " ") for t in labels] == ["10 %", "11 %", "12 %"]
        names = page.locator(f"#ill-figure .ill-{layout} .ill-name").all_text_contents()
        assert [n.replace("\u00a0", " ") for n in names] != [] and "…" not in "".join(names)
        assert page.evaluate("document.documentElement.scrollWidth") <= options["viewport"]["width"]
        page.locator("#ill-figure").screenshot(path=str(out / name))
        ctx.close()
