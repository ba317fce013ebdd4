"""Taskdeck's own tables. TaskRouter holds the tasks; Taskdeck holds what it must not
forget between requests, in the database every instance shares (never in one process)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

EDITOR_LIFETIME = timedelta(hours=12)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TaskEditor(models.Model):
    """An open editor: the task as one person saw it when a form was shown, and the
    version (ETag) every write from that form must carry as If-Match.

    It belongs to one browser session (``owner``) and is named by a random ``token`` the
    form carries; a token from another session is worthless. After the owner's own
    successful write it moves to the new version, and so do the other editors of the same
    page whose fields that write did not touch: saving the priority does not make the next
    save of the channel look like someone else's change, but an attributes form showing
    attributes that were just changed elsewhere on the page will get the conflict view.
    """

    token = models.CharField(max_length=64, unique=True, default=new_token)
    owner = models.CharField(max_length=128, db_index=True)
    workspace_sid = models.CharField(max_length=34)
    task_sid = models.CharField(max_length=34, db_index=True)
    etag = models.CharField(max_length=64)
    # The editable fields as last read: what "you saw" in a conflict view.
    seen = models.JSONField()
    # The fields this editor's form shows and changes, and the page it sits on (the task
    # page has several small forms, one editor each).
    fields = models.JSONField(default=list)
    page = models.CharField(max_length=64, db_index=True, default=new_token)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["updated"])]

    def __str__(self) -> str:
        return f"editor of {self.task_sid} at version {self.etag}"

    @classmethod
    def prune(cls) -> int:
        """Forget editors nobody has used for a while (called when new ones open)."""
        deleted, _ = cls.objects.filter(updated__lt=timezone.now() - EDITOR_LIFETIME).delete()
        return deleted


class BulkJob(models.Model):
    """A bulk action: previewed once, then written task by task, each with the version
    seen at preview as If-Match. Results stay here for the owner to read and retry."""

    class Action(models.TextChoices):
        CANCEL = "cancel", "Cancel"
        COMPLETE = "complete", "Complete"
        PRIORITY = "priority", "Change priority"

    token = models.CharField(max_length=64, unique=True, default=new_token)
    owner = models.CharField(max_length=128, db_index=True)
    # The person every write of this job is made for (the audit trail names them), kept
    # here because the writes run in worker processes that carry no request.
    actor = models.CharField(max_length=254)
    workspace_sid = models.CharField(max_length=34)
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.CharField(max_length=255, blank=True)
    priority = models.BigIntegerField(null=True, blank=True)
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
    state = models.CharField(max_length=16, choices=State.choices, default=State.PREVIEW)
    message = models.TextField(blank=True)
    # When a RUNNING claim started: a claim older than TASKDECK_BULK_STALE_SECONDS was
    # abandoned by a worker that died; the next worker re-reads before deciding (bulk.py).
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "task_sid"], name="bulk_item_once_per_job")
        ]

    def __str__(self) -> str:
        return f"{self.task_sid}: {self.state}"
