from django.urls import path

from illustrations import views

app_name = "illustrations"

urlpatterns = [
    path("", views.illustration_list, name="list"),
    path("new/", views.illustration_create, name="create"),
    path("pilot/", views.pilot, name="pilot"),
    path("<uuid:illustration_id>/", views.illustration_detail, name="detail"),
    path("<uuid:illustration_id>/illustration.svg", views.illustration_svg, name="svg"),
    path("<uuid:illustration_id>/illustration.pdf", views.illustration_pdf, name="pdf"),
    path("<uuid:illustration_id>/share/", views.share_create, name="share_create"),
    path("<uuid:illustration_id>/share/<uuid:link_id>/revoke/", views.share_revoke, name="share_revoke"),
    # The client's pages: no login; the signed token is the capability.
    path("s/<str:token>/", views.share_page, name="share"),
    path("s/<str:token>/illustration.svg", views.share_svg, name="share_svg"),
    path("s/<str:token>/illustration.pdf", views.share_pdf, name="share_pdf"),
    path("s/<str:token>/event/", views.share_event, name="share_event"),
    path("s/<str:token>/look/", views.share_look, name="share_look"),
    # Showing an illustration on a live call's client page.
    path("call/<uuid:call_id>/show/<uuid:illustration_id>/", views.show_on_call, name="show_on_call"),
    path("call/<uuid:call_id>/hide/", views.hide_on_call, name="hide_on_call"),
]
