from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MANAGER = "manager", _("Personal manager")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Administrator")


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MANAGER)
    # A manager's team is their supervisor; a supervisor sees the calls of their team.
    supervisor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team",
        limit_choices_to={"role": Role.SUPERVISOR},
    )

    objects = UserManager()

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    def visible_manager_ids(self) -> models.QuerySet | None:
        """Ids of the managers whose work this user may see; None means everyone."""
        if self.is_admin_role:
            return None
        if self.is_supervisor:
            return User.objects.filter(supervisor=self).values("id")
        return User.objects.filter(pk=self.pk).values("id")
