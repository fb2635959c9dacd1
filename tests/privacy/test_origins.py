"""The WebSocket origin rule (lib.origins): an origin is compared whole, scheme, host and port."""

from __future__ import annotations

import pytest

from lib.origins import allowed_origin


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_ROOT = "https://mimic.bank.example"
    settings.ALLOWED_HOSTS = ["mimic.bank.example", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.bank.example"]
    settings.MIMIC_DION_ORIGINS = ["https://dion.bank.example"]


@pytest.mark.parametrize(
    "origin",
    ["https://mimic.bank.example", "https://mimic.bank.example:443", "https://portal.bank.example",
     "https://dion.bank.example", "HTTPS://Mimic.Bank.Example"],
)  # fmt: skip
def test_it_accepts_the_configured_origins(origin) -> None:
    assert allowed_origin(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://mimic.bank.example:8443",  # another service on the same host
        "http://mimic.bank.example",  # the same host without TLS
        "https://dion.bank.example:444",
        "https://mimic.bank.example.evil.example",
        "https://evil.example",
        "null",
        "",
        None,
        "https://mimic.bank.example/path",
        "javascript://mimic.bank.example",
        "https://mimic.bank.example:99999",
    ],
)
def test_it_refuses_any_other_port_scheme_or_host(origin) -> None:
    assert not allowed_origin(origin)


def test_the_origin_the_socket_was_opened_on_is_accepted_port_and_all() -> None:
    assert allowed_origin("http://127.0.0.1:54321", host="127.0.0.1:54321", scheme="http")
    assert not allowed_origin("http://127.0.0.1:54322", host="127.0.0.1:54321", scheme="http")
    assert not allowed_origin("https://127.0.0.1:54321", host="127.0.0.1:54321", scheme="http")
    # A Host outside ALLOWED_HOSTS proves nothing.
    assert not allowed_origin("http://evil.example:80", host="evil.example", scheme="http")
