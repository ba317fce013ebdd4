"""Saved views, each person's landing view, and the alerts' state and outbox.

A view is a name plus the task table's query in one workspace: personal (``owner`` is the
person's identity) or shared with everyone (``owner`` empty). It may carry an alert; the
alert's state (``AlertState``) and what must be sent about it (``AlertDelivery``, an
outbox: written in the same transaction as the state change, sent afterwards, each
attempt logged in ``DeliveryAttempt``) live here too, so any worker can carry on where a
dead one stopped.
"""

from __future__ import annotations

from django.db import models


class SavedView(models.Model):
    workspace_sid = models.CharField(max_length=34)
    # The workspace's name when the view was saved (exports and pages say it; the SID rules).
    workspace_name = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=100)
    # Empty: shared with everyone. Otherwise the identity of the one person who sees it.
    owner = models.CharField(max_length=150, blank=True, default="")
    # The table's query string, without "?" (status=pending&where=vip%20%3D%3D%20true).
    query = models.TextField(blank=True)
    # The alert: fires when the count is above N and/or the oldest wait above T seconds.
    alert_count_above = models.PositiveIntegerField(null=True, blank=True)
    alert_wait_above_seconds = models.PositiveIntegerField(null=True, blank=True)
    alert_webhook = models.URLField(max_length=500, blank=True)
    created_by = models.CharField(max_length=150)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace_sid", "owner", "name"], name="saved_view_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.workspace_name or self.workspace_sid})"

    @property
    def shared(self) -> bool:
        return not self.owner

    @property
    def has_alert(self) -> bool:
        return self.alert_count_above is not None or self.alert_wait_above_seconds is not None

    def as_dict(self) -> dict:
        """What the audit trail and the export keep of it."""
        data: dict = {
            "name": self.name,
            "workspace": self.workspace_name or self.workspace_sid,
            "shared": self.shared,
            "query": self.query,
        }
        if not self.shared:
            data["owner"] = self.owner
        if self.has_alert or self.alert_webhook:
            alert: dict = {}
            if self.alert_count_above is not None:
                alert["count_above"] = self.alert_count_above
            if self.alert_wait_above_seconds is not None:
                alert["oldest_wait_above_seconds"] = self.alert_wait_above_seconds
            if self.alert_webhook:
                alert["webhook"] = self.alert_webhook
            data["alert"] = alert
        return data


class LandingView(models.Model):
    """The view ``/`` opens for one person (without one: the workspace's default table)."""

    username = models.CharField(max_length=150, primary_key=True)
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.username}: {self.view_id}"


class AlertState(models.Model):
    """Where one view's alert stands, as the fleet's evaluator last left it."""

    class State(models.TextChoices):
        OK = "ok"
        FIRING = "firing"

    view = models.OneToOneField(
        SavedView, on_delete=models.CASCADE, primary_key=True, related_name="alert_state"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.OK)
    since = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    oldest_wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    evaluated = models.DateTimeField(null=True, blank=True)
    # The fencing token of the evaluator's lease that made the last transition.
    token = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.view_id}: {self.state}"


class AlertDelivery(models.Model):
    """One message to send (firing or resolved): the outbox row of a transition."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # every attempt failed, or the host is not allowed

    view = models.ForeignKey(
        SavedView, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    view_name = models.CharField(max_length=100)
    workspace_sid = models.CharField(max_length=34)
    state = models.CharField(max_length=8)
    webhook = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    token = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt = models.DateTimeField()
    created = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["status", "next_attempt"], name="alert_delivery_due")]

    def __str__(self) -> str:
        return f"{self.view_name} {self.state} ({self.status})"


class DeliveryAttempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why nothing was sent."""

    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    number = models.PositiveIntegerField()
    http_status = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    milliseconds = models.PositiveIntegerField(default=0)
    holder = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.http_status or self.error}"
