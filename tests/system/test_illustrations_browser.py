"""The whole illustration flow in real Chromium: manager builds and shares, the client explores and rates."""

from __future__ import annotations

import pytest

from illustrations.models import Illustration, ShareView
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


TREE_HEIGHTS = (
    "() => [...document.querySelectorAll('#ill-figure .ill-tree .ill-shape')]"
    ".map(s => s.getBoundingClientRect().height)"
)


def test_manager_shares_and_the_client_regrows_trees_and_rates(browser, live_server, manager, tmp_path):
    errors: list[str] = []
    staff = browser.new_context(viewport={"width": 1200, "height": 900})
    page = staff.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/accounts/login/?next=/illustrations/new/")
    page.fill("input[name=username]", manager.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/illustrations/new/")

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

    client.locator("#ill-year").fill("1")
    client.wait_for_function(
        f"(before) => ({TREE_HEIGHTS})().every((h, i) => h < before[i] * 0.5)", arg=before, timeout=5000
    )
    after = client.evaluate(TREE_HEIGHTS)
    assert all(a < b for a, b in zip(after, before, strict=True))
    assert client.text_content("#ill-year-out").startswith("1")
    client.screenshot(path=str(tmp_path / "client-year1.png"), full_page=True)

    client.locator("#ill-figure .ill-tree >> nth=2").tap()
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
    assert page.locator("#ill-figure svg").is_visible()
    assert page.locator("#ill-figure .ill-tree .ill-shape").bounding_box()["height"] > 100
    assert not page.locator("#ill-controls").is_visible()
    assert page.locator("a[href$='illustration.pdf']").is_visible()
    ctx.close()
