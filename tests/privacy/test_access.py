"""Every object URL (a pattern with a UUID argument) answers 404 to anyone who may not see the object.

The URLconf is walked at collection time, so URLs added later are covered without editing this file.
For each pattern: the owner must get a non-404 answer (proves the ids are right), then a manager of
the same team and a supervisor of another team must get 404, also when mixing their own ids with
the victim's. (Supervisors are not promised access to managers' action endpoints, so only
the owner is the positive control.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import UUIDConverter

from calls.models import Call, CallStatus
from tests.support.privacy_world import build_world, object_for_kwarg

pytestmark = pytest.mark.django_db

# Patterns reached by a signed token or by the anonymous client, never by object id with a session.
TOKEN_OR_ANONYMOUS = {
    "reports:client_feedback",
    "illustrations:share",
    "illustrations:share_svg",
    "illustrations:share_pdf",
    "illustrations:share_event",
}


# Views that act on a running call only (showing an illustration during it): their worlds' calls are live.
OPEN_CALL_VIEWS = {"illustrations:show_on_call", "illustrations:hide_on_call"}


def _walk(patterns, prefix: str = "", namespace: str = "", converters=None) -> Iterator[tuple[str, str, dict]]:
    for entry in patterns:
        merged = {**(converters or {}), **entry.pattern.converters}
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns, merged)
        elif isinstance(entry, URLPattern):
            name = ":".join(filter(None, [namespace, entry.name or ""]))
            yield prefix + str(entry.pattern), name, merged


def object_patterns() -> list[tuple[str, str, list[str]]]:
    found = []
    for route, name, converters in _walk(get_resolver().url_patterns):
        uuid_kwargs = [k for k, conv in converters.items() if isinstance(conv, UUIDConverter)]
        if uuid_kwargs and name not in TOKEN_OR_ANONYMOUS and not name.startswith("admin:"):
            found.append((route, name, uuid_kwargs))
    return found


def _path(route: str, values: dict[str, str]) -> str:
    path = route
    for kwarg, value in values.items():
        path = path.replace(f"<uuid:{kwarg}>", value)
    return "/" + path.lstrip("^")


def _request(client, method: str, path: str):
    return client.get(path) if method == "GET" else client.post(path, {})


def _owner_method(client, path: str) -> str:
    response = client.get(path)
    if response.status_code == 405:
        response = client.post(path, {})
        method = "POST"
    else:
        method = "GET"
    assert response.status_code != 404, f"owner got 404 at {path}: the test world lacks what this view needs"
    return method


def test_the_walk_finds_the_known_object_urls():
    names = {name for _, name, _ in object_patterns()}
    assert {"calls:call_detail"} <= names


@pytest.mark.parametrize(
    ("route", "name", "uuid_kwargs"), object_patterns(), ids=lambda v: v if isinstance(v, str) else None
)
def test_object_urls_are_404_for_everyone_who_may_not_see_the_object(
    client, route, name, uuid_kwargs, manager, other_manager, supervisor, outsider
):
    from accounts.models import Role, User

    victim = build_world(other_manager, name="Жертва")
    attacker = build_world(manager, name="Свой")
    if name in OPEN_CALL_VIEWS:
        for world in (victim, attacker):
            Call.objects.filter(pk=world["call"].pk).update(status=CallStatus.LIVE, ended_at=None)
    victim_ids = {k: str(object_for_kwarg(victim, k).pk) for k in uuid_kwargs}
    attacker_ids = {k: str(object_for_kwarg(attacker, k).pk) for k in uuid_kwargs}

    client.force_login(other_manager)
    method = _owner_method(client, _path(route, victim_ids))

    # A manager of the same team.
    client.force_login(manager)
    assert _request(client, method, _path(route, victim_ids)).status_code == 404
    for kwarg in uuid_kwargs if len(uuid_kwargs) > 1 else []:
        mixed = {**attacker_ids, kwarg: victim_ids[kwarg]}
        assert _request(client, method, _path(route, mixed)).status_code == 404, f"mixed ids, victim's {kwarg}"

    # A supervisor of another team.
    other_lead = User.objects.create_user("foreign-lead", password="x" * 12, role=Role.SUPERVISOR)
    outsider.supervisor = other_lead
    outsider.save()
    client.force_login(other_lead)
    assert _request(client, method, _path(route, victim_ids)).status_code == 404
