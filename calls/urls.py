from django.urls import path

from calls import views

app_name = "calls"

urlpatterns = [
    path("", views.call_list, name="call_list"),
    path("start/", views.start_call, name="start_call"),
    path("notifications/", views.notifications, name="notifications"),
    path("<uuid:call_id>/", views.call_detail, name="call_detail"),
    path("<uuid:call_id>/live/", views.call_live, name="call_live"),
    path("<uuid:call_id>/end/", views.call_end, name="call_end"),
    path("<uuid:call_id>/withdraw/", views.call_withdraw, name="call_withdraw"),
    # The client's link (signed token; no account). Capture refused once the call has ended.
    path("c/<str:token>/", views.client_capture, name="client_capture"),
    path("c/<str:token>/stop/", views.client_stop, name="client_stop"),
    path("c/<str:token>/consent/", views.client_consent_record, name="client_consent_record"),
]
