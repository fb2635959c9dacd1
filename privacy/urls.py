from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.home, name="home"),
    # Clients by pseudonym: the pages are for the admin role only (404 for everyone else).
    path("clients/<str:pseudonym>/", views.client_detail, name="client"),
    path("clients/<str:pseudonym>/export/", views.client_export, name="client_export"),
    path("clients/<str:pseudonym>/erase/", views.client_erase, name="client_erase"),
    path("audit/", views.audit_log, name="audit"),
    path("retention/", views.retention, name="retention"),
    path("retention/purge/", views.purge_now, name="purge_now"),
]
