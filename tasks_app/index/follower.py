"""The follower: one per workspace for the whole fleet (the fleet duty ``follow``).

Each round reads the workspace's Events from its cursor to now, page by page, applies them
(`apply.apply_events`: each once, whoever applies it) and only then moves the cursor, so a
follower killed mid-round, or a lease lost to another worker, leaves the cursor where the
next holder repeats the round without a gap. The read starts ``OVERLAP_MS`` before the
newest event already applied: an event TaskRouter records a moment late, or several
recorded in one millisecond, are read again rather than skipped, and recognised by SID.

Every ``TASKDECK_INDEX_RECONCILE_SECONDS`` (and first of all) a round also reads the
workspace's complete task list: tasks older than the Events' 30 days enter the index, and
tasks TaskRouter no longer lists are marked deleted even when no event said so. The same
read takes the workspace's activities and workers (who holds a task, and whether their
activity lets them work on it); between reads, worker.* and reservation.* events move them.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from tasks_app.fleet.leases import Held
from tasks_app.taskrouter import rules, service
from tasks_app.taskrouter.errors import TaskRouterError

from .apply import apply_events, apply_task_list, apply_workforce, mark_deleted
from .models import FollowCursor

log = logging.getLogger("tasks_app.index")

OVERLAP_MS = 5_000
# TaskRouter refuses a StartDate more than 30 days back; a minute's margin for clocks.
OLDEST = rules.EVENTS_RETENTION - timedelta(minutes=1)


def workspace_keys() -> list[str]:
    """Every workspace of the account has a follower."""
    return [workspace.sid for workspace in service.list_workspaces()]


def _now_ms() -> int:
    return int(time.time() * 1000)


def follow_round(workspace_sid: str | None, held: Held) -> None:
    """One round of following one workspace (see the module's docstring)."""
    if workspace_sid is None:
        return
    cursor, _ = FollowCursor.objects.get_or_create(workspace_sid=workspace_sid)
    try:
        with service.routine_reads():  # every 2 s per workspace: DEBUG, unless they fail
            if _reconcile_due(cursor):
                reconcile(cursor, held)
            follow(cursor, held)
    except TaskRouterError as error:
        problem = f"{type(error).__name__}: {error}"
        if problem != cursor.problem:
            log.warning("index: following %s: %s (retrying)", workspace_sid, problem)
        FollowCursor.objects.filter(pk=workspace_sid).update(problem=problem[:1000])


def _reconcile_due(cursor: FollowCursor) -> bool:
    if cursor.reconciled_at is None:
        return True
    every = timedelta(seconds=settings.TASKDECK_INDEX_RECONCILE_SECONDS)
    return timezone.now() - cursor.reconciled_at >= every


def reconcile(cursor: FollowCursor, held: Held) -> None:
    """Index the complete task list; mark what it no longer holds as deleted."""
    workspace_sid = cursor.workspace_sid
    read_ms = _now_ms()
    name = next((w.friendly_name for w in service.list_workspaces() if w.sid == workspace_sid), "")
    present = apply_task_list(
        workspace_sid, name, service.iter_tasks(workspace_sid=workspace_sid), read_ms
    )
    activities = service.list_activities(workspace_sid=workspace_sid)
    workers = service.list_workers(workspace_sid=workspace_sid)
    if not held.still_held():
        return
    apply_workforce(workspace_sid, activities, workers, read_ms)
    gone = mark_deleted(workspace_sid, present, read_ms)
    if gone:
        log.info("index: %s: %d tasks TaskRouter no longer has", workspace_sid, gone)
    if cursor.start_ms == 0:  # never followed: start 30 days back
        cursor.start_ms = int((datetime.now(UTC) - OLDEST).timestamp() * 1000)
    cursor.reconciled_at = timezone.now()
    cursor.save(update_fields=["start_ms", "reconciled_at", "updated"])


def follow(cursor: FollowCursor, held: Held) -> int:
    """Read and apply the events since the cursor; returns how many were new."""
    oldest_ms = int((datetime.now(UTC) - OLDEST).timestamp() * 1000)
    start_ms = max(cursor.start_ms - OVERLAP_MS, oldest_ms)
    query = service.EventQuery(start_date=datetime.fromtimestamp(start_ms / 1000, tz=UTC))
    newest, applied = cursor.start_ms, 0
    for page in service.iter_event_pages(workspace_sid=cursor.workspace_sid, query=query):
        if not held.still_held():
            return applied  # another worker follows now; the cursor stays for it
        applied += apply_events(cursor.workspace_sid, page.events)
        newest = max([newest, *(event.date_ms for event in page.events)])
    cursor.start_ms = newest
    cursor.caught_up_at = timezone.now()
    cursor.problem = ""
    cursor.save(update_fields=["start_ms", "caught_up_at", "problem", "updated"])
    return applied
