from django.apps import AppConfig


class DionConfig(AppConfig):
    name = "dion"
    verbose_name = "Dion integration"
