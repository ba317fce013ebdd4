"""TaskRouter's Events in the sandbox: what each change records, and the Events list.

Every write of the sandbox records its Events inside its own write transaction, with the
connection ``store.write()`` gave it, so an event is never recorded for a change that rolled
back and no change commits without its events::

    with store.write() as conn:
        ...  # change the task
        events.task_updated(conn, before, after, actor=events.api_client(account, ip), now=now)

One INSERT per event (one ``executemany`` for the events of a change). Task changes go
through :func:`task_created`, :func:`task_updated` and :func:`task_deleted`, which decide
the event types; anything else (a workforce's reservations, workers, activities) builds
:class:`Event` values and calls :func:`emit`.

Served by app.py as ``GET /v1/Workspaces/{WS}/Events`` and ``/Events/{EV}`` (ListEvent and
FetchEvent in Twilio's spec). docs/taskrouter.md has the facts with their sources and the
table of what each operation emits:

    create (API, simulator)  task.created, workflow.entered, workflow.target-matched,
                             task-queue.entered (no workflow events when TaskQueueSid or a
                             WQ RoutingTarget chose the queue; no queue events without one)
    update                   task.updated when anything but the status changed (attributes,
                             priority, channel, virtual start time, reason alone, or
                             nothing at all: the version still moved); then, for a pending
                             task re-routed to another queue, workflow.target-matched and
                             task-queue.moved; then the status event: task.canceled,
                             task.wrapup or task.completed
    reserve, accept, reject  task.updated (assignment status reserved, assigned, pending)
    TTL expiry               task.canceled, description "Task TTL Exceeded"
    delete (API)             task.deleted
    purge of a closed task   task.system-deleted

DECISIONS (Twilio documents none of these):
    * Order: ascending ``event_date_ms``, then the order events were recorded (``seq``, an
      AUTOINCREMENT rowid). Both only grow: an event's time is the write's clock, raised to
      the workspace's latest event time when the clock is behind it, so every event
      committed later sorts after every event already visible. A page token names the event
      at the page's edge (``PA``/``PB`` + its SID); the next page resumes strictly after its
      (time, seq), so paging neither skips nor repeats, at millisecond ties too, however many
      events are inserted between two page reads (they come at the end).
    * Actors: a REST write is ``account`` / the Account SID of its credentials (an API key
      is its account's) / that account's URL on api.twilio.com, with ``source`` ``api`` and
      ``source_ip_address`` the client's address. TaskRouter's own actions (TTL expiry,
      purge, the simulator's reservation steps, wrap-up and completion until the sandbox has
      workers) are ``workspace`` / WS... / the workspace's URL (the spec's only example),
      ``source`` ``twilio``, no IP. The simulator's new tasks and attribute touches stand for
      integrations and are REST actors.
    * ``resource_type`` is lowercase, as in the spec's example: ``task`` for every task,
      workflow and task-queue event (the task is what moved), its URL the task's.
    * ``event_data`` holds the task as the change left it (every event of one change
      carries the same task), string values, keys in alphabetical order as in the spec's
      example: ``task_sid``, ``task_attributes``, ``task_age`` (seconds), ``task_priority``,
      ``task_assignment_status``, ``task_version`` (the ETag the change produced),
      ``task_queue_sid``/``_name``, ``workflow_sid``/``_name``,
      ``task_channel_sid``/``_unique_name``, ``workspace_sid``/``_name``, plus
      ``task_canceled_reason`` or ``task_completed_reason`` on a closed task;
      ``workflow_filter_name`` on workflow.target-matched (when a named filter matched, not
      the default one); ``previous_task_queue_sid``/``_name`` on task-queue.moved.
    * Until the sandbox has workers, a reservation step is a ``task.updated`` with the new
      assignment status: no reservation events for reservations that do not exist.
    * The purge of a closed task 5 to 8 minutes after it closed records
      ``task.system-deleted`` (Twilio documents it for TTL deletion, and ``task.deleted``
      for API deletes only); TaskRouter may record nothing then, so consumers must not
      depend on it.
    * A priority-only update is ``task.updated``; a re-route to the same queue moves nothing.
    * Events outlive their task; they are kept 30 days, then pruned by housekeeping.
"""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.routing import Route

from . import store

__all__ = [
    "Actor",
    "Event",
    "EventPage",
    "Names",
    "api_client",
    "creation_events",
    "emit",
    "fetch_event",
    "page_events",
    "prunable",
    "prune",
    "query_plans",
    "record_history",
    "system",
    "task_created",
    "task_data",
    "task_deleted",
    "task_updated",
    "update_events",
]

US = 1_000_000
ACCOUNT_URL = "https://api.twilio.com/2010-04-01/Accounts/{}.json"
TTL_DESCRIPTION = "Task TTL Exceeded"
# Besides the status, what an update can change that makes it a task.updated.
_UPDATED_COLUMNS = ("attributes", "priority", "task_channel_sid", "virtual_start_time")
_STATUS_EVENTS = {
    rules.CANCELED: "task.canceled",
    rules.WRAPPING: "task.wrapup",
    rules.COMPLETED: "task.completed",
}
EVENT_COLUMNS: tuple[str, ...] = (
    "sid",
    "workspace_sid",
    "event_type",
    "event_date_ms",
    "description",
    "resource_type",
    "resource_sid",
    "resource_url",
    "actor_type",
    "actor_sid",
    "actor_url",
    "source",
    "source_ip_address",
    "event_data",
    "task_sid",
    "task_queue_sid",
    "workflow_sid",
    "task_channel_sid",
    "worker_sid",
    "reservation_sid",
)
_INSERT = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
)
_SELECT = "seq, " + ", ".join(EVENT_COLUMNS)


# --- What an event is ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """Who or what caused an event. ``url``: absolute, or a path under the API's ``/v1``
    (made absolute with the request's base URL when served)."""

    type: str
    sid: str
    url: str
    source: str
    source_ip_address: str | None = None


def system(workspace_sid: str) -> Actor:
    """TaskRouter itself, acting in a workspace."""
    return Actor("workspace", workspace_sid, f"/Workspaces/{workspace_sid}", "twilio")


def api_client(account_sid: str, ip_address: str | None) -> Actor:
    """A REST API client, known by its account."""
    return Actor("account", account_sid, ACCOUNT_URL.format(account_sid), "api", ip_address)


@dataclass(frozen=True, slots=True)
class Event:
    """One event to record; the filter fields say what ListEvent finds it by."""

    event_type: str
    description: str
    resource_type: str
    resource_sid: str
    resource_url: str  # a path under /v1, like Actor.url
    data: Mapping[str, str]
    task_sid: str | None = None
    task_queue_sid: str | None = None
    workflow_sid: str | None = None
    task_channel_sid: str | None = None
    worker_sid: str | None = None
    reservation_sid: str | None = None


def emit(
    conn: sqlite3.Connection,
    workspace_sid: str,
    actor: Actor,
    events: Sequence[Event],
    *,
    now: int,
) -> list[str]:
    """Record ``events`` (in this order) at ``now`` (microseconds) in the open write
    transaction ``conn``; returns their SIDs."""
    if not events:
        return []
    latest = conn.execute(
        "SELECT MAX(event_date_ms) FROM events WHERE workspace_sid = ?", (workspace_sid,)
    ).fetchone()[0]
    moment = max(now // 1000, latest or 0)
    rows = [_row(workspace_sid, actor, event, moment) for event in events]
    conn.executemany(_INSERT, rows)
    return [row[0] for row in rows]


def record_history(
    conn: sqlite3.Connection, entries: Iterable[tuple[str, str, Actor, Event, int]]
) -> None:
    """Record past events, (SID, workspace SID, actor, event, moment in microseconds) each,
    in this order, which must be the order of their moments (seeding: nothing is later)."""
    conn.executemany(
        _INSERT,
        (_row(ws, actor, event, moment // 1000, sid) for sid, ws, actor, event, moment in entries),
    )


def _row(
    workspace_sid: str, actor: Actor, event: Event, moment_ms: int, sid: str | None = None
) -> tuple:
    return (
        sid or "EV" + secrets.token_hex(16),
        workspace_sid,
        event.event_type,
        moment_ms,
        event.description,
        event.resource_type,
        event.resource_sid,
        event.resource_url,
        actor.type,
        actor.sid,
        actor.url,
        actor.source,
        actor.source_ip_address,
        _encode(event.data),
        event.task_sid,
        event.task_queue_sid,
        event.workflow_sid,
        event.task_channel_sid,
        event.worker_sid,
        event.reservation_sid,
    )


def _encode(data: Mapping[str, str]) -> str:
    """``data`` as compact JSON. The events of one task repeat its values (its attributes
    above all), so each distinct string is encoded once."""
    return "{" + ",".join(f"{_string(key)}:{_string(value)}" for key, value in data.items()) + "}"


@functools.lru_cache(maxsize=1024)
def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- Task events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """The names task events show, read once per write (or once per seeding)."""

    workspace_sid: str
    workspace: str
    queues: dict[str, str] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # sid -> unique_name

    @classmethod
    def read(cls, conn: sqlite3.Connection, workspace_sid: str) -> Names:
        names: dict[str, dict[str, str]] = {"s": {}, "q": {}, "w": {}, "c": {}}
        for kind, sid, name in conn.execute(
            "SELECT 's', sid, friendly_name FROM workspaces WHERE sid = ?1 "
            "UNION ALL SELECT 'q', sid, friendly_name FROM task_queues WHERE workspace_sid = ?1 "
            "UNION ALL SELECT 'w', sid, friendly_name FROM workflows WHERE workspace_sid = ?1 "
            "UNION ALL SELECT 'c', sid, unique_name FROM task_channels WHERE workspace_sid = ?1",
            (workspace_sid,),
        ):
            names[kind][sid] = name
        return cls(
            workspace_sid=workspace_sid,
            workspace=names["s"].get(workspace_sid, ""),
            queues=names["q"],
            workflows=names["w"],
            channels=names["c"],
        )


def task_created(
    conn: sqlite3.Connection,
    task: Mapping[str, Any],
    *,
    actor: Actor,
    now: int,
    route: Route | None,
    names: Names | None = None,
) -> list[str]:
    """A new task; ``route`` is its workflow's routing, None when the queue was given."""
    names = names or Names.read(conn, task["workspace_sid"])
    return emit(
        conn, task["workspace_sid"], actor, creation_events(task, route, names, now), now=now
    )


def task_updated(
    conn: sqlite3.Connection,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    actor: Actor,
    now: int,
    route: Route | None = None,
    names: Names | None = None,
) -> list[str]:
    """A task changed from ``before`` to ``after`` (``route``: its re-routing, if any)."""
    names = names or Names.read(conn, after["workspace_sid"])
    events = update_events(before, after, route, names, now)
    return emit(conn, after["workspace_sid"], actor, events, now=now)


def task_deleted(
    conn: sqlite3.Connection,
    task: Mapping[str, Any],
    *,
    actor: Actor,
    now: int,
    by_system: bool = False,
    names: Names | None = None,
) -> list[str]:
    """A task deleted through the API, or purged by TaskRouter (``by_system``)."""
    names = names or Names.read(conn, task["workspace_sid"])
    if by_system:
        event = _task_event(
            "task.system-deleted", f"Task {task['sid']} deleted by TaskRouter", task, names, now
        )
    else:
        event = _task_event("task.deleted", f"Task {task['sid']} deleted", task, names, now)
    return emit(conn, task["workspace_sid"], actor, [event], now=now)


def creation_events(
    task: Mapping[str, Any], route: Route | None, names: Names, now: int
) -> list[Event]:
    sid, queue = task["sid"], task["task_queue_sid"]
    events = [_task_event("task.created", f"Task {sid} created", task, names, now)]
    if route is not None:
        workflow = names.workflows.get(task["workflow_sid"], "")
        entered = f"Task {sid} entered Workflow {workflow}"
        events.append(_task_event("workflow.entered", entered, task, names, now))
        if queue:
            events.append(_target_matched(task, route, names, now))
    if queue:
        entered = f"Task {sid} entered TaskQueue {names.queues.get(queue, queue)}"
        events.append(_task_event("task-queue.entered", entered, task, names, now))
    return events


def update_events(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    route: Route | None,
    names: Names,
    now: int,
) -> list[Event]:
    sid, status = after["sid"], after["assignment_status"]
    status_event = _STATUS_EVENTS.get(status) if status != before["assignment_status"] else None
    moved = before["task_queue_sid"] != after["task_queue_sid"] and after["task_queue_sid"]
    changed = any(before[c] != after[c] for c in _UPDATED_COLUMNS)
    if before["reason"] != after["reason"] and status == before["assignment_status"]:
        changed = True  # a reason given without a status change
    if status != before["assignment_status"] and status_event is None:
        changed = True  # pending <-> reserved -> assigned: no event of its own yet
    events = []
    if changed or not (moved or status_event):
        events.append(_task_event("task.updated", f"Task {sid} updated", after, names, now))
    if moved:
        events.append(_target_matched(after, route, names, now))
        old, new = before["task_queue_sid"], after["task_queue_sid"]
        old_name, new_name = names.queues.get(old, old or ""), names.queues.get(new, new)
        description = f"Task {sid} moved from TaskQueue {old_name} to TaskQueue {new_name}"
        extra = {"previous_task_queue_name": old_name, "previous_task_queue_sid": old}
        events.append(_task_event("task-queue.moved", description, after, names, now, extra))
    if status_event is not None:
        description = {
            "task.canceled": f"Task {sid} canceled",
            "task.wrapup": f"Task {sid} wrapping up",
            "task.completed": f"Task {sid} completed",
        }[status_event]
        if status_event == "task.canceled" and after["reason"] == TTL_DESCRIPTION:
            description = TTL_DESCRIPTION  # [OAI] CreateTask Timeout: "with description ..."
        events.append(_task_event(status_event, description, after, names, now))
    return events


def _target_matched(task: Mapping[str, Any], route: Route | None, names: Names, now: int) -> Event:
    workflow = names.workflows.get(task["workflow_sid"], "")
    extra = {}
    description = f"Task {task['sid']} matched a target of Workflow {workflow}"
    if route is not None and route.filter_friendly_name:
        extra["workflow_filter_name"] = route.filter_friendly_name
        description += f": {route.filter_friendly_name}"
    return _task_event("workflow.target-matched", description, task, names, now, extra)


def _task_event(
    event_type: str,
    description: str,
    task: Mapping[str, Any],
    names: Names,
    now: int,
    extra: Mapping[str, str | None] | None = None,
) -> Event:
    ws, sid = task["workspace_sid"], task["sid"]
    return Event(
        event_type=event_type,
        description=description,
        resource_type="task",
        resource_sid=sid,
        resource_url=f"/Workspaces/{ws}/Tasks/{sid}",
        data=task_data(task, names, now, extra),
        task_sid=sid,
        task_queue_sid=task["task_queue_sid"],
        workflow_sid=task["workflow_sid"],
        task_channel_sid=task["task_channel_sid"],
    )


def task_data(
    task: Mapping[str, Any],
    names: Names,
    now: int,
    extra: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """``event_data`` of a task event: strings, keys sorted (as the spec's example)."""
    queue, workflow, channel = (
        task["task_queue_sid"],
        task["workflow_sid"],
        task["task_channel_sid"],
    )
    status, reason = task["assignment_status"], task["reason"]
    data: dict[str, str | None] = {
        "task_age": str(max(0, (now - task["date_created"]) // US)),
        "task_assignment_status": status,
        "task_attributes": task["attributes"],
        "task_channel_sid": channel,
        "task_channel_unique_name": names.channels.get(channel) if channel else None,
        "task_priority": str(task["priority"]),
        "task_queue_name": names.queues.get(queue) if queue else None,
        "task_queue_sid": queue,
        "task_sid": task["sid"],
        "task_version": str(task["version"]),
        "workflow_name": names.workflows.get(workflow) if workflow else None,
        "workflow_sid": workflow,
        "workspace_name": names.workspace,
        "workspace_sid": names.workspace_sid,
    }
    if reason is not None and status == rules.CANCELED:
        data["task_canceled_reason"] = reason
    if reason is not None and status == rules.COMPLETED:
        data["task_completed_reason"] = reason
    if extra:
        data.update(extra)
    return {key: value for key, value in sorted(data.items()) if value is not None}


# --- The Events list -----------------------------------------------------------------------

FILTERS: tuple[tuple[str, str], ...] = (
    # (column, EventQuery field), most selective first: the first one given picks the index
    ("task_sid", "task_sid"),
    ("reservation_sid", "reservation_sid"),
    ("worker_sid", "worker_sid"),
    ("event_type", "event_type"),
    ("task_queue_sid", "task_queue_sid"),
    ("task_channel_sid", "task_channel"),
    ("workflow_sid", "workflow_sid"),
)


@dataclass(frozen=True, slots=True)
class EventPage:
    rows: list[sqlite3.Row]
    has_next: bool
    has_previous: bool


def fetch_event(conn: sqlite3.Connection, workspace_sid: str, sid: str) -> sqlite3.Row | None:
    return conn.execute(
        f"SELECT {_SELECT} FROM events WHERE sid = ? AND workspace_sid = ?",  # noqa: S608
        (sid, workspace_sid),
    ).fetchone()


def page_events(
    conn: sqlite3.Connection,
    workspace_sid: str,
    query: Any,
    *,
    start_ms: int,
    end_ms: int,
    page_size: int,
    token: str | None = None,
) -> EventPage:
    """One page of events in [start_ms, end_ms] matching ``query`` (an ``EventQuery``),
    after (``PA<sid>``) or before (``PB<sid>``) the event a page token names.

    Raises InvalidParameter for a token that names no event of this workspace.
    """
    filters: list[tuple[str, Any]] = []
    for column, name in FILTERS:
        value = getattr(query, name)
        if value is None:
            continue
        if column == "task_channel_sid" and not rules.is_sid(value, "TC"):
            channel = store.fetch_task_channel(conn, workspace_sid, value)
            if channel is None:
                return EventPage([], False, False)  # a channel this workspace never had
            value = channel["sid"]
        filters.append((column, value))
    if query.sid:
        filters.append(("sid", query.sid))
    if token is None:
        rows = _scan(conn, workspace_sid, filters, start_ms, end_ms, None, page_size + 1)
        return EventPage(rows[:page_size], len(rows) > page_size, False)
    anchor = conn.execute(
        "SELECT event_date_ms, seq FROM events WHERE sid = ? AND workspace_sid = ?",
        (token[2:], workspace_sid),
    ).fetchone()
    if anchor is None:
        raise InvalidParameter("PageToken is not valid for this list.", param="PageToken")
    forward = token.startswith("PA")
    rows = _scan(conn, workspace_sid, filters, start_ms, end_ms, (*anchor, forward), page_size + 1)
    if forward:
        return EventPage(rows[:page_size], len(rows) > page_size, True)
    return EventPage(rows[:page_size][::-1], True, len(rows) > page_size)


def _scan(
    conn: sqlite3.Connection,
    workspace_sid: str,
    filters: list[tuple[str, Any]],
    start_ms: int,
    end_ms: int,
    anchor: tuple[int, int, bool] | None,
    limit: int,
) -> list[sqlite3.Row]:
    rows: list[sqlite3.Row] = []
    for sql, params in _statements(workspace_sid, filters, start_ms, end_ms, anchor):
        rows += conn.execute(sql, [*params, limit - len(rows)]).fetchall()
        if len(rows) >= limit:
            break
    return rows


def _statements(
    workspace_sid: str,
    filters: list[tuple[str, Any]],
    start_ms: int,
    end_ms: int,
    anchor: tuple[int, int, bool] | None,
) -> list[tuple[str, list[Any]]]:
    """The range scans of one page, each with its parameters but the LIMIT: events in order
    (reversed when the anchor looks backwards) strictly beyond the anchor, first on the
    anchor's own millisecond, then in the rest of the window. Each is one range scan of the
    filter's index, so a page costs O(page size) even on a crowded millisecond."""
    columns = [column for column, _ in filters]
    # The unique index on sid finds the one event; otherwise the first filter's index.
    index = f" INDEXED BY events_by_{columns[0] if columns else 'date'}"
    index = "" if "sid" in columns else index
    where = "".join(f" AND {column} = ?" for column in columns)
    base = f"SELECT {_SELECT} FROM events{index} WHERE workspace_sid = ?{where}"  # noqa: S608
    params = [workspace_sid, *(value for _, value in filters)]
    if anchor is None:
        sql = f"{base} AND event_date_ms BETWEEN ? AND ? ORDER BY event_date_ms, seq LIMIT ?"
        return [(sql, [*params, start_ms, end_ms])]
    moment, seq, forward = anchor
    beyond, order = (">", "ASC") if forward else ("<", "DESC")
    statements = []
    if start_ms <= moment <= end_ms:
        tie = f"{base} AND event_date_ms = ? AND seq {beyond} ? ORDER BY seq {order} LIMIT ?"
        statements.append((tie, [*params, moment, seq]))
    rest = (
        f"{base} AND event_date_ms {beyond} ? AND event_date_ms BETWEEN ? AND ? "
        f"ORDER BY event_date_ms {order}, seq {order} LIMIT ?"
    )
    statements.append((rest, [*params, moment, start_ms, end_ms]))
    return statements


def query_plans(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """SQLite's plan of every scan a page can make, by filter (tests check none sorts)."""
    plans: dict[str, list[str]] = {}
    for column in ("date", *(c for c, _ in FILTERS), "sid"):
        filters = [] if column == "date" else [(column, "x")]
        plans[column] = []
        for anchor in (None, (1, 1, True), (1, 1, False)):
            for sql, params in _statements("WS" + "0" * 32, filters, 0, 2, anchor):
                detail = conn.execute(f"EXPLAIN QUERY PLAN {sql}", [*params, 1]).fetchall()
                plans[column].append(" | ".join(str(r[-1]) for r in detail))
    return plans


# --- Housekeeping --------------------------------------------------------------------------


def prunable(conn: sqlite3.Connection, older_than_ms: int) -> bool:
    """Whether any event is older than ``older_than_ms`` (TaskRouter keeps 30 days)."""
    return any(
        conn.execute(
            "SELECT 1 FROM events INDEXED BY events_by_date "
            "WHERE workspace_sid = ? AND event_date_ms < ? LIMIT 1",
            (workspace_sid, older_than_ms),
        ).fetchone()
        for workspace_sid in _event_workspaces(conn)
    )


def prune(conn: sqlite3.Connection, older_than_ms: int) -> int:
    """Delete events older than ``older_than_ms``, per workspace (each one range scan)."""
    return sum(
        conn.execute(
            "DELETE FROM events WHERE workspace_sid = ? AND event_date_ms < ?",
            (workspace_sid, older_than_ms),
        ).rowcount
        for workspace_sid in _event_workspaces(conn)
    )


def _event_workspaces(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT sid FROM workspaces").fetchall()]


# --- Workforce events ----------------------------------------------------------------------
# What the assignment engine and the workforce record (ledger.Context.record hands each
# happening here): reservations, workers, activities, and the task events TaskRouter's own
# moves make (a target timing out, a task leaving its workflow, TTL expiry, a reservation's
# wrap-up or completion). Field groups follow Twilio's Events reference ([EvRef]): Task,
# Worker, WChan (a worker's channel), TaskQueue, Reservation, Workflow, Activity.


def worker_actor(workspace_sid: str, worker_sid: str) -> Actor:
    """A worker acting through its client (an agent accepting, wrapping up, going on a
    break): DECISION, Twilio names no actor for these; the worker, source ``api``."""
    return Actor("worker", worker_sid, f"/Workspaces/{workspace_sid}/Workers/{worker_sid}", "api")


def worker_data(worker: Mapping[str, Any], names: Names) -> dict[str, str]:
    """The Worker field group: ``worker_sid``, ``worker_name``, ``worker_attributes``,
    ``worker_activity_sid``/``_name``, ``worker_version``."""
    return {
        "worker_activity_name": str(worker.get("activity_name") or ""),
        "worker_activity_sid": str(worker.get("activity_sid") or ""),
        "worker_attributes": str(worker.get("attributes") or "{}"),
        "worker_name": str(worker.get("friendly_name") or ""),
        "worker_sid": str(worker["sid"]),
        "worker_version": str(worker.get("version", 0)),
        "workspace_name": names.workspace,
        "workspace_sid": names.workspace_sid,
    }


_DESCRIPTIONS = {
    "reservation.created": "Reservation {reservation} created for Worker {worker}",
    "reservation.accepted": "Reservation {reservation} accepted by Worker {worker}",
    "reservation.rejected": "Reservation {reservation} rejected by Worker {worker}",
    "reservation.timeout": "Reservation {reservation} timed out for Worker {worker}",
    "reservation.canceled": "Reservation {reservation} canceled",
    "reservation.rescinded": "Reservation {reservation} rescinded",
    "reservation.wrapup": "Reservation {reservation} wrapping up",
    "reservation.completed": "Reservation {reservation} completed",
    "worker.created": "Worker {worker} created",
    "worker.deleted": "Worker {worker} deleted",
    "worker.activity.update": "Worker {worker} updated to {activity} Activity",
    "worker.attributes.update": "Worker {worker} attributes updated",
    "worker.capacity.update": "Worker {worker} capacity on {channel} updated to {capacity}",
    "worker.channel.availability.update": "Worker {worker} {channel} channel availability updated",
    "activity.created": "Activity {activity} created",
    "activity.updated": "Activity {activity} updated",
    "activity.deleted": "Activity {activity} deleted",
    "workflow.timeout": "Task {task} timed out of Workflow {workflow}",
    "workflow.skipped": "Task {task} skipped out of Workflow {workflow}",
    "task-queue.entered": "Task {task} entered TaskQueue {queue}",
    "task.canceled": "Task {task} canceled",
    "task.wrapup": "Task {task} wrapping up",
    "task.completed": "Task {task} completed",
}


def reservation_event(
    kind: str,
    task: Mapping[str, Any],
    reservation: Mapping[str, Any],
    worker: Mapping[str, Any] | None,
    names: Names,
    now: int,
) -> Event:
    """A reservation.* event: the Task and Worker groups, the reservation's queue,
    ``reservation_sid`` and the workflow."""
    ws, sid = task["workspace_sid"], reservation["sid"]
    status = {
        "reservation.created": rules.RESERVED,
        "reservation.accepted": rules.ASSIGNED,
        "reservation.wrapup": rules.WRAPPING,
        "reservation.completed": rules.COMPLETED,
    }.get(kind, task["assignment_status"])
    data = task_data({**dict(task), "assignment_status": status}, names, now)
    data.update(worker_data(worker or {"sid": reservation["worker_sid"]}, names))
    if worker is None:
        data["worker_name"] = str(reservation.get("worker_name") or "")
    data["reservation_sid"] = sid
    queue = reservation.get("task_queue_sid") or task["task_queue_sid"]
    if queue:
        data["task_queue_sid"] = queue
        data["task_queue_name"] = names.queues.get(queue, "")
    worker_name = data["worker_name"]
    return Event(
        event_type=kind,
        description=_DESCRIPTIONS[kind].format(reservation=sid, worker=worker_name),
        resource_type="reservation",
        resource_sid=sid,
        resource_url=f"/Workspaces/{ws}/Tasks/{task['sid']}/Reservations/{sid}",
        data=dict(sorted(data.items())),
        task_sid=task["sid"],
        task_queue_sid=queue,
        workflow_sid=task["workflow_sid"],
        task_channel_sid=task["task_channel_sid"],
        worker_sid=reservation["worker_sid"],
        reservation_sid=sid,
    )


def worker_event(
    kind: str, worker: Mapping[str, Any], names: Names, extra: Mapping[str, Any]
) -> Event:
    """A worker.* event: the Worker group; an activity change adds the previous activity
    and the time in it; a channel change (the WChan group) the channel's figures."""
    ws, sid = names.workspace_sid, worker["sid"]
    data = worker_data(worker, names)
    format_values = {"worker": data["worker_name"], "activity": data["worker_activity_name"]}
    channel_sid = None
    if kind == "worker.activity.update":
        elapsed_ms = int(extra.get("time_in_previous_activity_ms") or 0)
        data["worker_previous_activity_sid"] = str(extra.get("previous_activity_sid") or "")
        data["worker_time_in_previous_activity"] = str(elapsed_ms // 1000)
        data["worker_time_in_previous_activity_ms"] = str(elapsed_ms)
    channel = extra.get("channel")
    if channel is not None:
        channel_sid = channel["task_channel_sid"]
        data["task_channel_sid"] = channel_sid
        data["task_channel_unique_name"] = channel["task_channel_unique_name"]
        data["worker_channel_available"] = str(bool(channel["available"])).lower()
        data["worker_channel_available_capacity"] = str(
            rules.available_capacity_percentage(channel["configured_capacity"], channel["held"])
        )
        data["worker_channel_previous_capacity"] = str(extra.get("previous_capacity", ""))
        data["worker_channel_task_count"] = str(channel["assigned"])
        format_values.update(
            channel=channel["task_channel_unique_name"], capacity=channel["configured_capacity"]
        )
    return Event(
        event_type=kind,
        description=_DESCRIPTIONS[kind].format(**format_values),
        resource_type="worker",
        resource_sid=sid,
        resource_url=f"/Workspaces/{ws}/Workers/{sid}",
        data=dict(sorted(data.items())),
        task_channel_sid=channel_sid,
        worker_sid=sid,
    )


def activity_event(kind: str, activity: Mapping[str, Any], names: Names) -> Event:
    ws, sid = names.workspace_sid, activity["sid"]
    data = {
        "activity_available": str(bool(activity["available"])).lower(),
        "activity_name": activity["friendly_name"],
        "activity_sid": sid,
        "workspace_name": names.workspace,
        "workspace_sid": ws,
    }
    return Event(
        event_type=kind,
        description=_DESCRIPTIONS[kind].format(activity=activity["friendly_name"]),
        resource_type="activity",
        resource_sid=sid,
        resource_url=f"/Workspaces/{ws}/Activities/{sid}",
        data=data,
    )


def moved_task_events(
    kind: str,
    task: Mapping[str, Any],
    names: Names,
    now: int,
    extra: Mapping[str, Any],
    route: Route | None = None,
) -> list[Event]:
    """A task event of TaskRouter's own making: a target timing out or skipped
    (workflow.target-matched, task-queue.moved, task-queue.entered), the task leaving its
    workflow (workflow.timeout/skipped), and the status events of a task TaskRouter or a
    reservation moved (task.canceled, with TTL expiry's description; task.wrapup,
    task.completed)."""
    sid = task["sid"]
    if kind == "workflow.target-matched":
        return [_target_matched(task, route, names, now)]
    if kind == "task-queue.moved":
        old = str(extra.get("previous_task_queue_sid") or "")
        old_name = names.queues.get(old, old)
        new_name = names.queues.get(task["task_queue_sid"], task["task_queue_sid"])
        description = f"Task {sid} moved from TaskQueue {old_name} to TaskQueue {new_name}"
        moved = {"previous_task_queue_name": old_name, "previous_task_queue_sid": old}
        return [_task_event(kind, description, task, names, now, moved)]
    if kind == "task.canceled" and task["reason"] == TTL_DESCRIPTION:
        return [_task_event(kind, TTL_DESCRIPTION, task, names, now)]
    description = _DESCRIPTIONS[kind].format(
        task=sid,
        workflow=names.workflows.get(task["workflow_sid"], ""),
        queue=names.queues.get(task["task_queue_sid"], task["task_queue_sid"]),
    )
    return [_task_event(kind, description, task, names, now)]
