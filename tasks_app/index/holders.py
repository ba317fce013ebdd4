"""Who holds a task, from the index: the table's agent cells, the task page's reservations
and the table's agent filters. Every answer is one query, whatever the page's size: the
rows come from TaskRouter's task list, and their holders are joined to them by SID here,
never read from TaskRouter one task at a time.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import OuterRef, QuerySet, Subquery

from tasks_app.presentation import human_duration
from tasks_app.taskrouter import rules
from tasks_app.taskrouter.expressions import matches
from tasks_app.taskrouter.resources import Task, TaskPage

from .models import IndexedTask, IndexedWorker, TaskEvent
from .text import fold

# The statuses in which an agent holds a task (a reservation offered, accepted, wrapping).
HELD_STATUSES = (rules.RESERVED, rules.ASSIGNED, rules.WRAPPING)


@dataclass(frozen=True, slots=True)
class Holder:
    """The agent holding a task: their name, their activity, whether that activity lets
    them work (None: not known yet), and since when the task has been with them."""

    worker_sid: str
    name: str
    activity: str
    available: bool | None
    since: datetime | None

    def text(self, now: datetime) -> str:
        """ "Ana López · Lunch · 12 min" (the activity marked when it is not available)."""
        held = self.held_for(now)
        return f"{self.label} · {held}" if held else self.label

    @property
    def label(self) -> str:
        """ "Ana López · Lunch (away)": who, and what they are doing."""
        parts = [self.name or self.worker_sid]
        if self.activity:
            away = self.available is False
            parts.append(f"{self.activity} (away)" if away else self.activity)
        return " · ".join(parts)

    def held_for(self, now: datetime) -> str:
        """How long they have had the task ("12 min"); "" when unknown."""
        return "" if self.since is None else human_duration((now - self.since).total_seconds())

    def title(self, now: datetime) -> str:
        since = ""
        if self.since is not None:
            seconds = max(0, int((now - self.since).total_seconds()))
            since = f", with them for {seconds:,} seconds"
        state = {True: "available", False: "not available", None: "availability unknown"}
        return f"{self.worker_sid}, {state[self.available]}{since}"

    @property
    def fingerprint(self) -> int:
        """What changes the cell (time aside): live refresh redraws the row on a change."""
        key = f"{self.worker_sid}|{self.activity}|{self.available}|{self.since}"
        return zlib.crc32(key.encode())


def _with_worker(rows: QuerySet[IndexedTask]) -> QuerySet[IndexedTask]:
    """Rows annotated with their worker's activity and availability (subqueries: the
    whole page stays one SQL statement)."""
    worker = IndexedWorker.objects.filter(sid=OuterRef("worker_sid"))
    return rows.annotate(
        worker_activity=Subquery(worker.values("activity_name")[:1]),
        worker_available=Subquery(worker.values("available")[:1]),
        worker_current_name=Subquery(worker.values("name")[:1]),
    )


def holders_of(sids: Iterable[str]) -> dict[str, Holder]:
    """The holders of these tasks, by task SID (tasks nobody holds are left out)."""
    sids = [sid for sid in sids if sid]
    if not sids:
        return {}
    rows = _with_worker(
        IndexedTask.objects.filter(sid__in=sids, status__in=HELD_STATUSES).exclude(worker_sid="")
    ).values_list(
        "sid",
        "worker_sid",
        "worker_name",
        "worker_current_name",
        "worker_activity",
        "worker_available",
        "held_since",
    )
    return {
        sid: Holder(worker_sid, current or name, activity or "", available, since)
        for sid, worker_sid, name, current, activity, available, since in rows
    }


# --- The agent filters ---------------------------------------------------------------------


def held_tasks(
    workspace_sid: str, *, worker_sid: str | None = None, unavailable: bool = False
) -> QuerySet[IndexedTask]:
    """The tasks agents hold in a workspace: by one agent, and/or by agents whose activity
    does not let them work (the agent who went to lunch holding three chats)."""
    rows = IndexedTask.objects.filter(
        workspace_sid=workspace_sid, status__in=HELD_STATUSES, deleted_at__isnull=True
    ).exclude(worker_sid="")
    if worker_sid:
        rows = rows.filter(worker_sid=worker_sid)
    if unavailable:
        away = IndexedWorker.objects.filter(workspace_sid=workspace_sid, available=False)
        rows = rows.filter(worker_sid__in=away.values("sid"))
    return rows


def find_workers(workspace_sid: str, text: str) -> list[IndexedWorker]:
    """The workers ``text`` names: a worker SID, or a name (case and accents aside)."""
    text = text.strip()
    workers = IndexedWorker.objects.filter(workspace_sid=workspace_sid, deleted_at__isnull=True)
    if rules.is_sid(text, "WK"):
        return list(workers.filter(sid=text))
    folded = fold(text)
    return [w for w in workers.only("sid", "name") if fold(w.name) == folded]


def worker_names(workspace_sid: str, limit: int = 500) -> list[str]:
    """The names of a workspace's workers, for the agent field's suggestions."""
    rows = IndexedWorker.objects.filter(workspace_sid=workspace_sid, deleted_at__isnull=True)
    return sorted({n for n in rows.values_list("name", flat=True)[:limit] if n}, key=str.casefold)


def as_tasks(rows: Iterable[IndexedTask]) -> list[Task]:
    """Index rows as the table's tasks (what the last event or list read said of each)."""
    return [_task(row) for row in rows]


def _task(row: IndexedTask) -> Task:
    updated = datetime.fromtimestamp(row.as_of_ms / 1000, tz=UTC) if row.as_of_ms else None
    age = 0
    if row.created_at is not None:
        age = max(0, int((datetime.now(UTC) - row.created_at).total_seconds()))
    return Task(
        sid=row.sid,
        workspace_sid=row.workspace_sid,
        account_sid="",
        assignment_status=row.status,
        priority=row.priority,
        age=age,
        timeout=0,
        attributes_json=json.dumps(row.attributes, ensure_ascii=False),
        addons_json=None,
        reason=row.reason or None,
        date_created=row.created_at,
        date_updated=updated,
        task_queue_entered_date=row.queue_entered_at,
        virtual_start_time=None,
        task_queue_sid=row.queue_sid or None,
        task_queue_friendly_name=row.queue_name or None,
        task_channel_sid=None,
        task_channel_unique_name=row.channel or None,
        workflow_sid=row.workflow_sid or None,
        workflow_friendly_name=row.workflow_name or None,
        routing_target=None,
        ignore_capacity=None,
        url=None,
    )


# --- The task page's reservations ----------------------------------------------------------

_ANSWERS = {
    "reservation.accepted": "accepted",
    "reservation.rejected": "rejected",
    "reservation.timeout": "timed out",
    "reservation.canceled": "canceled",
    "reservation.rescinded": "rescinded",
    "reservation.wrapup": "wrapping up",
    "reservation.completed": "completed",
}


@dataclass(slots=True)
class Reservation:
    """One offer of the task to an agent, and what became of it."""

    sid: str
    worker_sid: str
    worker_name: str
    offered_at: datetime | None = None
    answer: str = ""  # the first answer: accepted, rejected, timed out, canceled, rescinded
    answered_at: datetime | None = None
    steps: tuple[str, ...] = ()  # every state after the offer, in order

    @property
    def outcome(self) -> str:
        return ", then ".join(self.steps) if self.steps else "offered, no answer yet"


def reservations_of(task_sid: str) -> list[Reservation]:
    """Every reservation of a task the index saw, oldest offer first (one query)."""
    events = TaskEvent.objects.filter(
        task_sid=task_sid, event_type__startswith="reservation."
    ).order_by("date_ms", "pk")
    found: dict[str, Reservation] = {}
    for event in events.only("event_type", "date_ms", "worker_sid", "reservation_sid", "data"):
        sid = event.reservation_sid or str(event.data.get("reservation_sid") or "")
        if not sid:
            continue
        entry = found.get(sid)
        if entry is None:
            entry = found[sid] = Reservation(sid=sid, worker_sid=event.worker_sid, worker_name="")
        entry.worker_name = str(event.data.get("worker_name") or entry.worker_name)
        at = datetime.fromtimestamp(event.date_ms / 1000, tz=UTC)
        if event.event_type == "reservation.created":
            entry.offered_at = entry.offered_at or at
        elif event.event_type in _ANSWERS:
            word = _ANSWERS[event.event_type]
            if not entry.answer:
                entry.answer, entry.answered_at = word, at
            if word not in entry.steps:
                entry.steps = (*entry.steps, word)
    return sorted(found.values(), key=lambda r: r.offered_at or datetime.max.replace(tzinfo=UTC))


def holder_fingerprints(tasks: Sequence[Task]) -> dict[str, int]:
    """Each held task's holder fingerprint (see `Holder.fingerprint`), by SID."""
    return {sid: holder.fingerprint for sid, holder in holders_of(t.sid for t in tasks).items()}


@dataclass(frozen=True, slots=True)
class WorkerRef:
    """An agent the table's ``agent`` filter named."""

    sid: str
    name: str


# The table's sort names -> the index's columns (a task's start time is not in the index:
# its creation stands in for it).
_ORDER_FIELDS = {"priority": "priority", "created": "created_at", "start": "created_at"}


def held_page(
    workspace_sid: str,
    *,
    worker_sid: str | None = None,
    unavailable: bool = False,
    statuses: Sequence[str] = (),
    queue_sid: str | None = None,
    workflow_sid: str | None = None,
    priority: int | None = None,
    expression: str = "",
    sort: Sequence[str] = (),
    limit: int = rules.DEFAULT_PAGE_SIZE,
) -> TaskPage:
    """One page of the table from the index: the tasks the agent filters keep, with the
    table's other filters applied here too (an attributes expression with TaskRouter's own
    rule, `expressions.matches`). Held tasks are few (an agent holds what their capacity
    allows), so the page is the first ``limit`` of them; it has no next page."""
    read_at = datetime.now(UTC)
    rows = held_tasks(workspace_sid, worker_sid=worker_sid, unavailable=unavailable)
    if statuses:
        rows = rows.filter(status__in=statuses)
    if queue_sid:
        rows = rows.filter(queue_sid=queue_sid)
    if workflow_sid:
        rows = rows.filter(workflow_sid=workflow_sid)
    if priority is not None:
        rows = rows.filter(priority=priority)
    order = [
        ("-" if alias.startswith("-") else "") + _ORDER_FIELDS[alias.lstrip("-")]
        for alias in sort
        if alias.lstrip("-") in _ORDER_FIELDS
    ]
    rows = rows.order_by(*order, "created_at", "sid")
    tasks: list[Task] = []
    for row in rows.iterator():
        if expression and not matches(expression, row.attributes):
            continue
        tasks.append(_task(row))
        if len(tasks) >= limit:
            break
    return TaskPage(tasks=tuple(tasks), page_size=limit, read_at=read_at)
