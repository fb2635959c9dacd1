"""The client's IP address behind a known number of reverse proxies.

Each proxy appends the address it saw to X-Forwarded-For, so only the rightmost N entries were written by
the N proxies we run; anything to their left came from the client and can be forged. daphne's own
--proxy-headers takes the leftmost entry, so bin/serve does not use it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings


def client_ip(remote_addr: str, forwarded_for: str, trusted_proxies: int) -> str:
    """The address the outermost trusted proxy saw; ``remote_addr`` when no proxy is trusted or none forwarded."""
    if trusted_proxies <= 0:
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if not hops:
        return remote_addr
    # Each of the N proxies appended the address it saw: the outermost one wrote the client, N-th from the right.
    candidate = hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


def meta_client_ip(meta: Mapping[str, str]) -> str:
    return client_ip(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""), settings.MIMIC_TRUSTED_PROXIES)


def request_client_ip(request) -> str:
    """The request's client address by the MIMIC_TRUSTED_PROXIES rule (also django-axes' AXES_CLIENT_IP_CALLABLE)."""
    return meta_client_ip(getattr(request, "META", {}) or {})
