"""The leases that keep each fleet duty in one process at a time (see tasks_app.fleet)."""

from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """Who does one duty now, and until when unless they renew.

    ``token`` grows by one each time the lease changes hands (a fencing token): work
    stamped with an older token was done by a holder that has since lost the lease."""

    name = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=200)
    token = models.PositiveBigIntegerField(default=1)
    acquired = models.DateTimeField()
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.expires:%H:%M:%S}"
