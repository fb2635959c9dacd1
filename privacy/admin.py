from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from privacy.erasure import erase_client, export_client
from privacy.models import AuditEvent, DestructionRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("object_id", "actor_label")


@admin.register(DestructionRecord)
class DestructionRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "total", "subject", "actor_label")
    list_filter = ("kind",)


# Admin actions for emotions.Client (wired in calls/admin.py).


@admin.action(description=_("Export all data of the selected clients (JSON)"), permissions=["change"])
def export_client_data(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
    exports = [export_client(client, actor=request.user) for client in queryset]
    body = json.dumps({"clients": exports}, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="mimic-client-export-{stamp}.json"'
    return response


@admin.action(description=_("Erase all data of the selected clients"), permissions=["delete"])
def erase_client_data(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    if request.POST.get("confirm_erasure") == "yes":
        records = [erase_client(client, actor=request.user) for client in queryset]
        count = len(records)
        modeladmin.message_user(
            request,
            ngettext("Erased the data of %(count)d client.", "Erased the data of %(count)d clients.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Erase client data"),
        "clients": list(queryset),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "privacy/erase_confirm.html", context)
