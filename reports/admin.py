from django.contrib import admin

from reports.models import CallReport


@admin.register(CallReport)
class CallReportAdmin(admin.ModelAdmin):
    list_display = ("call", "satisfaction_pct", "negative_pct", "face_visible_pct", "created")
