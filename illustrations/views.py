from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from calls.broadcast import send_to_call
from calls.models import Call, Consent, Showing, ShowingSource
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
from illustrations.reaction import reactions
from illustrations.texts import scene_for
from illustrations.trees import frames, render_scene
from lib.pdf import render_pdf

EVENT_KINDS = ("slider", "details", "understood", "rating")
# Signs a call id into the "look" URL the manager's Show sends to the client's capture page.
LOOK_SALT = "illustrations.look"
LOOK_MAX_AGE_S = 24 * 3600


# --------------------------------------------------------------------------- staff pages


def _get_illustration_for_user(request: HttpRequest, illustration_id: uuid.UUID) -> Illustration:
    """The illustration if this user may see it; 404 otherwise, so others' ids leak nothing."""
    queryset = Illustration.objects.for_user(request.user).select_related("manager")
    return get_object_or_404(queryset.prefetch_related("products"), pk=illustration_id)


def _get_own_illustration(request: HttpRequest, illustration_id: uuid.UUID) -> Illustration:
    """The illustration for a change (its client-facing links): only its own manager may; everyone else who
    can see it (a supervisor, an admin) is read-only here as everywhere (403), the rest get 404."""
    illustration = _get_illustration_for_user(request, illustration_id)
    if illustration.manager_id != request.user.pk:
        raise PermissionDenied
    return illustration


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
        form = IllustrationForm(request.POST, user=request.user)
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
        form = IllustrationForm(user=request.user, initial={"client": request.GET.get("client") or None})
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
    scene = scene_for(illustration)
    context = {
        "illustration": illustration,
        "svg": render_scene(scene),
        "svg_narrow": render_scene(scene, layout="narrow"),
        "links": [(link, share_urls.get(link.id)) for link in links],
        "share_form": ShareForm(),
    }
    return render(request, "illustrations/detail.html", context)


@login_required
@require_POST
def share_create(request: HttpRequest, illustration_id: uuid.UUID) -> HttpResponse:
    illustration = _get_own_illustration(request, illustration_id)
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
    illustration = _get_own_illustration(request, illustration_id)
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
    return render_pdf(_pdf_html(request, illustration), base_url=request.build_absolute_uri("/"))


def _pdf_html(request: HttpRequest, illustration: Illustration) -> str:
    scene = scene_for(illustration)
    rows = []
    step = 1 if illustration.horizon_years <= 10 else 5
    years = sorted({*range(0, illustration.horizon_years + 1, step), illustration.horizon_years})
    for year in years:
        rows.append((scene.years_phrase(year), [scene.money(p.values[year]) for p in scene.projections]))
    return render_to_string(
        "illustrations/pdf.html",
        {"illustration": illustration, "svg": render_scene(scene), "names": scene.names, "rows": rows},
        request=request,
    )


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
        .prefetch_related("views", "illustration__products")[:1000]
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
    # Per illustration: the pilot's measures beside the client's reaction while looking at it during calls.
    groups: dict = {}
    for link in links:
        groups.setdefault(link.illustration_id, (link.illustration, []))[1].append(link)
    per_ill, reaction_all = reactions(groups)
    per_illustration = [
        {"illustration": ill, "measures": pilot_summary(group), "reaction": per_ill.get(ill_id)}
        for ill_id, (ill, group) in groups.items()
    ]
    context = {
        "summary": summary,
        "targets": targets,
        "chart": chart,
        "per_illustration": per_illustration,
        "reaction_all": reaction_all,
    }
    return render(request, "illustrations/pilot.html", context)


# --------------------------------------------------------------------------- showing during a live call


def _get_open_call_for_manager(request: HttpRequest, call_id: uuid.UUID) -> Call:
    """The user's own open call (a live page is the call manager's alone); 404 otherwise."""
    return get_object_or_404(Call.objects.for_manager(request.user).open().select_related("client"), pk=call_id)


def _active_link(illustration: Illustration) -> ShareLink:
    """The illustration's newest active link, or a new one: what the client's page opens."""
    for link in illustration.links.order_by("-created"):
        if link.state == LinkState.ACTIVE:
            return link
    return ShareLink.issue(illustration)


def _shown_reply(request: HttpRequest, call: Call, payload: dict) -> HttpResponse:
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(payload)
    return redirect("calls:call_live", call_id=call.pk)


@login_required
@require_POST
def show_on_call(request: HttpRequest, call_id: uuid.UUID, illustration_id: uuid.UUID) -> HttpResponse:
    """The manager's Show: the client's capture page displays the illustration (its share link). The showing is
    recorded when the client's page reports that it is on screen (share_look), not here."""
    call = _get_open_call_for_manager(request, call_id)
    illustration = _get_own_illustration(request, illustration_id)
    if illustration.client_id is None:  # shown to this client: listed on their later calls too
        illustration.client = call.client
        illustration.save(update_fields=["client"])
    link = _active_link(illustration)
    token = link.token
    look = reverse("illustrations:share_look", args=[token]) + "?c=" + signing.dumps(str(call.pk), salt=LOOK_SALT)
    svg = reverse("illustrations:share_svg", args=[token])
    send_to_call(
        call.pk,
        {
            "type": "illustration.show",
            "title": illustration.products_label,
            "url": request.build_absolute_uri(link.get_share_url()),
            "svg": svg,
            "svg_narrow": svg + "?layout=narrow",
            "look": look,
        },
    )
    return _shown_reply(request, call, {"shown": str(illustration.pk)})


@login_required
@require_POST
def hide_on_call(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    """The manager's Stop showing: the client's page closes it; the open showings end now."""
    call = _get_open_call_for_manager(request, call_id)
    send_to_call(call.pk, {"type": "illustration.hide"})
    Showing.objects.stop(call.pk)
    return _shown_reply(request, call, {"shown": None})


def _call_for_look(request: HttpRequest, link: ShareLink) -> tuple[Call | None, str]:
    """The open call this look belongs to, and how it came: the call signed into the URL by the manager's Show,
    or else the illustration's client's live call with the same manager. Only with the call's consent given."""
    illustration = link.illustration
    signed = request.GET.get("c")
    if signed:
        try:
            call_id = uuid.UUID(str(signing.loads(signed, salt=LOOK_SALT, max_age=LOOK_MAX_AGE_S)))
        except (signing.BadSignature, TypeError, ValueError):
            return None, ""
        calls, source = Call.objects.open().filter(pk=call_id), ShowingSource.MANAGER
    elif illustration.client_id is not None:
        calls, source = Call.objects.live().filter(client_id=illustration.client_id), ShowingSource.LINK
    else:
        return None, ""
    call = calls.filter(manager_id=illustration.manager_id).order_by("-started_at").first()
    if call is None or not Consent.objects.active().filter(call=call).exists():
        return None, ""
    return call, source


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
            "lookUrl": reverse("illustrations:share_look", args=[token]),
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
        "svg_narrow": render_scene(scene, layout="narrow"),
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
    layout = "narrow" if request.GET.get("layout") == "narrow" else "wide"
    return _svg_response(render_scene(scene_for(illustration), layout=layout), "illustration.svg")


# Anonymous share-link PDFs: each link may have this many per minute (per web process); each rendering is kept
# for a day under the hash of its HTML, which changes with the illustration, the language and the template.
SHARE_PDF_PER_MINUTE = 6
SHARE_PDF_CACHE_SECONDS = 24 * 3600


def _share_pdf_allowed(link: ShareLink) -> bool:
    key = f"illustrations:share-pdf-rate:{link.pk}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) <= SHARE_PDF_PER_MINUTE
    except ValueError:  # evicted between add and incr
        return True


def _cached_pdf_bytes(request: HttpRequest, illustration: Illustration) -> bytes:
    pdf_html = _pdf_html(request, illustration)
    key = "illustrations:share-pdf:" + hashlib.sha256(pdf_html.encode()).hexdigest()
    pdf = cache.get(key)
    if pdf is None:
        pdf = render_pdf(pdf_html, base_url=request.build_absolute_uri("/"))
        cache.set(key, pdf, timeout=SHARE_PDF_CACHE_SECONDS)
    return pdf


@require_GET
@_with_link
def share_pdf(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    if not _share_pdf_allowed(link):
        response = HttpResponse(_("Too many downloads of this PDF: try again in a minute."), status=429,
                                content_type="text/plain; charset=utf-8")  # fmt: skip
        response["Retry-After"] = "60"
        return response
    illustration = Illustration.objects.prefetch_related("products").get(pk=link.illustration_id)
    return _pdf_response(_cached_pdf_bytes(request, illustration))


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


@csrf_exempt  # the signed token in the URL is the capability; no cookie authorises anything here
@require_POST
@_with_link
def share_look(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    """The client's page reports that the illustration came on screen or left it (sendBeacon on the way out).
    During a live call of this client, the call's timeline gets the interval; otherwise nothing is kept."""
    if len(request.body) > 256:
        return JsonResponse({"error": "too large"}, status=400)
    try:
        state = json.loads(request.body or b"{}").get("state")
    except (ValueError, AttributeError):
        return JsonResponse({"error": "bad request"}, status=400)
    if state not in ("start", "stop"):
        return JsonResponse({"error": "bad state"}, status=400)
    call, source = _call_for_look(request, link)
    if call is None:
        return JsonResponse({"marked": False})
    if state == "start":
        illustration = Illustration.objects.prefetch_related("products").get(pk=link.illustration_id)
        Showing.objects.start(call, illustration.pk, illustration.products_label, source)
    else:
        Showing.objects.stop(call.pk, link.illustration_id)
    return JsonResponse({"marked": True})
