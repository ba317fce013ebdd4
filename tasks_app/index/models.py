"""The index's tables: the cursor, every event, and every task as its events left it."""

from __future__ import annotations

from django.db import models


class FollowCursor(models.Model):
    """Where the follower of one workspace stands: the next read starts at ``start_ms``
    (minus an overlap; events already applied are recognised by their SID)."""

    workspace_sid = models.CharField(max_length=34, primary_key=True)
    start_ms = models.BigIntegerField(default=0)
    # The last complete read of the workspace's task list (None: never read yet).
    reconciled_at = models.DateTimeField(null=True, blank=True)
    # The last round that read the feed to its end, and the last problem (empty when well).
    caught_up_at = models.DateTimeField(null=True, blank=True)
    problem = models.TextField(blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.workspace_sid} from {self.start_ms}"


class TaskEvent(models.Model):
    """One of TaskRouter's Events, as it sent it (kept after TaskRouter prunes it)."""

    sid = models.CharField(max_length=34, unique=True)
    workspace_sid = models.CharField(max_length=34)
    task_sid = models.CharField(max_length=34, blank=True, db_index=True)
    event_type = models.CharField(max_length=64)
    date_ms = models.BigIntegerField()
    actor_type = models.CharField(max_length=32, blank=True)
    actor_sid = models.CharField(max_length=64, blank=True)
    resource_type = models.CharField(max_length=32, blank=True)
    resource_sid = models.CharField(max_length=64, blank=True)
    worker_sid = models.CharField(max_length=34, blank=True, db_index=True)
    reservation_sid = models.CharField(max_length=34, blank=True)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=32, blank=True)
    data = models.JSONField(default=dict)
    # When the follower applied it: indexed_at - date_ms is the index's lag.
    indexed_at = models.DateTimeField()

    class Meta:
        ordering = ["date_ms", "pk"]
        indexes = [
            models.Index(fields=["workspace_sid", "date_ms"], name="index_event_ws_date"),
            models.Index(fields=["task_sid", "date_ms"], name="index_event_task_date"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.sid}"


class IndexedTask(models.Model):
    """A task as the latest of its events left it (or as a task list showed it)."""

    sid = models.CharField(max_length=34, unique=True)
    workspace_sid = models.CharField(max_length=34, db_index=True)
    workspace_name = models.CharField(max_length=255, blank=True)
    attributes = models.JSONField(default=dict)
    # What search compares: every attribute value folded (case, accents) and, for values
    # with digits, the digits alone (see tasks_app.index.text).
    search_text = models.TextField(blank=True)
    status = models.CharField(max_length=16, db_index=True)
    priority = models.BigIntegerField(default=0)
    queue_sid = models.CharField(max_length=34, blank=True, db_index=True)
    queue_name = models.CharField(max_length=255, blank=True)
    workflow_sid = models.CharField(max_length=34, blank=True)
    workflow_name = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    # The version (ETag) the last change produced, when the event said.
    version = models.CharField(max_length=64, blank=True)
    # Who holds it: the worker of its reserved or accepted reservation.
    worker_sid = models.CharField(max_length=34, blank=True, db_index=True)
    worker_name = models.CharField(max_length=255, blank=True)
    reservation_sid = models.CharField(max_length=34, blank=True)
    held_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    queue_entered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When TaskRouter deleted it (an API delete or its purge of closed tasks); None while
    # TaskRouter still has it.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The event (or list read) this row reflects: an older one never overwrites it.
    as_of_ms = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace_sid", "status"], name="index_task_ws_status"),
        ]

    def __str__(self) -> str:
        return self.sid

    @property
    def open(self) -> bool:
        return self.status in ("pending", "reserved", "assigned", "wrapping")


class IndexedActivity(models.Model):
    """One of a workspace's Activities: whether a worker in it can take tasks."""

    sid = models.CharField(max_length=34, unique=True)
    workspace_sid = models.CharField(max_length=34, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    available = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    as_of_ms = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} {self.sid}"


class IndexedWorker(models.Model):
    """A worker (an agent) as its latest event or the last workers list left it: who they
    are and the activity they are in, so the table can say who holds a task and whether
    they can work on it now (the agent who went to lunch holding three chats)."""

    sid = models.CharField(max_length=34, unique=True)
    workspace_sid = models.CharField(max_length=34, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    activity_sid = models.CharField(max_length=34, blank=True)
    activity_name = models.CharField(max_length=255, blank=True)
    # None until Taskdeck knows the activity's availability.
    available = models.BooleanField(null=True, blank=True, db_index=True)
    # When the worker moved to its activity (an event's moment or date_status_changed).
    activity_since = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    as_of_ms = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} {self.sid}"
