"""Who needs a second factor, and the devices that give it (django-otp: TOTP, and one-time recovery codes).

Admins and supervisors always need one; managers unless MIMIC_MANAGER_2FA=0. A session is verified when
django-otp has recorded the device that passed (django_otp.login); until then TwoFactorMiddleware lets the
user reach only the two-factor pages and sign-out.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role

RECOVERY_CODES = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def second_factor_required(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.is_staff or user.role in (Role.ADMIN, Role.SUPERVISOR):
        return True
    return settings.MIMIC_MANAGER_2FA


def has_device(user) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def pending_totp_device(user) -> TOTPDevice:
    """The user's not yet confirmed TOTP device (one per user), made on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def verify(user, token: str) -> Device | None:
    """The confirmed device of ``user`` that accepts ``token`` (a TOTP code or a recovery code), else None.

    Each device throttles its own failures (django-otp), and a recovery code works once.
    """
    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                return device
    return None


def confirm_totp(device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm an enrolment with the first code from the app; returns the new recovery codes, or None."""
    token = (token or "").strip().replace(" ", "")
    with transaction.atomic():
        if not token or not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
        return new_recovery_codes(device.user)


def new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes with fresh ones (shown once, stored as one-time static tokens)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def session_is_verified(user, session) -> bool:
    """Whether ``session`` records a confirmed device of ``user`` (for the WebSocket scope, with no request)."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk and device.confirmed


def base32_secret(device: TOTPDevice) -> str:
    """The TOTP secret as authenticator apps take it by hand, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def is_verified(user) -> bool:
    """django-otp's is_verified(); False for a user object it has not seen yet (just signed in by password)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())
