from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run`: users, clients, calls with synthetic timelines (no real faces)."""

    name = "demo"
    verbose_name = "Demo data"
