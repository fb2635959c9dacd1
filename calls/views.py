from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from calls import devices, lifecycle
from calls.forms import ConsentForm, StartCallForm
from calls.models import EXPRESSION_NAMES, Call, CallStatus, Notification
from calls.protocol import call_id_from_token, feedback_url, make_client_token
from engine.labels import POOR_VIEW_FLAGS
from privacy.consent import current_text


def _get_call_for_user(request: HttpRequest, call_id: uuid.UUID) -> Call:
    """The call if this user may see it; 404 otherwise, so ids of others' calls leak nothing."""
    calls = Call.objects.for_user(request.user).select_related("client", "manager")
    return get_object_or_404(calls, pk=call_id)


@login_required
def call_list(request: HttpRequest) -> HttpResponse:
    calls = Call.objects.for_user(request.user).select_related("client", "manager", "report")[:200]
    start_form = StartCallForm(user=request.user) if request.user.is_manager else None
    return render(request, "calls/call_list.html", {"calls": calls, "start_form": start_form})


@login_required
def call_detail(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    call = _get_call_for_user(request, call_id)
    return render(request, "calls/call_detail.html", {"call": call, "report": getattr(call, "report", None)})


# --- live calls: the manager's side ----------------------------------------------------------------


def _live_texts() -> dict:
    """Strings the live page's script shows, translated here (the JS has no i18n of its own).

    ``{n}`` in a text is a number the script fills in (seconds)."""
    return {
        "labels": {k: str(v) for k, v in EXPRESSION_NAMES.items()},
        "connecting": _("Connecting…"),
        "connected": _("Connected. Waiting for the client's frames…"),
        "analysing": _("Analysing, face visible"),
        "no_face": _("No face for %(seconds)s s") % {"seconds": "{n}"},
        "poor_view": _("Poor view of the face: no reading"),
        "no_frames": _("No frames from the client for %(seconds)s s") % {"seconds": "{n}"},
        "paused": _("Paused: service unavailable"),
        "reconnecting": _("Connection lost, reconnecting…"),
        "disconnected": _("Disconnected"),
        "dropped": _("Frames dropped"),
        "preparing": _("Call ended. Preparing the report…"),
        "ended": _("The call has ended."),
        "status_ended": str(CallStatus.ENDED.label),
        "withdrawn": _("The client withdrew consent: analysis stopped and this call's emotion data was deleted."),
        "consent_waiting": _("Waiting for the client's consent"),
        "consent_given": _("The client has consented"),
        "consent_withdrawn": _("Consent withdrawn"),
        "face_visible": _("Face visible"),
        "face_hidden": _("Face not visible"),
        "face_poor": _("Poor view of the face"),
        "copied": _("Copied"),
        "confirm_end": _("End the call? The analysis stops and the report is prepared."),
        "end_failed": _("The call could not be ended. Try again."),
        "confirm_withdraw": _("Stop the analysis and delete this call's emotion data at the client's request?"),
    }


def _capture_texts() -> dict:
    return {
        "starting": _("Starting…"),
        "asking": _("Asking for the camera…"),
        "denied": _("The camera is not available. Allow it in the browser and try again."),
        "reconnecting": _("Connection lost, reconnecting…"),
        "stopping": _("Stopping…"),
        "stopped": _("Analysis stopped."),
        "withdrawn": _("Analysis stopped. The data derived from your face in this call has been deleted."),
        "ended": _("The call has ended. Thank you!"),
    }


def _get_own_call_for_user(request: HttpRequest, call_id: uuid.UUID) -> Call:
    """A call of this manager (live pages are the call manager's alone, not the supervisor's); 404 otherwise."""
    return get_object_or_404(Call.objects.for_manager(request.user).select_related("client"), pk=call_id)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def start_call(request: HttpRequest) -> HttpResponse:
    """One click: create the call, make it live, open the live page with the client link."""
    if not request.user.is_manager:
        raise PermissionDenied
    form = StartCallForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("calls:call_list")
    call = Call.objects.create(
        manager=request.user,
        client=form.get_client(),
        capture_fps=form.cleaned_data["capture_fps"],
        dion_meeting_url=form.cleaned_data.get("dion_meeting_url") or "",
    )
    client_link = request.build_absolute_uri(reverse("calls:client_capture", args=[make_client_token(call.pk)]))
    # A Dion meeting that could not be made is a warning, never a failed start.
    for warning in lifecycle.start_call(call, client_link):
        messages.warning(request, warning)
    return redirect("calls:call_live", call_id=call.pk)


@login_required
def call_live(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    call = _get_own_call_for_user(request, call_id)
    token = make_client_token(call.pk)
    consent = call.consents.active().first()
    context = {
        "call": call,
        "client_link": request.build_absolute_uri(reverse("calls:client_capture", args=[token])),
        "consent": consent,
        "report_url": call.report_url if not call.is_open and hasattr(call, "report") else None,
        # An ended call whose consent was withdrawn: its data is gone, so there is no report to open.
        "withdrawn": not call.is_open and consent is None and call.consents.exclude(withdrawn_at=None).exists(),
        "max_fps": settings.MIMIC_MAX_FPS,
        "texts": _live_texts(),
        "poor_view_flags": " ".join(sorted(POOR_VIEW_FLAGS)),
    }
    return render(request, "calls/call_live.html", context)


@login_required
@require_POST
def call_end(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    call = _get_own_call_for_user(request, call_id)
    ended = lifecycle.end_call(call.pk, "manager")
    if _wants_json(request):
        return JsonResponse({"ended": ended, "report_url": call.report_url})
    return redirect("calls:call_live", call_id=call.pk)


@login_required
@require_POST
def call_withdraw(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    """The client asked the manager to stop: same effect as the client's own Stop button."""
    call = _get_own_call_for_user(request, call_id)
    withdrawn = lifecycle.withdraw_consent(call.pk, "manager", request.user)
    if _wants_json(request):
        return JsonResponse({"withdrawn": withdrawn})
    if withdrawn:
        messages.info(request, _("Consent withdrawn: analysis stopped and this call's emotion data deleted."))
    return redirect("calls:call_live", call_id=call.pk)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    items = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        items.unread().update(read_at=timezone.now())
        return redirect("calls:notifications")
    return render(request, "calls/notifications.html", {"notifications": items[:100]})


# --- live calls: the client's side (no account: the signed link is the key) ------------------------


def _get_call_for_token(token: str) -> Call:
    """The call a client link was signed for; 404 for a tampered or foreign token."""
    call_id = call_id_from_token(token)
    if call_id is None:
        raise Http404
    return get_object_or_404(Call, pk=call_id)


def client_capture(request: HttpRequest, token: str) -> HttpResponse:
    """What is analysed and why, the consent, then the camera. After the call: thanks (and feedback)."""
    call = _get_call_for_token(token)
    # This browser's consent only (calls.devices): another browser with the same link consents for itself.
    device_key = request.COOKIES.get(devices.cookie_name(call.pk), "")
    consent = call.consents.active().for_device(devices.key_hash(device_key)).first()
    language = get_language()
    if not call.is_open:
        return render(
            request,
            "calls/client_done.html",
            {
                "call": call,
                "feedback_url": feedback_url(token),
                "withdrawn": call.consents.exclude(withdrawn_at=None).exists(),
            },
        )
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and consent is None:
        if form.is_valid():
            device_key = devices.new_key()
            lifecycle.give_consent(call, language, devices.key_hash(device_key))
            response = redirect("calls:client_capture", token=token)
            devices.set_cookie(response, call.pk, device_key)
            return response
    return render(
        request,
        "calls/client_capture.html",
        {
            "call": call,
            "token": token,
            "form": form,
            "consent": consent,
            "text": consent.text() if consent else current_text(language),
            "texts": _capture_texts(),
        },
    )


@require_POST
def client_stop(request: HttpRequest, token: str) -> HttpResponse:
    """One click withdraws consent (the page has already stopped the camera)."""
    call = _get_call_for_token(token)
    withdrawn = lifecycle.withdraw_consent(call.pk, "client", "client-link")
    if _wants_json(request):
        return JsonResponse({"withdrawn": withdrawn})
    return redirect("calls:client_capture", token=token)


def client_consent_record(request: HttpRequest, token: str) -> HttpResponse:
    """The consent record as its own printable document (the exact text version agreed to)."""
    call = _get_call_for_token(token)
    consent = get_object_or_404(call.consents.order_by("-given_at")[:1])
    text = consent.text()
    return render(
        request,
        "calls/consent_record.html",
        {"call": call, "consent": consent, "text": text, "text_matches": text.sha256 == consent.text_sha256},
    )
