"""Applying what TaskRouter says to the index, exactly once and in order.

``apply_events`` stores each event it has not stored before (its SID is unique) and moves
the task it concerns forward to the state the event describes; ``apply_task_list`` does the
same from a task list read. A row only moves forward: an event older than what a row
already reflects (``as_of_ms``) is kept for the timeline but changes nothing, so applying
the same events twice, in another order, or after a list read gives the same index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from tasks_app.metrics import INDEX_LAG_SECONDS
from tasks_app.taskrouter import rules
from tasks_app.taskrouter.resources import Activity, Event, Task, Worker

from .models import IndexedActivity, IndexedTask, IndexedWorker, TaskEvent
from .text import parse_attributes, searchable_text

CLOSED = (rules.CANCELED, rules.COMPLETED)
# Reservation events after which the worker no longer holds the task.
_LET_GO = {
    "reservation.rejected",
    "reservation.timeout",
    "reservation.canceled",
    "reservation.rescinded",
}
_HOLDS = {"reservation.created", "reservation.accepted", "reservation.wrapup"}
_HELD = (rules.RESERVED, rules.ASSIGNED, rules.WRAPPING)
_DELETED = {"task.deleted", "task.system-deleted"}
_QUEUE_ENTERED = {"task-queue.entered", "task-queue.moved"}


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def apply_events(workspace_sid: str, events: Sequence[Event]) -> int:
    """Store and apply the events not applied before; returns how many were new."""
    if not events:
        return 0
    with transaction.atomic():
        known = set(
            TaskEvent.objects.filter(sid__in=[e.sid for e in events]).values_list("sid", flat=True)
        )
        fresh = [e for e in events if e.sid not in known]
        fresh = list({e.sid: e for e in fresh}.values())  # a page overlap may repeat one
        if not fresh:
            return 0
        # Stable: events of one millisecond keep the order TaskRouter listed them in.
        fresh.sort(key=lambda e: e.date_ms)
        now = timezone.now()
        for event in fresh:
            INDEX_LAG_SECONDS.observe(max(0.0, now.timestamp() - event.date_ms / 1000))
        TaskEvent.objects.bulk_create(
            [_event_row(workspace_sid, event, now) for event in fresh], ignore_conflicts=True
        )
        _move_tasks(workspace_sid, [e for e in fresh if e.task_sid])
        _move_activities(workspace_sid, [e for e in fresh if e.event_type.startswith("activity.")])
        _move_workers(workspace_sid, [e for e in fresh if _worker_of(e)])
    return len(fresh)


def _event_row(workspace_sid: str, event: Event, now: datetime) -> TaskEvent:
    return TaskEvent(
        sid=event.sid,
        workspace_sid=event.workspace_sid or workspace_sid,
        task_sid=event.task_sid,
        event_type=event.event_type,
        date_ms=event.date_ms,
        actor_type=event.actor_type,
        actor_sid=event.actor_sid,
        resource_type=event.resource_type,
        resource_sid=event.resource_sid,
        worker_sid=str(event.data.get("worker_sid") or ""),
        reservation_sid=str(event.data.get("reservation_sid") or ""),
        description=event.description,
        source=event.source,
        data=event.data,
        indexed_at=now,
    )


def _move_tasks(workspace_sid: str, events: Iterable[Event]) -> None:
    by_task: dict[str, list[Event]] = {}
    for event in events:
        by_task.setdefault(event.task_sid, []).append(event)
    rows = {row.sid: row for row in IndexedTask.objects.filter(sid__in=list(by_task))}
    changed: list[IndexedTask] = []
    created: list[IndexedTask] = []
    for sid, task_events in by_task.items():
        row = rows.get(sid)
        is_new = row is None
        if row is None:
            row = IndexedTask(sid=sid, workspace_sid=workspace_sid, status=rules.PENDING)
        moved = False
        for event in task_events:
            moved = _apply(row, event) or moved
        if is_new:
            created.append(row)
        elif moved:
            changed.append(row)
    for row in [*created, *changed]:
        row.search_text = searchable_text(row.attributes, row.sid)
    _save(IndexedTask, created, changed)


def _save(model: type[IndexedTask] | type[IndexedWorker], created: list, changed: list) -> None:
    """Insert the new rows (one a concurrent holder inserted first is left to it) and
    update every field of the changed ones but their identity."""
    model.objects.bulk_create(created, ignore_conflicts=True)
    if changed:
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if f.name not in ("id", "sid", "workspace_sid")
        ]
        model.objects.bulk_update(changed, fields)


def _apply(row: IndexedTask, event: Event) -> bool:
    """Move ``row`` to what ``event`` says, unless the row already reflects later news."""
    at = _moment(event.date_ms)
    kind = event.event_type
    # Facts tied to one moment hold whatever came later (a deletion is final).
    if kind in _DELETED:
        row.deleted_at = row.deleted_at or at
    if kind == "task.created":
        row.created_at = at
    if event.date_ms < row.as_of_ms:
        # A list read newer than this event says the task is held, not by whom (a task
        # list has no worker): its reservation events still say who.
        newer_hold = row.held_since is None or at >= row.held_since
        if kind.startswith("reservation.") and row.status in _HELD and newer_hold:
            _hold(row, event, at)
            return True
        return kind in _DELETED or kind == "task.created"
    data = event.data
    row.as_of_ms = event.date_ms
    row.workspace_name = str(data.get("workspace_name") or row.workspace_name)
    if "task_attributes" in data:
        row.attributes = parse_attributes(str(data["task_attributes"]))
    if data.get("task_priority") not in (None, ""):
        row.priority = _int(data["task_priority"], row.priority)
    status = str(data.get("task_assignment_status") or "")
    if status in rules.STATUSES:
        row.status = status
    if "task_queue_sid" in data:
        row.queue_sid = str(data.get("task_queue_sid") or "")
        row.queue_name = str(data.get("task_queue_name") or "")
    if "workflow_sid" in data:
        row.workflow_sid = str(data.get("workflow_sid") or "")
        row.workflow_name = str(data.get("workflow_name") or "")
    if data.get("task_channel_unique_name"):
        row.channel = str(data["task_channel_unique_name"])
    if data.get("task_version") not in (None, ""):
        row.version = str(data["task_version"])
    reason = data.get("task_canceled_reason") or data.get("task_completed_reason")
    if reason:
        row.reason = str(reason)
    if row.created_at is None and data.get("task_age") not in (None, ""):
        row.created_at = _moment(event.date_ms - 1000 * _int(data["task_age"], 0))
    if kind in _QUEUE_ENTERED:
        row.queue_entered_at = at
    if kind in ("task.canceled", "task.completed") or (status in CLOSED and not row.closed_at):
        row.closed_at = row.closed_at or at
    if status == rules.PENDING:
        row.worker_sid = row.worker_name = row.reservation_sid = ""
        row.held_since = None
    else:
        _hold(row, event, at)
    return True


def _hold(row: IndexedTask, event: Event, at: datetime) -> None:
    """Who holds the task after a reservation event: the worker of a reservation offered
    or accepted; nobody once that reservation is rejected, times out or is taken back."""
    kind = event.event_type
    reservation = str(event.data.get("reservation_sid") or "")
    if kind == "reservation.created" or (kind in _HOLDS and reservation != row.reservation_sid):
        row.worker_sid = str(event.data.get("worker_sid") or "")
        row.worker_name = str(event.data.get("worker_name") or "")
        row.reservation_sid = reservation
        row.held_since = at
    elif kind in _LET_GO and reservation == row.reservation_sid:
        row.worker_sid = row.worker_name = row.reservation_sid = ""
        row.held_since = None


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def apply_task_list(
    workspace_sid: str, workspace_name: str, tasks: Iterable[Task], read_ms: int
) -> set[str]:
    """Index the tasks a full list read found (as of ``read_ms``, when the read began);
    rows already newer than that are left as they are. Returns the SIDs seen."""
    seen: set[str] = set()
    batch: list[Task] = []
    for task in tasks:
        seen.add(task.sid)
        batch.append(task)
        if len(batch) >= 500:
            _list_batch(workspace_sid, workspace_name, batch, read_ms)
            batch = []
    _list_batch(workspace_sid, workspace_name, batch, read_ms)
    return seen


def _list_batch(workspace_sid: str, workspace_name: str, tasks: list[Task], read_ms: int) -> None:
    if not tasks:
        return
    with transaction.atomic():
        rows = {r.sid: r for r in IndexedTask.objects.filter(sid__in=[t.sid for t in tasks])}
        created, changed = [], []
        for task in tasks:
            row = rows.get(task.sid)
            if row is not None and row.as_of_ms >= read_ms:
                continue
            if row is None:
                row = IndexedTask(sid=task.sid, workspace_sid=workspace_sid)
                created.append(row)
            else:
                changed.append(row)
            _from_task(row, task, workspace_name, read_ms)
        _save(IndexedTask, created, changed)


def _from_task(row: IndexedTask, task: Task, workspace_name: str, read_ms: int) -> None:
    row.workspace_name = workspace_name
    row.attributes = task.attributes or {}
    row.status = task.assignment_status
    row.priority = task.priority
    row.queue_sid = task.task_queue_sid or ""
    row.queue_name = task.task_queue_friendly_name or ""
    row.workflow_sid = task.workflow_sid or ""
    row.workflow_name = task.workflow_friendly_name or ""
    row.channel = task.task_channel_unique_name or ""
    row.reason = task.reason or row.reason
    row.created_at = task.date_created or row.created_at
    row.queue_entered_at = task.task_queue_entered_date or row.queue_entered_at
    if task.assignment_status in CLOSED and row.closed_at is None:
        row.closed_at = task.date_updated
    if task.assignment_status == rules.PENDING:
        row.worker_sid = row.worker_name = row.reservation_sid = ""
        row.held_since = None
    row.deleted_at = None
    row.as_of_ms = read_ms
    row.search_text = searchable_text(row.attributes, row.sid)


def mark_deleted(workspace_sid: str, present: set[str], read_ms: int) -> int:
    """Tasks the index holds that a complete list read (begun at ``read_ms``) did not find:
    TaskRouter deleted them, whether or not it said so in an event (its purge of closed
    tasks may record nothing). Returns how many were marked."""
    candidates = IndexedTask.objects.filter(
        workspace_sid=workspace_sid, deleted_at__isnull=True, as_of_ms__lt=read_ms
    ).values_list("sid", flat=True)
    gone = [sid for sid in candidates.iterator() if sid not in present]
    marked = 0
    for start in range(0, len(gone), 500):
        marked += IndexedTask.objects.filter(sid__in=gone[start : start + 500]).update(
            deleted_at=_moment(read_ms)
        )
    return marked


# --- The workforce: activities and workers ----------------------------------------------


def _worker_of(event: Event) -> str:
    """The worker an event tells about (worker.* and reservation.* events carry the
    worker's name and activity), or ""."""
    if not (event.event_type.startswith("worker.") or event.event_type.startswith("reservation.")):
        return ""
    sid = str(event.data.get("worker_sid") or "")
    return sid if sid.startswith("WK") else ""


def _move_activities(workspace_sid: str, events: Sequence[Event]) -> None:
    for event in events:
        sid = str(event.data.get("activity_sid") or event.resource_sid or "")
        if not sid.startswith("WA"):
            continue
        row, _ = IndexedActivity.objects.get_or_create(
            sid=sid, defaults={"workspace_sid": workspace_sid}
        )
        if event.date_ms < row.as_of_ms:
            continue
        row.as_of_ms = event.date_ms
        row.name = str(event.data.get("activity_name") or row.name)
        available = str(event.data.get("activity_available") or "").lower()
        if available in ("true", "false"):
            row.available = available == "true"
        row.deleted = event.event_type == "activity.deleted"
        row.save()


def _move_workers(workspace_sid: str, events: Sequence[Event]) -> None:
    """Each worker's row moved to what its latest event says: name, activity, and whether
    that activity lets it take tasks (known from the index's activities)."""
    by_worker: dict[str, list[Event]] = {}
    for event in events:
        by_worker.setdefault(_worker_of(event), []).append(event)
    rows = {r.sid: r for r in IndexedWorker.objects.filter(sid__in=list(by_worker))}
    activity_sids = {str(e.data.get("worker_activity_sid") or "") for e in events} | {
        r.activity_sid for r in rows.values()
    }
    availability = dict(
        IndexedActivity.objects.filter(sid__in=activity_sids).values_list("sid", "available")
    )
    created, changed = [], []
    for sid, worker_events in by_worker.items():
        row = rows.get(sid)
        if row is None:
            row = IndexedWorker(sid=sid, workspace_sid=workspace_sid)
            created.append(row)
        else:
            changed.append(row)
        for event in worker_events:
            _apply_worker(row, event, availability)
    _save(IndexedWorker, created, changed)


def _apply_worker(row: IndexedWorker, event: Event, availability: dict[str, bool]) -> None:
    at = _moment(event.date_ms)
    if event.event_type == "worker.deleted":
        row.deleted_at = row.deleted_at or at
    if event.date_ms < row.as_of_ms:
        return
    data = event.data
    row.as_of_ms = event.date_ms
    row.name = str(data.get("worker_name") or row.name)
    activity = str(data.get("worker_activity_sid") or "")
    if activity:
        moved = activity != row.activity_sid
        if moved or event.event_type == "worker.activity.update":
            row.activity_since = at
        row.activity_sid = activity
        row.activity_name = str(data.get("worker_activity_name") or "")
        # An activity the index does not know yet: unknown, until the next full read.
        row.available = availability.get(activity, None if moved else row.available)


def apply_workforce(
    workspace_sid: str,
    activities: Iterable[Activity],
    workers: Iterable[Worker],
    read_ms: int,
) -> None:
    """Index the activities and workers a full read found (as of ``read_ms``); rows newer
    than that stay; workers the list no longer holds are marked deleted."""
    with transaction.atomic():
        available = {}
        for activity in activities:
            available[activity.sid] = activity.available
            IndexedActivity.objects.update_or_create(
                sid=activity.sid,
                defaults={
                    "workspace_sid": workspace_sid,
                    "name": activity.friendly_name,
                    "available": activity.available,
                    "deleted": False,
                },
            )
        rows = {r.sid: r for r in IndexedWorker.objects.filter(workspace_sid=workspace_sid)}
        created, changed, seen = [], [], set()
        for worker in workers:
            seen.add(worker.sid)
            row = rows.get(worker.sid)
            if row is not None and row.as_of_ms >= read_ms:
                continue
            if row is None:
                row = IndexedWorker(sid=worker.sid, workspace_sid=workspace_sid)
                created.append(row)
            else:
                changed.append(row)
            row.name = worker.friendly_name
            row.activity_sid = worker.activity_sid or ""
            row.activity_name = worker.activity_name or ""
            row.available = (
                worker.available
                if worker.available is not None
                else available.get(row.activity_sid)
            )
            row.activity_since = worker.date_status_changed or row.activity_since
            row.deleted_at = None
            row.as_of_ms = read_ms
        gone = [r for sid, r in rows.items() if sid not in seen and r.as_of_ms < read_ms]
        for row in gone:
            row.deleted_at = row.deleted_at or _moment(read_ms)
        _save(IndexedWorker, created, [*changed, *gone])
