"""Insecure by default no more: the published development secrets work only in the embedded shape.

With a real database (DATABASE_URL) or MIMIC_PRODUCTION the server refuses to start without its own
SECRET_KEY and FIELD_ENCRYPTION_KEYS, and refuses the published ones by value; `check --deploy` names them.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from lib.deploysecrets import PUBLISHED_FIELD_KEY, PUBLISHED_SECRET_KEY, secret_problems
from tests.privacy.test_deploy import PRODUCTION, SECRET, _manage

DATABASE = {"DATABASE_URL": "postgres://mimic@127.0.0.1:5432/mimic"}  # `check` does not connect
OWN_FIELD_KEY = Fernet.generate_key().decode()


def test_a_real_database_without_secrets_does_not_start():
    result = _manage("check", **DATABASE)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr and "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


@pytest.mark.parametrize(
    ("secrets", "named"),
    [
        ({"SECRET_KEY": PUBLISHED_SECRET_KEY, "FIELD_ENCRYPTION_KEYS": OWN_FIELD_KEY}, "SECRET_KEY is the development"),
        ({"SECRET_KEY": SECRET, "FIELD_ENCRYPTION_KEYS": PUBLISHED_FIELD_KEY}, "FIELD_ENCRYPTION_KEYS contains"),
        ({"SECRET_KEY": SECRET, "FIELD_ENCRYPTION_KEYS": f"{OWN_FIELD_KEY},{PUBLISHED_FIELD_KEY}"}, "contains"),
    ],
)
def test_a_real_database_refuses_the_published_keys_by_value(secrets, named):
    result = _manage("check", **DATABASE, **secrets)
    assert result.returncode != 0 and named in result.stderr


def test_production_refuses_the_published_fernet_key():
    result = _manage("check", **{**PRODUCTION, "FIELD_ENCRYPTION_KEYS": PUBLISHED_FIELD_KEY})
    assert result.returncode != 0 and "FIELD_ENCRYPTION_KEYS contains" in result.stderr


def test_production_refuses_the_published_secret_key():
    result = _manage("check", **{**PRODUCTION, "SECRET_KEY": PUBLISHED_SECRET_KEY})
    assert result.returncode != 0 and "SECRET_KEY is the development" in result.stderr


def test_a_real_database_with_its_own_secrets_starts():
    result = _manage("check", **DATABASE, SECRET_KEY=SECRET, FIELD_ENCRYPTION_KEYS=OWN_FIELD_KEY)
    assert result.returncode == 0, result.stderr


def test_the_embedded_shape_starts_but_the_deploy_check_names_the_published_keys():
    assert _manage("check").returncode == 0
    result = _manage("check", "--deploy")
    assert result.returncode != 0
    assert "mimic.E001" in result.stderr and "mimic.E002" in result.stderr


def test_the_deploy_check_is_quiet_with_real_secrets():
    result = _manage("check", "--deploy", **PRODUCTION)
    assert "mimic.E00" not in result.stdout + result.stderr


def test_secret_problems():
    assert secret_problems(SECRET, [OWN_FIELD_KEY]) == []
    assert secret_problems("", []) == ["SECRET_KEY is not set", "FIELD_ENCRYPTION_KEYS is not set"]
    assert len(secret_problems(PUBLISHED_SECRET_KEY, [OWN_FIELD_KEY, PUBLISHED_FIELD_KEY])) == 2
