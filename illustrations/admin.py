from django.contrib import admin

from illustrations.models import Illustration, Product, ShareLink, ShareView


class ProductInline(admin.TabularInline):
    model = Product
    extra = 0


@admin.register(Illustration)
class IllustrationAdmin(admin.ModelAdmin):
    list_display = ("client_label", "manager", "horizon_years", "currency", "created")
    list_filter = ("currency",)
    inlines = [ProductInline]


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("id", "illustration", "created", "expires_at", "revoked_at")
    readonly_fields = ("id", "created")


@admin.register(ShareView)
class ShareViewAdmin(admin.ModelAdmin):
    list_display = ("link", "opened_at", "slider_at", "details_at", "understood_at", "rating")
