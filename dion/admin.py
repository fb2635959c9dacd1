from django.contrib import admin

from dion.models import DionMeeting, WebhookEvent


@admin.register(DionMeeting)
class DionMeetingAdmin(admin.ModelAdmin):
    list_display = ("call", "room_id", "room_url", "chat_posted", "created")
    search_fields = ("room_id", "room_url")
    raw_id_fields = ("call",)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "kind", "received_at")
    search_fields = ("event_id",)
