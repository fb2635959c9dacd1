"""Fixtures of the Dion tests: a real TLS server with mutual TLS standing in for Dion's IAPI and bot API."""

from __future__ import annotations

import atexit
from pathlib import Path

import pytest

from dion import bot, iapi
from dion.transport import ConcurrencyLimiter, SlidingWindowLimiter
from tests.support.dion_fake import BOT_EMAIL, BOT_PASSWORD, IAPI_TOKEN, FakeDionServer, Pki, make_pki

_servers: dict[Path, FakeDionServer] = {}

MANAGER_EMAIL = "anna@bank.example"
MANAGER_DION_ID = "dion-user-anna"


@pytest.fixture(scope="session")
def dion_pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("dion-pki"))


@pytest.fixture
def dion_server(dion_pki) -> FakeDionServer:
    """One server per test session (started on first use), emptied for every test."""
    server = _servers.get(dion_pki.ca)
    if server is None:
        server = _servers[dion_pki.ca] = FakeDionServer(dion_pki).start()
        atexit.register(server.stop)
    server.reset()
    return server


@pytest.fixture(autouse=True)
def fresh_dion_process_state():
    """Each test starts and ends without process limiters or cached bot tokens from another test's settings."""
    iapi.reset_process_limiter()
    bot.reset_token_caches()
    yield
    iapi.reset_process_limiter()
    bot.reset_token_caches()


@pytest.fixture
def dion_settings(settings, dion_server, dion_pki):
    """Mimic configured for the fake Dion: the IAPI with mutual TLS and the bot's technical account.

    Per-process limiters with Dion's documented numbers (the Redis-shared ones have tests of their own)."""
    iapi.reset_process_limiter(SlidingWindowLimiter([(100, 60.0)]), ConcurrencyLimiter(10))
    settings.DION_IAPI_URL = dion_server.iapi_url
    settings.DION_CLIENT_CERT, settings.DION_CLIENT_KEY = str(dion_pki.client_cert), str(dion_pki.client_key)
    settings.DION_CA_BUNDLE = str(dion_pki.ca)
    settings.DION_ACCESS_TOKEN, settings.DION_ACCESS_TOKEN_FILE = IAPI_TOKEN, ""
    settings.DION_IAPI_TIMEOUT = 2.0
    settings.DION_BOT_API_URL = dion_server.url
    settings.DION_BOT_EMAIL, settings.DION_BOT_PASSWORD, settings.DION_BOT_PASSWORD_FILE = BOT_EMAIL, BOT_PASSWORD, ""
    settings.DION_BOT_POLLS_MEETINGS = False
    settings.SITE_ROOT = "https://mimic.bank.example"
    return settings


@pytest.fixture
def dion_manager(manager, dion_server):
    """The manager ``anna``, whose Mimic e-mail is her Dion account."""
    manager.email = MANAGER_EMAIL
    manager.save(update_fields=["email"])
    dion_server.add_user(MANAGER_DION_ID, MANAGER_EMAIL, "Anna")
    return manager
