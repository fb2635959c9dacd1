"""Which browser origins may open the portal's WebSockets: the handshake of any other is refused (HTTP 403).

An origin is compared whole (scheme, host and port), never by host alone: another service on another port of
the same host is another origin and must not open a client's or a manager's socket.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin with the default port filled in; None for anything else."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def configured_origins() -> set[tuple[str, str, int]]:
    """SITE_ROOT's origin, CSRF_TRUSTED_ORIGINS (exact entries) and MIMIC_DION_ORIGINS."""
    found = set()
    for origin in [settings.SITE_ROOT, *settings.CSRF_TRUSTED_ORIGINS, *settings.MIMIC_DION_ORIGINS]:
        if "*" not in origin and (parsed := normalize_origin(origin)) is not None:
            found.add(parsed)
    return found


def allowed_origin(origin: str | None, host: str | None = None, scheme: str = "http") -> bool:
    """The origin is one configured (``configured_origins``), or the very origin the socket was opened on:
    ``scheme``://``host`` (the handshake's Host header, itself one of ALLOWED_HOSTS), port included."""
    if not origin or origin == "null":
        return False
    parsed = normalize_origin(origin)
    if parsed is None:
        return False
    if parsed in configured_origins():
        return True
    if not host:
        return False
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, [h for h in settings.ALLOWED_HOSTS if h != "*"]):
        return False
    return parsed == (scheme, domain, int(port) if port else _DEFAULT_PORTS[scheme])


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class SiteOriginValidator:
    """ASGI middleware: the portal's origin rule, read from settings at each handshake."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SiteOriginValidator guards WebSocket connections only")
        # The page's scheme: wss for a socket opened over TLS (here or, with SECURE_PROXY_SSL_HEADER, at the proxy).
        secure = scope.get("scheme") == "wss" or _proxy_says_https(scope)
        if allowed_origin(_header(scope, b"origin"), _header(scope, b"host"), "https" if secure else "http"):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def _proxy_says_https(scope: dict) -> bool:
    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not header:
        return False
    name = header[0].removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
    return _header(scope, name) == header[1]
