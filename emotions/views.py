from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from emotions.models import Call


def _get_call_for_user(request: HttpRequest, call_id: uuid.UUID) -> Call:
    """The call if this user may see it; 404 otherwise, so ids of others' calls leak nothing."""
    calls = Call.objects.for_user(request.user).select_related("client", "manager")
    return get_object_or_404(calls, pk=call_id)


@login_required
def call_list(request: HttpRequest) -> HttpResponse:
    calls = Call.objects.for_user(request.user).select_related("client", "manager", "report")[:200]
    return render(request, "emotions/call_list.html", {"calls": calls})


@login_required
def call_detail(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    call = _get_call_for_user(request, call_id)
    return render(request, "emotions/call_detail.html", {"call": call, "report": getattr(call, "report", None)})
