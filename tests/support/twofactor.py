"""Second factors for the test cast: a known TOTP secret per user, the codes it gives, a verified session.

``Client.force_login`` in every test means "fully signed in", so tests/conftest.py makes it also record a
verified TOTP device, as django_otp.login does after a real code. Browser tests type a real code computed
from the secret (``current_code``) into the real two-factor page.
"""

from __future__ import annotations

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

# RFC 6238's own test secret (hex of "12345678901234567890"): never a real user's.
CAST_TOTP_KEY = "3132333435363738393031323334353637383930"
DEVICE_NAME = "tests"


def totp_device(user, key: str = CAST_TOTP_KEY) -> TOTPDevice:
    """The user's confirmed TOTP device with the cast's secret, made on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, key=key, confirmed=True)


def code_for(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    return str(code).zfill(device.digits)


def current_code(user) -> str:
    """A code the device accepts now. A test may sign the same user in twice within one 30-second step, and
    the replay guard rightly refuses a used step, so the device forgets its last step first."""
    device = totp_device(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    device.refresh_from_db()
    return code_for(device)


def verify_session(client, user) -> None:
    """Record in ``client``'s session that ``user`` passed the second factor (what django_otp.login stores)."""
    device = totp_device(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
