"""Bring Taskdeck's index up to date inside a test, as the worker's follower would.

In production the follower runs in the workers (a fleet duty); tests that need the index
call `follow_now()` after changing TaskRouter, instead of waiting for a worker."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tasks_app.fleet.leases import Held
from tasks_app.index import follower
from tests.shared_connection import LOCK


def follow_now(*, full_read: bool = False) -> None:
    """One follow round of every workspace (``full_read``: with a full task-list read)."""
    held = Held(name="follow", holder="tests", token=0, expires=timezone.now() + timedelta(hours=1))
    with LOCK:  # a page the browser has open may be asking at the same time
        for workspace_sid in follower.workspace_keys():
            if full_read:
                from tasks_app.index.models import FollowCursor

                FollowCursor.objects.filter(pk=workspace_sid).update(reconciled_at=None)
            follower.follow_round(workspace_sid, held)
