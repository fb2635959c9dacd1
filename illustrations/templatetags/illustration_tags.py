from __future__ import annotations

from typing import Any

from django import template

from calls.models import Showing
from illustrations.models import Illustration

register = template.Library()

OTHERS_SHOWN = 5


@register.inclusion_tag("illustrations/_live_panel.html", takes_context=True)
def illustrations_for_call(context: dict[str, Any], call) -> dict[str, Any]:
    """The live page's list of the manager's illustrations for this call's client, each with a Show button
    (and a few of the manager's illustrations not yet tied to a client)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or call.manager_id != user.pk or not call.is_open:
        return {"visible": False}
    mine = Illustration.objects.filter(manager=user).prefetch_related("products")
    for_client = list(mine.filter(client_id=call.client_id)[:20])
    others = list(mine.filter(client__isnull=True)[:OTHERS_SHOWN])
    shown = set(Showing.objects.open().filter(call=call).values_list("subject", flat=True))
    return {
        "visible": True,
        "call": call,
        "for_client": for_client,
        "others": others,
        "shown": shown,
        "csrf_token": context.get("csrf_token"),
    }
