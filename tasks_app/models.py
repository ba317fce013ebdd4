"""Taskdeck's own tables. TaskRouter holds the tasks; Taskdeck holds what it must not
forget between requests, in the database every instance shares (never in one process).
The version a form was shown at is not here: it travels signed in the form itself
(see tasks_app.editing)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone


def new_token() -> str:
    return secrets.token_urlsafe(24)


class BulkJob(models.Model):
    """A bulk action: previewed once, then written task by task, each with the version
    seen at preview as If-Match. Results stay here for the owner to read and retry."""

    class Action(models.TextChoices):
        CANCEL = "cancel", "Cancel"
        COMPLETE = "complete", "Complete"
        PRIORITY = "priority", "Change priority"
        SEND = "send", "Send to a queue"
        # A virtual start time ahead of every other pending task of its queue.
        FRONT = "front", "Move to the front of the queue"
        # Writing back the priorities a priority job replaced (tasks_app/timeline/undo.py).
        UNDO = "undo", "Undo priority change"

    token = models.CharField(max_length=64, unique=True, default=new_token)
    owner = models.CharField(max_length=128, db_index=True)
    # The person every write of this job is made for (the audit trail names them), kept
    # here because the writes run in worker processes that carry no request.
    actor = models.CharField(max_length=254)
    workspace_sid = models.CharField(max_length=34)
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.CharField(max_length=255, blank=True)
    priority = models.BigIntegerField(null=True, blank=True)
    # For "send": the queue (WQ SID) each task's attributes are changed to reach.
    queue_sid = models.CharField(max_length=34, blank=True)
    # How the set was chosen, for the record: the filter's query string, or "selected".
    selection = models.TextField(blank=True)
    truncated = models.BooleanField(default=False)
    # What to read for the preview, which runs in a worker: the SIDs ticked, or the
    # filter as ListTask parameters (pairs) for "everything matching".
    chosen_sids = models.JSONField(default=list, blank=True)
    query_params = models.JSONField(null=True, blank=True)
    # The preview: when the worker finished reading, or why it could not.
    prepared = models.DateTimeField(null=True, blank=True)
    problem = models.TextField(blank=True)
    started = models.DateTimeField(null=True, blank=True)
    # Last sign of life of the worker writing this job; a stale one is taken over.
    heartbeat = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # For an undo: the priority job it undoes (one undo per job).
    undoes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="undone_by"
    )

    def __str__(self) -> str:
        return f"bulk {self.action} of {self.items.count()} tasks"


class BulkItem(models.Model):
    class State(models.TextChoices):
        PREVIEW = "preview", "Will be changed"
        SKIPPED = "skipped", "Skipped"
        QUEUED = "queued", "Waiting"
        RUNNING = "running", "Writing"
        DONE = "done", "Done"
        CONFLICT = "conflict", "Conflict"
        INVALID = "invalid", "Invalid state"
        FAILED = "failed", "Failed"
        # A priority change TaskRouter did not apply because the task's workflow sets it.
        KEPT = "kept", "Kept by workflow"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    task_sid = models.CharField(max_length=34)
    etag = models.CharField(max_length=64, blank=True)
    status_seen = models.CharField(max_length=16, blank=True)
    priority_seen = models.BigIntegerField(null=True, blank=True)
    queue_seen = models.CharField(max_length=255, blank=True)
    # The task's title at preview (TASKDECK_TITLE_ATTRIBUTES): results name tasks, not SIDs.
    title_seen = models.CharField(max_length=120, blank=True)
    # The attributes read at preview, hashed: a write of this job never changes them (a
    # "send" sets exactly attributes_after), so a taken-over job can tell its own landed
    # write from someone else's change.
    attributes_digest = models.CharField(max_length=64, blank=True)
    # For "send": where the workflow will route the task (shown in the preview), and the
    # attributes its write sets (the ones read at preview with the change made).
    destination = models.TextField(blank=True)
    attributes_after = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PREVIEW)
    message = models.TextField(blank=True)
    # When a RUNNING claim started: a claim older than TASKDECK_BULK_STALE_SECONDS was
    # abandoned by a worker that died; the next worker re-reads before deciding (bulk.py).
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The write of this item under way or last tried: its audit record's write_id, so a
    # worker taking over can complete that record with what the re-read task shows.
    write_id = models.CharField(max_length=32, blank=True)
    # For an undo: the priority this item writes back (what the undone job replaced).
    priority_target = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "task_sid"], name="bulk_item_once_per_job")
        ]

    def __str__(self) -> str:
        return f"{self.task_sid}: {self.state}"


class AppendOnly(Exception):
    """Someone tried to change or remove what the audit trail has recorded."""


class AuditQuerySet(models.QuerySet):
    """Audit records are never updated or deleted in bulk (and, on PostgreSQL, a trigger
    refuses it below Taskdeck too: migration 0004)."""

    def update(self, **kwargs):
        raise AppendOnly("Audit records cannot be changed.")

    def delete(self):
        raise AppendOnly("Audit records cannot be deleted.")

    def complete(self, **kwargs) -> int:
        """The one change allowed: an intent gets its outcome, once."""
        return models.QuerySet.update(self.filter(completed__isnull=True), **kwargs)

    complete.queryset_only = True


class AuditRecord(models.Model):
    """One attempt to write to TaskRouter, kept after the task itself is gone.

    Inserted before the request is sent (the intent, outcome "unknown"), completed once
    it ends; a crash in between leaves the intent. Nothing changes a completed record."""

    class Outcome(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        DONE = "done", "Done"
        CONFLICT = "conflict", "Conflict"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    write_id = models.CharField(max_length=32, unique=True)
    actor = models.CharField(max_length=254, db_index=True)
    started = models.DateTimeField(default=timezone.now, db_index=True)
    completed = models.DateTimeField(null=True, blank=True)
    workspace_sid = models.CharField(max_length=34, db_index=True)
    # Empty for a create until TaskRouter names the new task.
    task_sid = models.CharField(max_length=34, blank=True, db_index=True)
    action = models.CharField(max_length=16)  # create, update, delete
    # The fields as the person saw them (when the caller knew), and the data sent.
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(default=dict)
    reason = models.TextField(blank=True)
    if_match = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.UNKNOWN)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.PositiveIntegerField(null=True, blank=True)  # Twilio's code
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)  # Twilio-Request-Id
    # The task's version (ETag) a done write produced: the write's own TaskRouter events
    # carry it as task_version, so a task's timeline names the person behind them, and an
    # undo sends it as If-Match (anyone's change since is a conflict, never overwritten).
    version_after = models.CharField(max_length=64, blank=True, default="", db_default="")

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-started", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.task_sid or 'new task'}: {self.outcome}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnly("Audit records cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit records cannot be deleted.")


class SlaTarget(models.Model):
    """A service-level target: the longest a task of a queue should wait for an agent
    (from its creation to an accepted reservation, as TaskRouter's SplitByWaitTime counts
    it). ``channel`` empty: the queue's target for every channel; a task channel's unique
    name: that channel's, which wins over the queue's. Set by admins on the targets page,
    every change in the audit trail (tasks_app.triage.targets)."""

    workspace_sid = models.CharField(max_length=34)
    queue_sid = models.CharField(max_length=34)
    channel = models.CharField(max_length=64, blank=True)
    seconds = models.PositiveIntegerField()
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["workspace_sid", "queue_sid", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace_sid", "queue_sid", "channel"], name="sla_target_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.queue_sid}/{self.channel or '*'}: {self.seconds} s"
