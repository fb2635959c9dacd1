from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models.fields.json import KeyTransform
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from calls.models import Call, CallStatus, Client
from calls.protocol import call_id_from_token
from lib.timefmt import csv_datetime, csv_zone_column, duration_seconds, format_duration, format_local
from privacy.audit import audit
from privacy.models import AuditAction
from reports import charts
from reports import trends as trends_maths
from reports.content import build_report_context, call_duration_ms, report_csv_rows
from reports.exports import to_csv
from reports.forms import DashboardFilterForm, FeedbackForm, PilotUploadForm, TrendsForm, UploadForm
from reports.models import CallReport, ClientFeedback, PdfStatus, Recording, RecordingStatus, ReportPdf
from reports.pilot import (
    LOW_RATING,
    NEGATIVE_SHARE_THRESHOLD_PCT,
    client_reported_negative,
    confusion,
    load_model_metrics,
    model_flagged_negative,
)
from reports.recordings import limits_problem, probe_video
from reports.tasks import render_report_pdf, start_analysis

PAGE_SIZE = 25
FEEDBACK_WINDOW = timedelta(days=7)
TREND_PERIODS = {"week": 26, "month": 24}  # how far back the trends page goes: half a year of weeks, two years


def _get_report_for_user(request: HttpRequest, call_id: uuid.UUID) -> CallReport:
    """The call's report if this user may see the call; 404 otherwise, so others' ids leak nothing."""
    reports = CallReport.objects.for_user(request.user).with_call()
    return get_object_or_404(reports, call_id=call_id)


def _get_recording_for_user(request: HttpRequest, recording_id: uuid.UUID) -> Recording:
    recordings = Recording.objects.for_user(request.user).select_related("client", "call")
    return get_object_or_404(recordings, pk=recording_id)


def _get_client_for_user(request: HttpRequest, client_id: uuid.UUID) -> Client:
    return get_object_or_404(Client.objects.for_user(request.user).select_related("manager"), pk=client_id)


# --- per-call report -------------------------------------------------------------------------------


@login_required
@require_GET
def call_report(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    report = _get_report_for_user(request, call_id)
    audit(request.user, AuditAction.VIEW_REPORT, report, format="html")
    return render(request, "reports/call_report.html", build_report_context(report))


def _pdf_entry(report: CallReport) -> tuple[ReportPdf | None, str, str]:
    version, language = report.pdf_version(), translation.get_language() or settings.LANGUAGE_CODE
    entry = ReportPdf.objects.filter(report=report, version=version, language=language).first()
    return entry, version, language


def _pdf_response(report: CallReport, entry: ReportPdf) -> HttpResponse:
    response = HttpResponse(bytes(entry.pdf), content_type="application/pdf")
    stamp = timezone.localtime(report.call.created).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="mimic-{report.call.client.pseudonym}-{stamp}.pdf"'
    return response


@login_required
@require_GET
def call_report_pdf(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    """Serve the cached PDF, or queue its rendering and show a page that waits for it."""
    report = _get_report_for_user(request, call_id)
    entry, version, language = _pdf_entry(report)
    if entry is None or entry.status == PdfStatus.FAILED:
        if entry is not None:
            entry.delete()  # a failed render is retried on the next request
        try:
            ReportPdf.objects.create(report=report, version=version, language=language)
        except IntegrityError:
            pass  # another request queued it
        else:
            render_report_pdf.delay(report.pk, version, language)
        entry, _version, _language = _pdf_entry(report)  # eager mode: already rendered
    if entry is not None and entry.status == PdfStatus.READY:
        audit(request.user, AuditAction.EXPORT_REPORT, report, format="pdf")
        return _pdf_response(report, entry)
    return render(request, "reports/pdf_wait.html", {"report": report, "call": report.call}, status=202)


@login_required
@require_GET
def call_report_pdf_status(request: HttpRequest, call_id: uuid.UUID) -> JsonResponse:
    report = _get_report_for_user(request, call_id)
    entry, _version, _language = _pdf_entry(report)
    return JsonResponse(
        {
            "status": entry.status if entry else "missing",
            "url": reverse("reports:call_report_pdf", args=[report.call_id]),
        }
    )


@login_required
@require_GET
def call_report_csv(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    report = _get_report_for_user(request, call_id)
    ctx = build_report_context(report, "csv")
    audit(request.user, AuditAction.EXPORT_REPORT, report, format="csv")
    response = HttpResponse(to_csv(["section", "item", "value"], report_csv_rows(ctx)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="mimic-{report.call.client.pseudonym}.csv"'
    return response


# --- dashboard -------------------------------------------------------------------------------------


def _dashboard_queryset(request: HttpRequest) -> tuple[DashboardFilterForm, object]:
    form = DashboardFilterForm(request.GET or None, user=request.user)
    qs = CallReport.objects.for_user(request.user)
    if form.is_bound and form.is_valid():
        qs = form.apply(qs).order_by(*form.ordering())
    else:
        qs = qs.none() if form.is_bound else qs.order_by("-call__created")
    return form, qs


def _with_duration(qs):
    """The rows with their calls and the timeline's duration (reports.content.call_duration_ms), not the whole
    summary."""
    return qs.with_call().defer("summary").annotate(timeline_ms=KeyTransform("duration_ms", "summary"))


def _filter_span(form: DashboardFilterForm) -> tuple:
    """The filter's from and to dates (None where not set or the form is invalid)."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    return data.get("start"), data.get("end")


def _period_chart(qs, chart_id: str, start=None, end=None) -> str:
    """Mean satisfaction over the filtered period (``start``/``end`` where the filter sets them), by date: per
    day, or per week (at its Monday) over more than two months; days or weeks without calls are hatched."""
    points = qs.daily_satisfaction()
    if not points:
        return ""
    first = start or points[0]["day"]
    last = end or (timezone.localdate() if start else points[-1]["day"])
    weekly = (last - first).days > 62
    if weekly:
        points = trends_maths.fold_weekly(points)
        first, last = first - timedelta(days=first.weekday()), last - timedelta(days=last.weekday())
    return charts.time_chart(
        [p["day"] for p in points],
        [{"name": _("Mean satisfaction"), "values": [p["mean"] for p in points]}],
        labels=[format_local(p["day"], "SHORT_DATE_FORMAT") for p in points],
        step=trends_maths.PERIOD_STEP["week" if weekly else "day"],
        x_range=(first, last),
        title=_("Mean satisfaction per week") if weekly else _("Mean satisfaction per day"),
        desc=_("Mean satisfaction of the calls in the selected period, %(n)d points.") % {"n": len(points)},
        chart_id=chart_id,
        width=520,
        height=200,
        legend=False,
    )


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    form, qs = _dashboard_queryset(request)
    headline = qs.headline()
    paginator = Paginator(_with_duration(qs), PAGE_SIZE)
    paginator.count = headline["calls"]  # already counted by the headline query: save a COUNT(*)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for r in page.object_list:
        r.duration = format_duration(call_duration_ms(r.call, r.timeline_ms))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "page": page,
            "headline": headline,
            "chart_svg": _period_chart(qs, "dashboard-daily", *_filter_span(form)),
            "query": query.urlencode(),
        },
    )


@login_required
@require_GET
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    form, qs = _dashboard_queryset(request)
    rows = (
        (
            str(r.call_id),
            csv_datetime(r.call.created),
            r.call.manager.get_username(),
            r.call.client.pseudonym,
            duration_seconds(call_duration_ms(r.call, r.timeline_ms)),
            r.satisfaction_pct,
            r.negative_pct,
            r.negative_episodes,
            r.face_visible_pct,
            r.call.source,
        )
        for r in _with_duration(qs).iterator(chunk_size=2000)
    )
    header = [
        "call_id",
        csv_zone_column("date"),
        "manager",
        "client",
        "duration_s",
        "satisfaction_pct",
        "negative_pct",
        "negative_episodes",
        "face_visible_pct",
        "source",
    ]
    audit(request.user, AuditAction.EXPORT_REPORT, None, format="csv", scope="dashboard", query=request.GET.urlencode())
    response = HttpResponse(to_csv(header, rows), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="mimic-calls.csv"'
    return response


# --- trends ----------------------------------------------------------------------------------------


@login_required
@require_GET
def trends(request: HttpRequest) -> HttpResponse:
    form = TrendsForm(request.GET or None)
    period = form.cleaned_data.get("period") if form.is_valid() else ""
    period = period or "week"
    visible = CallReport.objects.for_user(request.user).filter(call__client__in=Client.objects.for_user(request.user))

    grid_rows = visible.by_manager_period(period)
    periods, cells = trends_maths.manager_grid(grid_rows, last=TREND_PERIODS[period], period=period)
    manager_ids = sorted(cells)
    names = {u.id: u.get_full_name() or u.get_username() for u in User.objects.filter(id__in=manager_ids)}
    fmt = "SHORT_DATE_FORMAT" if period == "week" else "YEAR_MONTH_FORMAT"  # a week by its Monday
    period_labels = [format_local(p, fmt) for p in periods]
    manager_rows = [
        {"name": names.get(m, "?"), "cells": [cells[m].get(p) for p in periods]}
        for m in sorted(manager_ids, key=lambda m: names.get(m, ""))
    ]
    manager_chart = ""
    if periods:
        manager_chart = charts.time_chart(
            periods,
            [{"name": r["name"], "values": [c["mean"] if c else None for c in r["cells"]]} for r in manager_rows],
            labels=period_labels,
            step=trends_maths.PERIOD_STEP[period],
            title=_("Mean satisfaction per manager"),
            desc=_("Mean satisfaction of each manager's calls per %(period)s, last %(n)d periods.")
            % {"period": _("week") if period == "week" else _("month"), "n": len(periods)},
            chart_id="trend-managers",
        )
    earlier = sum(r["calls"] for r in grid_rows if periods and r["period"] < periods[0])
    earlier_note = (
        ngettext(
            "%(n)d earlier call is not shown: the table and the chart begin with %(date)s.",
            "%(n)d earlier calls are not shown: the table and the chart begin with %(date)s.",
            earlier,
        )
        % {"n": earlier, "date": period_labels[0]}
        if earlier
        else ""
    )

    client_rows = trends_maths.client_series(
        list(
            visible.order_by("call__client__pseudonym", "call__created").values(
                "call__client_id", "call__client__pseudonym", "call__created", "satisfaction_pct"
            )
        )
    )
    for entry in client_rows:
        entry["spark"] = charts.sparkline(
            entry["values"], title=_("Satisfaction trend"), chart_id=f"spark-{entry['id']}"
        )
    return render(
        request,
        "reports/trends.html",
        {
            "form": form,
            "period": period,
            "period_labels": period_labels,
            "manager_rows": manager_rows,
            "manager_chart": manager_chart,
            "earlier_note": earlier_note,
            "client_rows": client_rows,
        },
    )


@login_required
@require_GET
def client_trend(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    client = _get_client_for_user(request, client_id)
    reports = list(
        CallReport.objects.for_user(request.user).filter(call__client=client).with_call().order_by("call__created")
    )
    chart = ""
    if reports:
        chart = charts.time_chart(
            [r.call.created for r in reports],
            [
                {"name": _("Satisfaction"), "values": [r.satisfaction_pct for r in reports]},
                {"name": _("Negative share"), "values": [r.negative_pct for r in reports], "color": charts.NEG},
            ],
            labels=[format_local(r.call.created, "SHORT_DATETIME_FORMAT") for r in reports],
            step=trends_maths.PERIOD_STEP["month"],  # a month without a call is a gap, not a straight line
            title=_("Client %(client)s across calls") % {"client": client.pseudonym},
            desc=_("Satisfaction and negative share of each of %(n)d calls, oldest first.") % {"n": len(reports)},
            chart_id="client-trend",
        )
    return render(request, "reports/client_trend.html", {"client": client, "reports": reports, "chart": chart})


# --- recorded calls --------------------------------------------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    """The upload page's script (reports/upload.js) sends the form itself, to show the transfer's progress."""
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _accept_upload(request: HttpRequest, form: UploadForm) -> Recording | None:
    """Store a valid upload and start its analysis; None (with a form error) when the file is not a video.

    The manager's attestation that the client agreed to the analysis is kept in the upload's audit entry.
    """
    client: Client = form.cleaned_data["client"]
    video = form.cleaned_data["video"]
    recording = Recording(
        manager=client.manager,
        uploaded_by=request.user,
        client=client,
        original_name=video.name[:255],
        size_bytes=video.size,
        labels=form.cleaned_data.get("labels"),
    )
    recording.file.save(video.name, video, save=False)
    too_big = limits_problem(recording.file.path)
    reason = too_big or probe_video(recording.file.path)
    if reason is not None:
        # Leave nothing behind: the file goes and no record is created.
        default_storage.delete(recording.file.name)
        form.add_error("video", too_big or _("This file cannot be read as a video (corrupt or unsupported format)."))
        return None
    with transaction.atomic():
        recording.save()
        audit(
            request.user,
            AuditAction.CONSENT_GIVEN,
            recording,
            upload="recording",
            client=str(client.pk),
            size_bytes=recording.size_bytes,
            synthetic=recording.is_synthetic,
            consent_attested=form.cleaned_data["consent"],
        )
        start_analysis(recording.pk)  # after the commit, in the background
    return recording


def _upload_outcome(request: HttpRequest, form: UploadForm, recording: Recording | None) -> HttpResponse | None:
    """The answer to an upload, or None where the page is shown (again): a GET, or a plain POST with errors.

    Without the script the browser posts the form and follows the redirect to the recording's page; the
    script's own request gets the same outcome as JSON.
    """
    if recording is not None:
        url = reverse("reports:recording", args=[recording.pk])
        if not _wants_json(request):
            return redirect(url)
        status_url = reverse("reports:recording_status", args=[recording.pk])
        response = JsonResponse({"url": url, "status_url": status_url}, status=201)
        response["Location"] = url
        return response
    if request.method == "POST" and _wants_json(request):
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    recording = _accept_upload(request, form) if request.method == "POST" and form.is_valid() else None
    if (response := _upload_outcome(request, form, recording)) is not None:
        return response
    recent = Recording.objects.for_user(request.user).select_related("client", "call")[:10]
    return render(
        request,
        "reports/upload.html",
        {"form": form, "recent": recent, "max_mb": settings.MIMIC_UPLOAD_MAX_BYTES // (1024 * 1024)},
    )


@login_required
@require_GET
def recording_detail(request: HttpRequest, recording_id: uuid.UUID) -> HttpResponse:
    recording = _get_recording_for_user(request, recording_id)
    return render(request, "reports/recording.html", {"recording": recording})


@login_required
@require_GET
def recording_status(request: HttpRequest, recording_id: uuid.UUID) -> JsonResponse:
    recording = _get_recording_for_user(request, recording_id)
    return JsonResponse(
        {
            "status": recording.status,
            "progress": round(recording.progress, 3),
            "error": recording.error,
            "report_url": reverse("reports:call_report", args=[recording.call_id]) if recording.call_id else None,
        }
    )


# --- pilot -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def client_feedback(request: HttpRequest, token: str) -> HttpResponse:
    """The client's short questionnaire after the call; the capture link's token identifies the call."""
    call_id = call_id_from_token(token)
    if call_id is None:
        raise Http404
    call = get_object_or_404(Call, pk=call_id)
    state = "form"
    if call.status in (CallStatus.SCHEDULED, CallStatus.LIVE):
        state = "not_ended"
    elif ClientFeedback.objects.filter(call=call).exists():
        state = "thanks"
    elif call.ended_at and timezone.now() - call.ended_at > FEEDBACK_WINDOW:
        state = "expired"
    form = FeedbackForm(request.POST or None) if state == "form" else None
    if form is not None and request.method == "POST" and form.is_valid():
        ClientFeedback.objects.get_or_create(
            call=call,
            defaults={
                "rating": form.cleaned_data["rating"],
                "upset": form.cleaned_data["upset"],
                "upset_moment": form.cleaned_data["upset_moment"] if form.cleaned_data["upset"] else "",
            },
        )
        return redirect("reports:client_feedback", token=token)
    return render(request, "reports/client_feedback.html", {"form": form, "state": state}, status=200)


@login_required
@require_http_methods(["GET", "POST"])
def pilot(request: HttpRequest) -> HttpResponse:
    """The pilot's measures; its upload form takes a synthetic test (a recording with its labels CSV)."""
    form = PilotUploadForm(request.POST or None, request.FILES or None, user=request.user)
    recording = _accept_upload(request, form) if request.method == "POST" and form.is_valid() else None
    if (response := _upload_outcome(request, form, recording)) is not None:
        return response
    reports = (
        CallReport.objects.for_user(request.user)
        .filter(call__feedback__isnull=False)
        .select_related("call", "call__client", "call__manager", "call__feedback")
        .order_by("-call__created")
    )
    rows = []
    for r in reports:
        fb = r.call.feedback
        model_flag = model_flagged_negative(r.negative_pct, r.negative_episodes)
        client_flag = client_reported_negative(fb.rating, fb.upset)
        rows.append({"report": r, "feedback": fb, "model": model_flag, "client": client_flag})
    stats = confusion((row["model"], row["client"]) for row in rows)
    synthetic = [
        rec
        for rec in Recording.objects.for_user(request.user)
        .filter(status=RecordingStatus.DONE, label_agreement__isnull=False)
        .select_related("client", "call")
        if rec.label_agreement
    ]
    return render(
        request,
        "reports/pilot.html",
        {
            "form": form,
            "max_mb": settings.MIMIC_UPLOAD_MAX_BYTES // (1024 * 1024),
            "rows": rows,
            "stats": stats,
            "threshold": NEGATIVE_SHARE_THRESHOLD_PCT,
            "low_rating": LOW_RATING,
            "model_metrics": load_model_metrics(),
            "synthetic": synthetic,
        },
    )
