"""The privacy tools in the portal, for the admin role: client export and erasure, audit log, retention.

Everyone else gets 404, as for an object they may not see. The Django admin keeps the same tools for engineers.
Clients are found by model label, so privacy still imports nothing from the apps above it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from privacy.erasure import erase_client, export_client, related_objects
from privacy.forms import AuditFilterForm, ClientLookupForm, ErasureForm
from privacy.models import AuditEvent, DestructionKind, DestructionRecord
from privacy.retention import active_rules, purge_expired, retention_status

PAGE_SIZE = 25
CLIENT_MODEL = "emotions.Client"


def admin_role_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in admins only; anyone else signed in gets 404, like an object they may not see."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_admin_role:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _clients() -> models.QuerySet:
    return apps.get_model(CLIENT_MODEL)._default_manager.select_related("manager")


def _get_client_for_user(request: HttpRequest, pseudonym: str) -> models.Model:
    """The client with this pseudonym if the user has the admin role; 404 otherwise."""
    if not request.user.is_admin_role:
        raise Http404
    return get_object_or_404(_clients(), pseudonym=pseudonym)


def _find_client(pseudonym: str) -> models.Model | None:
    """Exact match first, then the same pseudonym in another case (typed by hand)."""
    clients = _clients()
    return clients.filter(pseudonym=pseudonym).first() or clients.filter(pseudonym__iexact=pseudonym).first()


def _count_rows(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(what, how many) for a destruction record's counts, in people's words where the rules name them."""
    names = {rule.model: str(rule.name) for rule, _model in active_rules() if rule.name}
    names["files"] = _("Stored files")
    return sorted(((names.get(label, label), n) for label, n in counts.items() if n), key=lambda row: -row[1])


# --- clients: lookup, export, erasure ---------------------------------------------------------------


@admin_role_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    form = ClientLookupForm(request.GET or None)
    not_found = None
    if form.is_valid():
        client = _find_client(form.cleaned_data["pseudonym"])
        if client is not None:
            return redirect("privacy:client", pseudonym=client.pseudonym)
        not_found = form.cleaned_data["pseudonym"]
    page = Paginator(_clients(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "privacy/home.html", {"form": form, "not_found": not_found, "page": page})


def _client_page(request: HttpRequest, client: models.Model, form: ErasureForm) -> HttpResponse:
    held: dict[str, int] = {}
    for obj in related_objects(client):
        held[obj._meta.label] = held.get(obj._meta.label, 0) + 1
    return render(request, "privacy/client.html", {"client": client, "held": sorted(held.items()), "form": form})


@admin_role_required
@require_GET
def client_detail(request: HttpRequest, pseudonym: str) -> HttpResponse:
    client = _get_client_for_user(request, pseudonym)
    return _client_page(request, client, ErasureForm(pseudonym=client.pseudonym))


@admin_role_required
@require_POST
def client_export(request: HttpRequest, pseudonym: str) -> HttpResponse:
    """The client's data as export_client builds it (which audits the export), as a JSON attachment."""
    client = _get_client_for_user(request, pseudonym)
    body = json.dumps(export_client(client, actor=request.user), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="mimic-client-{client.pseudonym}-{stamp}.json"'
    return response


@admin_role_required
@require_POST
def client_erase(request: HttpRequest, pseudonym: str) -> HttpResponse:
    client = _get_client_for_user(request, pseudonym)
    form = ErasureForm(request.POST, pseudonym=client.pseudonym)
    if not form.is_valid():
        return _client_page(request, client, form)
    record = erase_client(client, actor=request.user)
    context = {"pseudonym": pseudonym, "record": record, "rows": _count_rows(record.counts)}
    return render(request, "privacy/erased.html", context)


# --- audit log --------------------------------------------------------------------------------------


@admin_role_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.order_by("-at")
    action = form.cleaned_data["action"] if form.is_valid() else ""
    if action:
        events = events.filter(action=action)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({"action": action}) if action else ""
    return render(request, "privacy/audit.html", {"form": form, "page": page, "query": query})


# --- retention --------------------------------------------------------------------------------------


@admin_role_required
@require_GET
def retention(request: HttpRequest) -> HttpResponse:
    last = DestructionRecord.objects.filter(kind=DestructionKind.RETENTION).order_by("-at").first()
    context = {"rules": retention_status(), "last": last, "last_rows": _count_rows(last.counts) if last else []}
    return render(request, "privacy/retention.html", context)


@admin_role_required
@require_POST
def purge_now(request: HttpRequest) -> HttpResponse:
    record = purge_expired(actor=request.user)
    total = record.total
    messages.success(
        request,
        ngettext("Purge done: %(count)d row destroyed.", "Purge done: %(count)d rows destroyed.", total)
        % {"count": total},
    )
    return redirect("privacy:retention")
