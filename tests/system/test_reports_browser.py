"""Reports in real Chromium: a report page, the dashboard with filters, and a PDF download."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Client
from tests.conftest import PASSWORD
from tests.support.browser import second_factor
from tests.support.reports import make_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, browser) -> Iterator:
    context = browser.new_context(accept_downloads=True, locale="ru-RU", viewport={"width": 1280, "height": 900})
    yield context.new_page()


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, username)
    page.wait_for_load_state()


def test_supervisor_opens_a_report_filters_the_dashboard_and_downloads_the_pdf(
    page, live_server, supervisor, manager, other_manager, client_of_manager, eager_celery, tmp_path
):
    manager.first_name, manager.last_name = "Анна", "Смирнова"
    manager.save()
    now = timezone.now()
    calm = make_call(manager, client_of_manager, created=now - timedelta(days=5), happy=[(10, 50)])
    tense = make_call(
        manager, client_of_manager, created=now - timedelta(days=1), negative=[(20, 70)], gaps=[(90, 100)]
    )
    boris_client = Client.objects.create(display_name="Клиент", manager=other_manager)
    make_call(other_manager, boris_client, created=now - timedelta(days=2))
    base = live_server.url

    _sign_in(page, base, supervisor.username)
    page.goto(f"{base}/reports/call/{tense.id}/")
    assert page.locator("[data-testid=satisfaction]").inner_text().strip() == (
        f"{tense.report.satisfaction_pct:.0f}\u00a0%"
    )
    assert page.locator("[data-testid=expressions] tr[data-row]").count() == 8
    assert page.locator("svg#report-timeline rect.episode").count() == 1
    assert page.locator("svg#report-timeline rect.gap").count() == 1
    assert page.locator("[data-testid=previous] tbody tr").count() == 1
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    page.goto(f"{base}/reports/dashboard/")
    assert page.locator("[data-testid=calls] tbody tr").count() == 3
    page.select_option("select[name=manager]", str(manager.pk))
    page.fill("input[name=below]", "80")
    page.click("[data-testid=filters] button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("[data-testid=calls] tbody tr")
    assert rows.count() == 1 and tense.client.pseudonym in rows.first.inner_text()
    assert page.locator("[data-testid=headline-calls]").inner_text() == "1"
    assert calm.report.satisfaction_pct >= 80  # the filter, not the data, removed it
    rows.first.locator("a").click()
    page.wait_for_url(f"**/reports/call/{tense.id}/")

    with page.expect_download() as info:
        page.click("[data-testid=pdf-link]")
    pdf_path = tmp_path / "report.pdf"
    info.value.save_as(pdf_path)
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, check=True, text=True).stdout
    assert tense.client.pseudonym in text
    assert "Анна Смирнова" in text
    assert "00:20–01:09" in text  # the negative episode's timestamps


def test_a_manager_gets_404_for_another_managers_report_in_the_browser(page, live_server, manager, outsider):
    other = Client.objects.create(display_name="Чужой", manager=outsider)
    call = make_call(outsider, other)
    _sign_in(page, live_server.url, manager.username)
    response = page.goto(f"{live_server.url}/reports/call/{call.id}/")
    assert response.status == 404
