"""`manage.py check --deploy`: the published development secrets (lib.deploysecrets) are not fit for a deployment."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

from lib.deploysecrets import PUBLISHED_FIELD_KEY, PUBLISHED_SECRET_KEY


@register(Tags.security, deploy=True)
def published_secrets_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    if settings.SECRET_KEY == PUBLISHED_SECRET_KEY:
        errors.append(
            Error(
                "SECRET_KEY is the development key published in the repository: anyone can forge sessions, "
                "CSRF tokens and client share links.",
                hint="Set SECRET_KEY to a long random value (README, Production).",
                id="mimic.E001",
            )
        )
    if PUBLISHED_FIELD_KEY in settings.FIELD_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEYS contains the development key published in the repository: a copy of the "
                "database gives away every client's name and contacts.",
                hint="Set FIELD_ENCRYPTION_KEYS to your own Fernet key (README, Production).",
                id="mimic.E002",
            )
        )
    return errors
