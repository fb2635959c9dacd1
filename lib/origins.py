"""Which browser origins may open the portal's WebSockets: the handshake of any other is refused (HTTP 403)."""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.http.request import validate_host


def allowed_origin(origin: str | None) -> bool:
    """The site's own origin (SITE_ROOT, or any port of a host in ALLOWED_HOSTS) or a Dion origin."""
    if not origin or origin == "null":
        return False
    if origin in settings.MIMIC_DION_ORIGINS:
        return True
    site = urlsplit(settings.SITE_ROOT)
    if origin == f"{site.scheme}://{site.netloc}":
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return validate_host(parts.hostname, [h for h in settings.ALLOWED_HOSTS if h != "*"])


class SiteOriginValidator(OriginValidator):
    """Channels' origin check with the portal's rule, read from settings at each handshake."""

    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is not None and allowed_origin(parsed_origin.geturl())
