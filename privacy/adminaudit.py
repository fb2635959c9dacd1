"""The admin shows decrypted names and can change or delete calls and samples: each of those is audited."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from privacy.audit import audit
from privacy.models import AuditAction


class AuditedChangesAdmin(admin.ModelAdmin):
    """Every edit and delete through this admin leaves an audit event naming the admin and the rows."""

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit(request.user, AuditAction.ADMIN_CHANGED, obj, added=not change, fields=sorted(form.changed_data))

    def delete_model(self, request: HttpRequest, obj) -> None:
        target = (obj._meta.label, str(obj.pk))
        super().delete_model(request, obj)
        audit(request.user, AuditAction.ADMIN_DELETED, target=target, count=1)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        super().delete_queryset(request, queryset)
        audit(request.user, AuditAction.ADMIN_DELETED, target=(queryset.model._meta.label, ""), count=len(ids), ids=ids)


class AuditedViewsAdmin(admin.ModelAdmin):
    """Lists and pages that show decrypted personal data: each look is audited (what was asked for, not the names)."""

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 200) == 200:
            audit(
                request.user,
                AuditAction.ADMIN_VIEWED,
                target=(self.model._meta.label, ""),
                query=request.GET.urlencode(),
            )
        return response

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 200) == 200:
            audit(request.user, AuditAction.ADMIN_VIEWED, target=(self.model._meta.label, str(object_id)))
        return response
