"""lib/pdf.py: the hardened fetcher serves our static files and nothing else; PDFs render."""

from __future__ import annotations

import subprocess

import pytest

from lib.pdf import UnsafeURL, render_pdf, safe_url_fetcher


def test_static_files_are_served_from_disk():
    response = safe_url_fetcher("http://testserver/static/css/illustrations-pdf.css")
    assert b".ill-pdf" in response.read()
    assert response.content_type == "text/css"


def test_file_urls_inside_static_are_allowed(settings):
    path = settings.BASE_DIR / "static" / "css" / "mimic.css"
    assert b":root" in safe_url_fetcher(path.as_uri()).read()


def test_data_urls_are_decoded_inline():
    assert safe_url_fetcher("data:text/plain;base64,aGk=").read() == b"hi"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file:///work/main/webapp/settings.py",
        "file://remote-host/static/css/mimic.css",
        "http://testserver/static/../webapp/settings.py",
        "http://testserver/static/%2e%2e/webapp/settings.py",
        "http://testserver/static/css/%2e%2e/%2e%2e/manage.py",
        "http://testserver/accounts/login/",
        "http://evil.example/static/css/mimic.css",
        "http://169.254.169.254/latest/meta-data/",
        "https://127.0.0.2/static/css/mimic.css",
        "ftp://testserver/static/css/mimic.css",
        "gopher://testserver/",
        "http://testserver/static/css/does-not-exist.css",
    ],
)
def test_everything_else_is_refused(url):
    with pytest.raises(UnsafeURL):
        safe_url_fetcher(url)


def test_a_symlink_out_of_static_is_refused(settings, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (static / "leak.css").symlink_to(secret)
    settings.STATICFILES_DIRS = [static]
    settings.STATIC_ROOT = tmp_path / "collected"
    with pytest.raises(UnsafeURL):
        safe_url_fetcher((static / "leak.css").as_uri())


def test_a_pdf_ignores_remote_and_local_file_references(tmp_path):
    html = """<html><head><link rel="stylesheet" href="/static/css/illustrations-pdf.css">
    <link rel="stylesheet" href="http://example.invalid/x.css"></head>
    <body class="ill-pdf"><p>Привет, 1&#x202f;234&#x202f;567&nbsp;₽</p>
    <img src="file:///etc/passwd"><img src="http://169.254.169.254/"></body></html>"""
    pdf = render_pdf(html, base_url="http://testserver/")
    assert pdf.startswith(b"%PDF-")
    out = tmp_path / "doc.pdf"
    out.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Привет" in text and "root:" not in text
