from django.contrib import admin

from dion.models import BotUpdate, DionAccount, DionMeeting, WebhookEvent


@admin.register(DionMeeting)
class DionMeetingAdmin(admin.ModelAdmin):
    list_display = ("call", "room_id", "room_url", "chat_posted", "polled_at", "sessions_ended_at", "created")
    search_fields = ("room_id", "room_url")
    raw_id_fields = ("call",)


@admin.register(DionAccount)
class DionAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "dion_user_id", "dm_chat_id", "updated")
    search_fields = ("dion_user_id", "user__username")
    raw_id_fields = ("user",)


@admin.register(BotUpdate)
class BotUpdateAdmin(admin.ModelAdmin):
    list_display = ("update_id", "chat_id", "received_at", "handled_at")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "kind", "received_at")
    search_fields = ("event_id",)
