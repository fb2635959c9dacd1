from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view()),  # the directory's own sign-in page
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
