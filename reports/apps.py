from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from calls.signals import call_ended, consent_withdrawn
        from reports.receivers import build_report, delete_report

        call_ended.connect(build_report, dispatch_uid="reports.build_report")
        consent_withdrawn.connect(delete_report, dispatch_uid="reports.delete_report")
