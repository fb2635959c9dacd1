from django.apps import AppConfig


class IllustrationsConfig(AppConfig):
    name = "illustrations"
    verbose_name = "Illustrations"
