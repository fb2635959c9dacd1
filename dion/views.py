from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls.models import Call
from dion import bot, services, signing
from dion.forms import MeetingLinkForm
from dion.models import BotChat, WebhookEvent
from dion.transport import DionError

logger = logging.getLogger(__name__)


def _get_call_for_manager(request: HttpRequest, call_id: uuid.UUID) -> Call:
    """A call of the signed-in manager (only they set its meeting link); 404 for anyone else's."""
    return get_object_or_404(Call.objects.for_manager(request.user), pk=call_id)


MEETING_ENDED = "meeting.ended"
EVENT_ID_KEEP = timedelta(days=1)


@login_required
@require_POST
def meeting_link(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    # Only the call's own manager sets its meeting link; anyone else gets 404.
    call = _get_call_for_manager(request, call_id)
    form = MeetingLinkForm(request.POST)
    if not call.is_open:
        messages.error(request, _("The call has ended; its meeting link can no longer change."))
    elif form.is_valid():
        services.set_meeting_url(call, form.cleaned_data["dion_meeting_url"])
        messages.success(request, _("Dion meeting link saved."))
    else:
        messages.error(request, " ".join(form.errors.get("dion_meeting_url", [])))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = call.get_absolute_url()
    return HttpResponseRedirect(target)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Meeting events relayed from Dion, signed with DION_WEBHOOK_SECRET (format in docs/dion.md)."""
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER, "")
    signature = request.headers.get(signing.SIGNATURE_HEADER, "")
    if not signing.verify(settings.DION_WEBHOOK_SECRET, timestamp, request.body, signature):
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return HttpResponse("bad timestamp", status=400, content_type="text/plain")
    if abs(timezone.now().timestamp() - sent_at) > settings.DION_WEBHOOK_TOLERANCE_SECONDS:
        return HttpResponse("stale timestamp", status=409, content_type="text/plain")
    try:
        event = json.loads(request.body)
        event_id, kind = str(event["event_id"]), str(event["type"])
    except (ValueError, KeyError, TypeError):
        return HttpResponse("bad event", status=400, content_type="text/plain")
    if not event_id or len(event_id) > 200:
        return HttpResponse("bad event id", status=400, content_type="text/plain")
    if kind != MEETING_ENDED:
        return HttpResponse(status=204)  # other events are not used (yet)

    call = services.find_call(str(event.get("meeting_id") or ""), str(event.get("meeting_url") or ""))
    if call is None:
        # Not recorded: a retry after the link is saved can still end the call.
        return HttpResponse("unknown meeting", status=404, content_type="text/plain")
    try:
        with transaction.atomic():
            record = WebhookEvent.objects.create(event_id=event_id, kind=kind)
    except IntegrityError:
        return HttpResponse("replayed event", status=409, content_type="text/plain")
    try:
        # After the commit of the event id, so the report task never runs before the call reads as ended.
        ended = services.end_call(call)
    except Exception:
        record.delete()  # let Dion's retry of this event try again
        raise
    logger.info("Dion meeting ended: call %s (%s)", call.pk, "ended" if ended else "already over")
    # Ids older than the timestamp window can never be replayed (the window refuses them); keep a day.
    WebhookEvent.objects.filter(received_at__lt=timezone.now() - EVENT_ID_KEEP).delete()
    return HttpResponse(status=204)


@login_required
@require_POST
def send_link(request: HttpRequest) -> HttpResponse:
    """Post a link the portal showed this user (signed for them) into one of their chats with the bot."""
    url = services.unsign_link(request.POST.get("link", ""), request.user.pk)
    chat = BotChat.objects.filter(manager=request.user, pk=request.POST.get("chat") or None).first()
    if url is None or chat is None:
        messages.error(request, _("This link cannot be sent: reload the page and try again."))
    elif not bot.is_configured():
        messages.error(request, _("The Mimic bot in Dion is not configured."))
    else:
        try:
            services.send_link(chat, url)
        except DionError as exc:
            logger.warning("Link not sent to Dion chat %s: %s", chat.chat_id, exc.message)
            messages.error(request, _("The link was not sent to Dion: %(reason)s") % {"reason": exc.message})
        else:
            messages.success(request, _("Link sent to %(chat)s in Dion.") % {"chat": chat.name or chat.chat_id})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = "/"
    return HttpResponseRedirect(target)
