from django.contrib import admin

from calls.models import Call, Client, EmotionSample
from privacy.admin import erase_client_data, export_client_data
from privacy.adminaudit import AuditedChangesAdmin, AuditedViewsAdmin
from privacy.erasure import erase_client


@admin.register(Client)
class ClientAdmin(AuditedViewsAdmin, AuditedChangesAdmin):
    list_display = ("pseudonym", "display_name", "manager", "created")
    search_fields = ("pseudonym",)
    # Right of access and erasure (privacy app); both audited.
    actions = [export_client_data, erase_client_data]

    def get_actions(self, request):
        # "Delete selected" would skip the confirmation page; erasure is the one way to delete.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj: Client) -> None:
        # The delete button erases files and links too and leaves the audit tombstone.
        erase_client(obj, actor=request.user)


@admin.register(Call)
class CallAdmin(AuditedChangesAdmin):
    list_display = ("id", "client", "manager", "status", "source", "created", "ended_at")
    list_filter = ("status", "source")


@admin.register(EmotionSample)
class EmotionSampleAdmin(AuditedChangesAdmin):
    list_display = ("call", "seq", "offset_ms", "face_found", "label", "valence")
    list_select_related = ("call",)
