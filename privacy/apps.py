from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy and audit"

    def ready(self) -> None:
        from privacy import checks, logredact  # noqa: F401 - checks registers the deploy check

        logredact.install()  # every process that loads Django: web, workers, management commands
        from privacy import housekeeping

        housekeeping.install()  # retention without beat (MIMIC_RETENTION_IN_PROCESS_HOURS)
