from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "get_full_name", "role", "supervisor", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (("Mimic", {"fields": ("role", "supervisor")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("Mimic", {"fields": ("role", "supervisor")}),)
