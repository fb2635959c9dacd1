from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

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
