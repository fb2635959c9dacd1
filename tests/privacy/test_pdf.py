"""WeasyPrint, through lib.pdf.render_pdf, never fetches the network or reads local files."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lib.pdf import render_pdf


class _Canary(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        body = b"body { color: red }" if self.path.endswith(".css") else b"\x89PNG\r\n\x1a\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def canary():
    _Canary.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Canary.hits
    server.shutdown()
    server.server_close()


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
def test_no_network_fetch_and_no_local_file_is_read(canary, tmp_path, settings):
    base, hits = canary
    port = base.rsplit(":", 1)[1]
    html = f"""<!doctype html><html><head>
      <link rel="stylesheet" href="{base}/style.css">
      <link rel="stylesheet" href="http://localhost:{port}/static/css/mimic.css">
      <style>
        @import url("{base}/import.css");
        @font-face {{ font-family: X; src: url("{base}/font.woff"); }}
        body {{ background: url("{base}/bg.png"); font-family: X; }}
      </style></head><body>
      <p>VISIBLE-MARKER</p>
      <img src="{base}/img.png"> <img src="//127.0.0.1:{port}/proto-relative.png">
      <img src="file:///etc/passwd"> <object data="file:///etc/passwd"></object>
      <embed src="file:///etc/passwd"> <iframe src="file:///etc/passwd"></iframe>
      <a rel="attachment" href="file:///etc/passwd">attachment</a>
      <a rel="attachment" href="{base}/attachment.txt">attachment 2</a>
      <img src="ftp://127.0.0.1:{port}/ftp.png"> <img src="/etc/passwd"> <img src="../../../../etc/passwd">
    </body></html>"""
    pdf = render_pdf(html, base_url=f"{base}/")
    assert pdf.startswith(b"%PDF")
    assert hits == []
    text = _pdf_text(pdf, tmp_path)
    assert "VISIBLE-MARKER" in text
    passwd = open("/etc/passwd").read()
    assert "root:x:0:0" not in text and b"root:x:0:0" not in pdf
    assert passwd.splitlines()[0].encode() not in pdf
    # Streams are compressed, so also ask poppler whether any file got embedded as an attachment.
    (tmp_path / "out.pdf").write_bytes(pdf)
    listing = subprocess.run(["pdfdetach", "-list", str(tmp_path / "out.pdf")], capture_output=True, text=True).stdout
    assert listing.strip().startswith("0 embedded files"), listing


def test_the_canary_does_count_a_real_fetch(canary):
    # The server works: a plain urllib fetch is counted, so zero hits above means zero fetches.
    import urllib.request

    base, hits = canary
    urllib.request.urlopen(f"{base}/probe.png", timeout=5).read()
    assert hits == ["/probe.png"]
