from django.urls import path

from dion import views

app_name = "dion"

urlpatterns = [
    path("webhook/", views.webhook, name="webhook"),
    path("calls/<uuid:call_id>/meeting-link/", views.meeting_link, name="meeting_link"),
    path("send-link/", views.send_link, name="send_link"),
]
