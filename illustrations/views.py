from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from illustrations.forms import PRESETS, IllustrationForm, ShareForm, product_formset
from illustrations.models import (
    TARGET_CLARITY,
    TARGET_ENGAGEMENT_PCT,
    TARGET_UNDERSTAND_S,
    Illustration,
    LinkState,
    Product,
    ShareLink,
    ShareView,
    pilot_summary,
)
from illustrations.pilot import pilot_chart_svg
from illustrations.texts import scene_for
from illustrations.trees import frames, render_scene
from lib.pdf import render_pdf

EVENT_KINDS = ("slider", "details", "understood", "rating")


# --------------------------------------------------------------------------- staff pages


def _get_illustration_for_user(request: HttpRequest, illustration_id: uuid.UUID) -> Illustration:
    """The illustration if this user may see it; 404 otherwise, so others' ids leak nothing."""
    queryset = Illustration.objects.for_user(request.user).select_related("manager")
    return get_object_or_404(queryset.prefetch_related("products"), pk=illustration_id)


@login_required
def illustration_list(request: HttpRequest) -> HttpResponse:
    illustrations = (
        Illustration.objects.for_user(request.user)
        .select_related("manager")
        .prefetch_related("products", Prefetch("links", queryset=ShareLink.objects.order_by("-created")))[:200]
    )
    return render(request, "illustrations/list.html", {"illustrations": illustrations})


@login_required
def illustration_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = IllustrationForm(request.POST)
        formset = product_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            with transaction.atomic():
                illustration = Illustration.objects.create(manager=request.user, **form.cleaned_data)
                Product.objects.bulk_create(
                    Product(illustration=illustration, position=i, **row) for i, row in enumerate(formset.filled())
                )
            messages.success(request, _("Illustration created. Share it with the client when ready."))
            return redirect(illustration)
    else:
        form = IllustrationForm()
        formset = product_formset()
    presets = {
        key: {**value, "name": str(value["name"]), "rate_pct": str(value["rate_pct"])} for key, value in PRESETS.items()
    }
    return render(request, "illustrations/form.html", {"form": form, "formset": formset, "presets": presets})


@login_required
def illustration_detail(request: HttpRequest, illustration_id: uuid.UUID) -> HttpResponse:
    illustration = _get_illustration_for_user(request, illustration_id)
    links = list(illustration.links.all())
    share_urls = {link.id: request.build_absolute_uri(link.get_share_url()) for link in links if link.state == "active"}
    context = {
        "illustration": illustration,
        "svg": render_scene(scene_for(illustration)),
        "links": [(link, share_urls.get(link.id)) for link in links],
        "share_form": ShareForm(),
    }
    return render(request, "illustrations/detail.html", context)


@login_required
@require_POST
def share_create(request: HttpRequest, illustration_id: uuid.UUID) -> HttpResponse:
    illustration = _get_illustration_for_user(request, illustration_id)
    form = ShareForm(request.POST)
    if form.is_valid():
        ShareLink.issue(illustration, days=form.cleaned_data["days"])
        messages.success(request, _("A new link is ready: copy it below and send it to the client."))
    else:
        messages.error(request, _("Choose a validity between 1 and 90 days."))
    return redirect(illustration)


@login_required
@require_POST
def share_revoke(request: HttpRequest, illustration_id: uuid.UUID, link_id: uuid.UUID) -> HttpResponse:
    illustration = _get_illustration_for_user(request, illustration_id)
    link = get_object_or_404(ShareLink, pk=link_id, illustration=illustration)
    link.revoke()
    messages.success(request, _("The link is revoked: the client can no longer open it."))
    if request.POST.get("next") == "list":
        return redirect("illustrations:list")
    return redirect(illustration)


def _svg_response(svg: str, filename: str) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # An SVG opened directly must not run anything, even if a future change let markup through.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _pdf_bytes(request: HttpRequest, illustration: Illustration) -> bytes:
    scene = scene_for(illustration)
    rows = []
    step = 1 if illustration.horizon_years <= 10 else 5
    years = sorted({*range(0, illustration.horizon_years + 1, step), illustration.horizon_years})
    for year in years:
        rows.append((scene.years_phrase(year), [scene.money(p.values[year]) for p in scene.projections]))
    html = render_to_string(
        "illustrations/pdf.html",
        {"illustration": illustration, "svg": render_scene(scene), "names": scene.names, "rows": rows},
        request=request,
    )
    return render_pdf(html, base_url=request.build_absolute_uri("/"))


def _pdf_response(pdf: bytes) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="illustration.pdf"'
    return response


@login_required
@require_GET
def illustration_svg(request: HttpRequest, illustration_id: uuid.UUID) -> HttpResponse:
    illustration = _get_illustration_for_user(request, illustration_id)
    return _svg_response(render_scene(scene_for(illustration)), "illustration.svg")


@login_required
@require_GET
def illustration_pdf(request: HttpRequest, illustration_id: uuid.UUID) -> HttpResponse:
    illustration = _get_illustration_for_user(request, illustration_id)
    return _pdf_response(_pdf_bytes(request, illustration))


@login_required
def pilot(request: HttpRequest) -> HttpResponse:
    links = list(
        ShareLink.objects.for_user(request.user)
        .select_related("illustration", "illustration__manager")
        .prefetch_related("views")[:1000]
    )
    summary = pilot_summary(links)
    targets = {"clarity": TARGET_CLARITY, "engagement": TARGET_ENGAGEMENT_PCT, "understand_s": TARGET_UNDERSTAND_S}
    labels = {
        "clarity_mean": _("Clarity (1–5)"),
        "engagement_pct": _("Engagement"),
        "understand_median_s": _("Time to understand"),
        "target": _("target"),
    }
    chart = pilot_chart_svg(summary, labels=labels, no_data=_("no data yet"))
    context = {"summary": summary, "targets": targets, "chart": chart}
    return render(request, "illustrations/pilot.html", context)


# --------------------------------------------------------------------------- the client's page (no login)


def _private(response: HttpResponse) -> HttpResponse:
    """Headers for every response behind a share token: no referrer leak, no indexing, no caching."""
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _gone(request: HttpRequest, status: int) -> HttpResponse:
    return _private(render(request, "illustrations/share_gone.html", {"status": status}, status=status))


def _with_link(view: Callable) -> Callable:
    """Resolve the token: forged or unknown → 404; expired or revoked → 410; never a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
        link = ShareLink.from_token(token) if len(token) < 300 else None
        if link is None:
            return _gone(request, 404)
        if link.state != LinkState.ACTIVE:
            return _gone(request, 410)
        return _private(view(request, link, token, *args, **kwargs))

    return wrapper


@require_GET
@ensure_csrf_cookie
@_with_link
def share_page(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    illustration = Illustration.objects.prefetch_related("products").get(pk=link.illustration_id)
    view = ShareView.objects.create(link=link)
    scene = scene_for(illustration)
    data = frames(scene)
    data.update(
        {
            "view": str(view.id),
            "eventUrl": reverse("illustrations:share_event", args=[token]),
            "labels": {
                "value": _("Value"),
                "invested": _("Paid in"),
                "gain": _("Gain"),
                "rate": _("Rate"),
                "risk": _("Risk"),
            },
        }
    )
    table = [
        (scene.years_phrase(year), [scene.money(p.values[year]) for p in scene.projections])
        for year in range(illustration.horizon_years + 1)
    ]
    context = {
        "illustration": illustration,
        "svg": render_scene(scene),
        "island": data,
        "names": scene.names,
        "table": table,
        "token": token,
        "view": view,
    }
    return render(request, "illustrations/share.html", context)


@require_GET
@_with_link
def share_svg(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    illustration = Illustration.objects.prefetch_related("products").get(pk=link.illustration_id)
    return _svg_response(render_scene(scene_for(illustration)), "illustration.svg")


@require_GET
@_with_link
def share_pdf(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    illustration = Illustration.objects.prefetch_related("products").get(pk=link.illustration_id)
    return _pdf_response(_pdf_bytes(request, illustration))


@require_POST
@_with_link
def share_event(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    """Pilot events from the share page. CSRF middleware checks the page's token; the URL carries the link."""
    if len(request.body) > 2048:
        return JsonResponse({"error": "too large"}, status=400)
    try:
        payload = json.loads(request.body or b"{}")
        view_id = uuid.UUID(str(payload.get("view")))
        kind = str(payload.get("kind"))
        rating = payload.get("rating")
        rating = int(rating) if rating is not None else None
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"error": "bad request"}, status=400)
    if kind not in EVENT_KINDS or (kind == "rating" and (rating is None or not 1 <= rating <= 5)):
        return JsonResponse({"error": "bad event"}, status=400)
    view = ShareView.objects.filter(pk=view_id, link=link).first()
    if view is None:
        return JsonResponse({"error": "unknown view"}, status=404)
    view.record(kind, rating)
    return JsonResponse({"ok": True})
