"""Hostile names are shown as text everywhere (HTML pages and PDF), and CSV cells cannot become formulas."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest
from django.urls import reverse

from reports.exports import safe_cell
from tests.support.privacy_world import build_world

SCRIPT = "<script>alert(1)</script>"
SVG = '"><svg onload=alert(2)>'
JS = "javascript:alert(3)"
CONTROL = "a\x07b\x1bc"
RTL = "\u202etxt.exe\u202c"
HOSTILE = f"{SCRIPT}{SVG}{JS}{CONTROL}{RTL}"


@pytest.fixture
def hostile_world(db, manager):
    manager.first_name, manager.last_name = HOSTILE, "Q"
    manager.save()
    return build_world(manager, name=HOSTILE)


def _assert_escaped(html: str) -> None:
    assert "<script>alert(1)" not in html
    assert "<svg onload" not in html and "onload=alert" not in html.replace("onload=alert(2)&gt;", "")
    assert not re.search(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", html, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the name is there, as text
    assert "&quot;&gt;&lt;svg onload=alert(2)&gt;" in html


@pytest.mark.parametrize("page", ["calls:call_detail", "calls:call_list", "reports:call_report", "reports:dashboard"])
def test_hostile_names_are_escaped_in_html_pages(client, supervisor, hostile_world, page):
    client.force_login(supervisor)  # supervisors see the manager's name on every page
    args = [hostile_world["call"].pk] if "call_" in page and page != "calls:call_list" else []
    response = client.get(reverse(page, args=args))
    assert response.status_code == 200
    html = response.content.decode()
    if page == "reports:dashboard" and "&lt;script&gt;" not in html:
        pytest.skip("the dashboard does not list this call's manager")
    _assert_escaped(html)


def test_the_illustration_label_is_escaped(client, manager, hostile_world):
    if "illustration" not in hostile_world:
        pytest.skip("illustrations not migrated yet")
    client.force_login(manager)
    response = client.get(hostile_world["illustration"].get_absolute_url())
    assert response.status_code == 200
    _assert_escaped(response.content.decode())


def test_the_admin_erasure_page_escapes_the_decrypted_client_name(client, admin_user, hostile_world):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:emotions_client_changelist"),
        {"action": "erase_client_data", "_selected_action": [str(hostile_world["client"].pk)]},
    )
    _assert_escaped(response.content.decode())


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
def test_the_pdf_prints_the_hostile_name_as_literal_text(client, supervisor, hostile_world, tmp_path):
    from webapp.celery import app

    client.force_login(supervisor)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True  # render in-process, also when REDIS_URL is set
    try:
        response = client.get(reverse("reports:call_report_pdf", args=[hostile_world["call"].pk]))
    finally:
        app.conf.task_always_eager = previous
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    path = tmp_path / "r.pdf"
    path.write_bytes(b"".join(response.streaming_content) if response.streaming else response.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    # Markup rendered as visible characters proves it was escaped, not interpreted.
    assert "<script>alert(1)</script>" in text.replace("\n", "")


# --- CSV --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+1", "+7 900", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")', "\t=1", "\r=1"])
def test_formula_starts_are_neutralised(value):
    cell = safe_cell(value)
    assert cell.startswith("'") and cell[1:] == value


@pytest.mark.parametrize(("value", "expected"), [(-5, -5), (3.5, 3.5), (None, ""), ("Анна", "Анна"), (True, "yes")])
def test_ordinary_values_pass_unchanged(value, expected):
    assert safe_cell(value) == expected


def test_a_round_trip_through_the_csv_module_keeps_the_guard():
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell("=cmd|' /C calc'!A0"), safe_cell(HOSTILE)])
    row = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert row[0].startswith("'=") and row[1] == HOSTILE


def test_report_csv_cells_do_not_start_a_formula(client, supervisor, manager, hostile_world):
    formula = '=HYPERLINK("http://evil")'
    hostile_world["client"].display_name = formula
    hostile_world["client"].save()
    # The CSVs name managers by username, which Django lets start with "@" or "+".
    manager.username = "@SUM"
    manager.save()
    client.force_login(supervisor)
    seen = []
    for url in (reverse("reports:call_report_csv", args=[hostile_world["call"].pk]), reverse("reports:dashboard_csv")):
        response = client.get(url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))):
            seen += row
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), (url, cell)
                if cell.startswith("-"):
                    float(cell)  # only negative numbers may start with a minus
    assert "'@SUM" in seen  # the manager is exported, neutralised
