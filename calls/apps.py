from django.apps import AppConfig


class CallsConfig(AppConfig):
    """The live call. The label stays "emotions" so tables, migrations and content types keep their names."""

    name = "calls"
    label = "emotions"
    verbose_name = "Emotion analytics"

    def ready(self) -> None:
        from calls.receivers import record_dead_letter
        from lib.tasks import task_dead_lettered

        task_dead_lettered.connect(record_dead_letter, dispatch_uid="calls.record_dead_letter")
