"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}." + body`` with DION_WEBHOOK_SECRET.

Headers: ``X-Dion-Timestamp`` (Unix seconds) and ``X-Dion-Signature: sha256=<hex>``. Pure functions.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Dion-Timestamp"
SIGNATURE_HEADER = "X-Dion-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    if not secret or not timestamp or not signature:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.strip())
