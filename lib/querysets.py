"""QuerySet behaviour shared by the apps' models."""

from __future__ import annotations

from django.db import models


class VisibleToUserQuerySet(models.QuerySet):
    """Rows of the managers a user may see: their own (manager), their team's (supervisor), all (admin).

    ``manager_field`` is the lookup from the row to its manager.
    """

    manager_field = "manager"

    def for_user(self, user):
        manager_ids = user.visible_manager_ids()
        return self if manager_ids is None else self.filter(**{f"{self.manager_field}__in": manager_ids})
