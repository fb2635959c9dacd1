from __future__ import annotations

from django import template
from django.utils.html import format_html

from calls.models import Client

register = template.Library()


@register.simple_tag
def client_label(client: Client, user) -> str:
    """``{% client_label client request.user %}``: the client as this viewer may see them.

    The client's own manager sees the name with the pseudonym beside it, small (so ids still match what
    supervisors see); everyone else, and a page rendered without a viewer, sees the pseudonym only
    (``Client.shows_name_to`` is the rule).
    """
    if client.shows_name_to(user):
        return format_html('{} <small class="pseudonym">{}</small>', client.display_name, client.pseudonym)
    return client.pseudonym
