"""Encrypted model fields: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation through MultiFernet.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (a list; the first key encrypts, every key
decrypts, so a new key is rotated in by putting it first). A value that does not decrypt with
any key raises :class:`DecryptionError` instead of handing ciphertext to the caller: a wrong
or missing key must fail loudly, never show gibberish or store it back double-encrypted.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models

# Every Fernet token starts with version byte 0x80, i.e. "gAAAAA" in url-safe base64.
TOKEN_PREFIX = "gAAAAA"


class DecryptionError(ValueError):
    """A stored value could not be decrypted with any configured key."""


@lru_cache(maxsize=1)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet_for.cache_clear()


setting_changed.connect(_clear_cache)


def encrypt_str(value: str) -> str:
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_str(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise DecryptionError("stored value does not decrypt with FIELD_ENCRYPTION_KEYS") from None


def rotate_str(token: str) -> str:
    """Re-encrypt ``token`` under the first (newest) key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """A text field stored encrypted. Not searchable or orderable in SQL: every encryption is randomised."""

    description = "Text encrypted at rest with Fernet"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt_str(str(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return decrypt_str(value)

    def get_internal_type(self) -> str:
        return "TextField"
