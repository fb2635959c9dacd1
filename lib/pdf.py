"""PDF rendering with WeasyPrint behind a hardened URL fetcher.

WeasyPrint would otherwise fetch any URL an HTML document names (http, ftp,
file:///etc/passwd...). Documents we render can carry user-supplied text, so
the fetcher only serves the app's own static files from disk and never touches
the network: URLs under STATIC_URL on one of our own hosts, ``file://`` paths
inside a static root, and inline ``data:`` URLs. Everything else is refused.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from pathlib import Path
from urllib import request as urllib_request
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http.request import validate_host

# WeasyPrint reports every step at INFO (even parsing its own stylesheets on import), and the root
# logger is at INFO: quiet it before the import.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import HTML  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

_MAX_RESOURCE_BYTES = 10 * 1024 * 1024


class UnsafeURL(ValueError):
    """The document asked for a resource outside the app's static files."""


def _static_roots() -> list[Path]:
    roots: list[Path] = []
    if settings.STATIC_ROOT:
        roots.append(Path(settings.STATIC_ROOT))
    for entry in getattr(settings, "STATICFILES_DIRS", []):
        roots.append(Path(entry[1] if isinstance(entry, tuple | list) else entry))
    # App static folders (e.g. admin) are found by the app-directories finder.
    for finder in finders.get_finders():
        for storage in getattr(finder, "storages", {}).values():
            location = getattr(storage, "location", None)
            if location:
                roots.append(Path(location))
    return [root.resolve() for root in roots if root.exists()]


def _inside_static(path: Path) -> Path:
    resolved = path.resolve()  # follows symlinks, so a link cannot point outside
    for root in _static_roots():
        if resolved == root or root in resolved.parents:
            if resolved.is_file():
                return resolved
            break
    raise UnsafeURL(f"not a static file: {path}")


def _own_host(host: str) -> bool:
    allowed = list(settings.ALLOWED_HOSTS)
    site_host = urlsplit(getattr(settings, "SITE_ROOT", "") or "").hostname
    if site_host:
        allowed.append(site_host)
    return bool(host) and validate_host(host, allowed)


def _static_path_from_url_path(url_path: str) -> Path:
    static_prefix = urlsplit(settings.STATIC_URL).path or "/static/"
    if not static_prefix.endswith("/"):
        static_prefix += "/"
    decoded = unquote(url_path)
    if "\x00" in decoded or not decoded.startswith(static_prefix):
        raise UnsafeURL("outside STATIC_URL")
    relative = posixpath.normpath(decoded[len(static_prefix) :])
    if relative.startswith(("..", "/")) or "/../" in f"/{relative}/":
        raise UnsafeURL("path traversal")
    found = finders.find(relative)
    if not found and settings.STATIC_ROOT:
        candidate = Path(settings.STATIC_ROOT) / relative
        found = str(candidate) if candidate.is_file() else None
    if not found:
        raise UnsafeURL(f"static file not found: {relative}")
    return _inside_static(Path(found if isinstance(found, str) else found[0]))


def _file_response(url: str, path: Path) -> URLFetcherResponse:
    if path.stat().st_size > _MAX_RESOURCE_BYTES:
        raise UnsafeURL("resource too large")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": content_type})


def safe_url_fetcher(url: str, timeout: int = 10, ssl_context=None) -> URLFetcherResponse:
    """Serve ``url`` from the app's static files or raise :class:`UnsafeURL`; never use the network.

    ``timeout`` and ``ssl_context`` mirror WeasyPrint's fetcher signature; they are
    unused because nothing is ever fetched over a socket.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        if len(url) > _MAX_RESOURCE_BYTES:
            raise UnsafeURL("data URL too large")
        response = urllib_request.DataHandler().data_open(urllib_request.Request(url))
        return URLFetcherResponse(url, response.read(), {"Content-Type": response.headers.get_content_type()})
    if scheme in ("http", "https"):
        if not _own_host(parts.hostname or ""):
            raise UnsafeURL(f"foreign host refused: {parts.hostname!r}")
        return _file_response(url, _static_path_from_url_path(parts.path))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise UnsafeURL("remote file URL refused")
        path = Path(urllib_request.url2pathname(unquote(parts.path)))
        return _file_response(url, _inside_static(path))
    raise UnsafeURL(f"scheme refused: {scheme!r}")


class _SafeFetcher(URLFetcher):
    """Adapter: WeasyPrint 70 expects a URLFetcher object, not a bare function."""

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:  # noqa: ARG002
        return safe_url_fetcher(url, timeout=self._timeout)


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """Render an HTML string to PDF bytes; relative URLs resolve against ``base_url`` (default SITE_ROOT)."""
    base = base_url or (getattr(settings, "SITE_ROOT", "") or "http://localhost").rstrip("/") + "/"
    return HTML(string=html, base_url=base, url_fetcher=_SafeFetcher()).write_pdf()
