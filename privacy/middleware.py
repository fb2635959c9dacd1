"""Security headers: a strict Content-Security-Policy, framing only by Dion, partitioned cookies when embedded.

Runs right after Django's SecurityMiddleware, so it sees every response on its way out
(including the session and CSRF cookies set by the middleware below it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

# Paths that are never framed, whatever MIMIC_EMBEDDING says.
NEVER_FRAMED_PREFIXES = ("/admin/",)


def frame_ancestors(path: str) -> list[str]:
    """The CSP frame-ancestors sources allowed for ``path``: Dion origins only when embedding is on."""
    origins = list(getattr(settings, "MIMIC_DION_ORIGINS", []))
    if not getattr(settings, "MIMIC_EMBEDDING", False) or not origins or path.startswith(NEVER_FRAMED_PREFIXES):
        return ["'none'"]
    return ["'self'", *origins]


def content_security_policy(nonce: str, path: str) -> str:
    # No 'unsafe-inline' anywhere: inline <script>/<style> must carry the per-request nonce
    # ({{ request.csp_nonce }}); style="" attributes and on* handlers are blocked.
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", f"'nonce-{nonce}'"],
        "style-src": ["'self'", f"'nonce-{nonce}'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],  # CSP3 'self' also matches ws:/wss: to this host
        "media-src": ["'self'", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": frame_ancestors(path),
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = SimpleLazyObject(lambda: secrets.token_urlsafe(16))
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(str(request.csp_nonce), request.path)
        if frame_ancestors(request.path) != ["'none'"]:
            # X-Frame-Options cannot name several origins; browsers obey frame-ancestors instead.
            response.xframe_options_exempt = True
            if "X-Frame-Options" in response:
                del response["X-Frame-Options"]
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            # Pages about clients must not linger in shared or browser caches.
            response.headers.setdefault("Cache-Control", "no-store, private")
        if getattr(settings, "MIMIC_COOKIE_PARTITIONED", False):
            self._partition_cookies(response)
        return response

    @staticmethod
    def _partition_cookies(response: HttpResponse) -> None:
        # Python < 3.14 has no Morsel "partitioned" key; SameSite is written verbatim, so the
        # attribute rides along with it (CHIPS: the cookie lives in the Dion top-level partition).
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            morsel = response.cookies.get(name)
            if morsel is not None and morsel["samesite"] == "None" and morsel["secure"]:
                morsel["samesite"] = "None; Partitioned"
