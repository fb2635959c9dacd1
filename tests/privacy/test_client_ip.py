"""The client's address behind proxies: only as many X-Forwarded-For entries as there are trusted proxies count.

daphne's --proxy-headers took the leftmost, forgeable entry; bin/serve no longer passes it, and the lockout's audit
and django-axes' logs read the address through lib.clientip with MIMIC_TRUSTED_PROXIES.
"""

from __future__ import annotations

import re

import pytest
import requests
from axes.models import AccessFailureLog
from django.urls import reverse

from lib.clientip import client_ip
from privacy.models import AuditAction, AuditEvent
from tests.support.servers import DaphneServer, db_env

FORGED = "6.6.6.6"


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("10.0.0.5", f"{FORGED}, 203.0.113.9", 0, "10.0.0.5"),  # no proxy trusted: the socket's peer
        ("10.0.0.5", f"{FORGED}, 203.0.113.9", 1, "203.0.113.9"),  # one proxy: the address it saw
        ("10.0.0.5", f"{FORGED}, 203.0.113.9, 10.0.0.4", 2, "203.0.113.9"),  # two proxies
        ("10.0.0.5", "", 1, "10.0.0.5"),  # nothing forwarded
        ("10.0.0.5", "not-an-address", 1, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", 3, "203.0.113.9"),  # fewer hops than proxies
        ("10.0.0.5", " 2001:db8::1 ", 1, "2001:db8::1"),
    ],
)
def test_client_ip(remote, forwarded, proxies, expected):
    assert client_ip(remote, forwarded, proxies) == expected


def _lock(client, **headers):
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": "anna", "password": "wrong"}, **headers)
    return AuditEvent.objects.get(action=AuditAction.LOGIN_LOCKED)


@pytest.mark.django_db
def test_a_forged_header_does_not_reach_the_audit_log(client, manager, settings):
    settings.MIMIC_TRUSTED_PROXIES = 0
    event = _lock(client, HTTP_X_FORWARDED_FOR=FORGED)
    assert event.details["ip"] == "127.0.0.1"
    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_address_it_saw_is_logged(client, manager, settings):
    settings.MIMIC_TRUSTED_PROXIES = 1
    event = _lock(client, HTTP_X_FORWARDED_FOR=f"{FORGED}, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    assert event.details["ip"] == "198.51.100.7"


@pytest.mark.django_db(transaction=True)
def test_real_daphne_does_not_take_the_leftmost_forwarded_address(manager):
    with DaphneServer(env={**db_env(), "MIMIC_TRUSTED_PROXIES": "0"}) as server:
        session = requests.Session()
        statuses = []
        for _ in range(5):
            page = session.get(f"{server.url}/accounts/login/", timeout=10).text
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            answer = session.post(
                f"{server.url}/accounts/login/",
                {"username": "anna", "password": "wrong", "csrfmiddlewaretoken": token},
                headers={"X-Forwarded-For": FORGED, "Referer": f"{server.url}/accounts/login/"},
                timeout=10,
            )
            statuses.append(answer.status_code)
        # The lockout page comes through daphne's async middleware chain too.
        assert statuses == [200] * 4 + [429], server.log_tail(6000)
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_LOCKED)
    assert event.details["ip"] == "127.0.0.1"
