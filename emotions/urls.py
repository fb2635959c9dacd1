from django.urls import path

from emotions import views

app_name = "emotions"

urlpatterns = [
    path("", views.call_list, name="call_list"),
    path("<uuid:call_id>/", views.call_detail, name="call_detail"),
]
