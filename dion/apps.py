from django.apps import AppConfig


class DionConfig(AppConfig):
    name = "dion"
    verbose_name = "Dion integration"

    def ready(self) -> None:
        from calls.signals import call_started
        from dion.receivers import start_meeting

        call_started.connect(start_meeting, dispatch_uid="dion.start_meeting")
