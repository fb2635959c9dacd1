from __future__ import annotations

from django import template

from calls.models import Notification

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    """Unread in-portal notifications of the signed-in user (one COUNT query per page)."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user).unread().count()
