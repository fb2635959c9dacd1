from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy and audit"

    def ready(self) -> None:
        from privacy import logredact

        logredact.install()  # every process that loads Django: web, workers, management commands
