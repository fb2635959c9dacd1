"""The report PDF: rendered by a Celery task, cached per report version, text and pixels checked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from engine.analytics import summarize
from lib import pdf as pdf_module
from reports.models import CallReport, PdfStatus, ReportPdf
from reports.tasks import render_report_pdf
from tests.support.reports import make_call, timeline


@pytest.fixture
def report_call(manager, client_of_manager):
    manager.first_name, manager.last_name = "Анна", "Смирнова"
    manager.save()
    make_call(manager, client_of_manager, negative=[(0, 40)])
    return make_call(manager, client_of_manager, seconds=240, negative=[(60, 75), (150, 170)], gaps=[(200, 215)])


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout


def test_pdf_download_renders_once_and_is_served_from_the_cache(
    manager_client, report_call, eager_celery, tmp_path, monkeypatch
):
    calls = []
    real = pdf_module.render_pdf
    monkeypatch.setattr(pdf_module, "render_pdf", lambda html, base_url=None: calls.append(1) or real(html, base_url))
    url = reverse("reports:call_report_pdf", args=[report_call.id])
    first = manager_client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    second = manager_client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    assert second.content == first.content
    assert len(calls) == 1
    assert ReportPdf.objects.get().status == PdfStatus.READY
    text = _pdf_text(first.content, tmp_path)
    assert report_call.client.pseudonym in text
    assert "Анна Смирнова" in text  # Cyrillic survives
    assert "01:00–01:14" in text  # the first negative episode (last angry sample at 74.5 s)


def test_pdf_uses_dejavu_sans(manager_client, report_call, eager_celery, tmp_path):
    response = manager_client.get(reverse("reports:call_report_pdf", args=[report_call.id]))
    path = tmp_path / "r.pdf"
    path.write_bytes(response.content)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    assert re.search(r"DejaVu-?Sans", fonts)


def test_pdf_first_page_is_not_blank(manager_client, report_call, eager_celery, tmp_path):
    response = manager_client.get(reverse("reports:call_report_pdf", args=[report_call.id]))
    path = tmp_path / "r.pdf"
    path.write_bytes(response.content)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True
    )
    png = next(tmp_path.glob("page*.png"))
    image = Image.open(png).convert("RGB")
    rgb = np.asarray(image, dtype=np.int32)
    ink = int((rgb.sum(axis=2) < 600).sum())
    reddish = int(((rgb[..., 0] > 150) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)).sum())
    assert ink > rgb.shape[0] * rgb.shape[1] * 0.02  # text and charts, not an empty page
    assert reddish > 20  # the negative episodes are drawn in red


def test_a_recomputed_report_gets_a_new_pdf(manager_client, report_call, eager_celery):
    url = reverse("reports:call_report_pdf", args=[report_call.id])
    manager_client.get(url)
    CallReport.store(report_call, summarize(*timeline(60)))
    manager_client.get(url)
    assert ReportPdf.objects.filter(report=report_call.report).count() == 2


def test_rerunning_the_task_for_a_ready_pdf_changes_nothing(manager_client, report_call, eager_celery):
    manager_client.get(reverse("reports:call_report_pdf", args=[report_call.id]))
    cached = ReportPdf.objects.get()
    render_report_pdf(cached.report_id, cached.version, cached.language)
    assert ReportPdf.objects.count() == 1 and ReportPdf.objects.get().created == cached.created


def test_with_a_worker_the_page_waits_and_polls_until_the_pdf_is_ready(manager_client, report_call, monkeypatch):
    queued = []
    monkeypatch.setattr(render_report_pdf, "delay", lambda *args: queued.append(args))
    url = reverse("reports:call_report_pdf", args=[report_call.id])
    status_url = reverse("reports:call_report_pdf_status", args=[report_call.id])
    waiting = manager_client.get(url)
    assert waiting.status_code == 202
    assert status_url in waiting.content.decode()
    assert manager_client.get(status_url).json()["status"] == "pending"
    manager_client.get(url)
    assert len(queued) == 1  # a second click does not queue it again
    render_report_pdf(*queued[0])  # what the worker does
    assert manager_client.get(status_url).json() == {"status": "ready", "url": url}
    assert manager_client.get(url)["Content-Type"] == "application/pdf"


def test_the_pdf_table_reads_satisfaction_then_the_three_shares_then_each_expression(
    manager_client, design_call, eager_celery, tmp_path
):
    text = _pdf_text(manager_client.get(reverse("reports:call_report_pdf", args=[design_call.id])).content, tmp_path)
    lines = text.splitlines()
    rows = [
        r"Общая удовлетворённость\*\s+79,3",
        r"Негативная\s+15,3",
        r"Нейтральная\s+52,0",
        r"Позитивная\s+32,7",
        r"Выражение лица\s+% времени, когда лицо видно",
        r"Гнев\s+\d",
        r"Презрение\s+\d",
    ]
    found = [next((i for i, line in enumerate(lines) if re.match(r"\s*" + row, line)), None) for row in rows]
    assert None not in found, dict(zip(rows, found, strict=True))
    assert found == sorted(found), text
