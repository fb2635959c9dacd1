"""Fixtures of the Dion tests: a real TLS server with mutual TLS standing in for Dion's APIs."""

from __future__ import annotations

import atexit
from pathlib import Path

import pytest

from dion import bot, iapi
from tests.support.dion_fake import FakeDionServer, Pki, make_pki

_servers: dict[Path, FakeDionServer] = {}


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
    """Each test starts and ends without a process limiter or cached bot tokens from another test's settings."""
    iapi.reset_process_limiter()
    bot.reset_token_caches()
    yield
    iapi.reset_process_limiter()
    bot.reset_token_caches()
