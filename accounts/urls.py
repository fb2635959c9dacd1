from django.contrib.auth import views as auth_views
from django.urls import path
from mozilla_django_oidc import views as oidc_views

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.two_factor, name="two_factor"),
    path("login/enrol/", views.enrol, name="enrol"),
    path("login/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Corporate sign-in (accounts.oidc); the views answer only while MIMIC_OIDC_ENABLED (views.oidc_only).
    path("oidc/start/", views.oidc_only(oidc_views.OIDCAuthenticationRequestView.as_view()), name="oidc_start"),
    path("oidc/callback/", views.oidc_only(oidc_views.OIDCAuthenticationCallbackView.as_view()), name="oidc_callback"),
]
