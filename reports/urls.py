from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard.csv", views.dashboard_csv, name="dashboard_csv"),
    path("trends/", views.trends, name="trends"),
    path("trends/client/<uuid:client_id>/", views.client_trend, name="client_trend"),
    path("call/<uuid:call_id>/", views.call_report, name="call_report"),
    path("call/<uuid:call_id>/report.pdf", views.call_report_pdf, name="call_report_pdf"),
    path("call/<uuid:call_id>/pdf-status/", views.call_report_pdf_status, name="call_report_pdf_status"),
    path("call/<uuid:call_id>/report.csv", views.call_report_csv, name="call_report_csv"),
    path("upload/", views.upload, name="upload"),
    path("upload/<uuid:recording_id>/", views.recording_detail, name="recording"),
    path("upload/<uuid:recording_id>/status/", views.recording_status, name="recording_status"),
    path("pilot/", views.pilot, name="pilot"),
    path("feedback/<str:token>/", views.client_feedback, name="client_feedback"),
]
