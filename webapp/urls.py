from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

# The admin (decrypted client names, export, erasure) only for a session verified by a second factor; its own
# login form asks for the code as well, and django-axes locks it like every other door.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="calls:call_list", permanent=False)),
    path("accounts/", include("accounts.urls")),
    path("calls/", include("calls.urls")),
    path("reports/", include("reports.urls")),
    path("illustrations/", include("illustrations.urls")),
    path("dion/", include("dion.urls")),
    path("privacy/", include("privacy.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
