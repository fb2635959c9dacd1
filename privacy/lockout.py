"""Per-username sign-in lockout, kept in the database so every web process sees the same state.

MIMIC_LOGIN_MAX_FAILURES failures within MIMIC_LOGIN_LOCKOUT_SECONDS lock the username for
MIMIC_LOGIN_LOCKOUT_SECONDS from the locking failure. While locked the password is not even
checked, so a locked account cannot be used as a password oracle.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from privacy.audit import audit
from privacy.models import AuditAction, LoginFailure


def _key(username: str) -> str:
    return (username or "").strip().lower()[:150]


def _window() -> timedelta:
    return timedelta(seconds=settings.MIMIC_LOGIN_LOCKOUT_SECONDS)


def locked_until(username: str):
    lock = (
        LoginFailure.objects.filter(username=_key(username), locks_until__gt=timezone.now())
        .order_by("-locks_until")
        .first()
    )
    return lock.locks_until if lock else None


def is_locked(username: str) -> bool:
    return locked_until(username) is not None


def record_failure(username: str, *, ip: str = "") -> bool:
    """Count one failure; returns True (and audits LOGIN_LOCKED) when this failure locks the username."""
    key = _key(username)
    if not key or is_locked(key):
        return False
    now = timezone.now()
    # Failures before the last lock ended do not count again.
    since = max(now - _window(), _last_lock_end(key) or now - _window())
    failure = LoginFailure.objects.create(username=key, at=now)
    if LoginFailure.objects.filter(username=key, at__gt=since).count() < settings.MIMIC_LOGIN_MAX_FAILURES:
        return False
    failure.locks_until = now + _window()
    failure.save(update_fields=["locks_until"])
    audit("login-lockout", AuditAction.LOGIN_LOCKED, username=key, ip=ip, until=failure.locks_until.isoformat())
    return True


def _last_lock_end(key: str):
    lock = LoginFailure.objects.filter(username=key, locks_until__isnull=False).order_by("-locks_until").first()
    return lock.locks_until if lock else None


def clear_failures(username: str) -> None:
    """A successful sign-in forgets earlier failures (only reachable while not locked)."""
    LoginFailure.objects.filter(username=_key(username)).delete()
