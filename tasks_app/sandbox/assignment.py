"""Assignment: TaskRouter offering pending tasks to workers, and what reservations do.

Each function is one state change of TaskRouter's assignment and runs inside the caller's
write transaction (a :class:`~.ledger.Context`): it changes the rows, says what happened
with ``ctx.record`` (the TaskRouter event it is), and offers work wherever the change freed
some. The REST operations, the sandbox's clock and the simulator all call these functions,
so a task reserved by a request, by a timeout or in a simulated shift is reserved the same
way. Routing decisions (which target, which workers, in which order, skip or not) are
:mod:`tasks_app.taskrouter.routing`'s, shared with Taskdeck.

How a task finds a worker ([AsgDoc] [TOEval] [QOrd] [MT] [ResDoc], docs/taskrouter.md):

    * A pending task stands at a target of its workflow (a queue). The workers it may be
      offered to are that queue's workers (``target_workers``) that are in an available
      activity, whose channel of the task's TaskChannel is available with free capacity
      (pending, accepted and wrapping reservations use it), who match the target's
      ``expression`` and, when the target names a known worker, are that worker.
    * They are ranked by the target's ``order_by``, then longest idle first; the first
      ``max_reserved_workers`` of the queue each get a pending reservation and the task
      becomes reserved. The first to accept gets it (assigned); the others are rescinded.
      When every reservation ends unaccepted (rejected, timed out), the task is pending
      again and offered to the next worker.
    * With nobody to offer it to, a target's ``skip_if`` may move the task on at once;
      otherwise it waits there until its target times out (measured against its age), a
      worker frees up, or its TTL ends.
    * A worker with free capacity takes, among the pending tasks of all the queues it is
      in, the one its queues would serve first: FIFO queues by priority (highest first)
      then age (``virtual_start_time``, oldest first), LIFO queues newest first with
      priority ignored; a worker in both kinds of queue takes the FIFO queues' tasks first
      unless the workspace's ``prioritize_queue_order`` is ``LIFO``.
    * A reservation that times out (the workflow's ``task_reservation_timeout``) moves its
      worker to the workspace's timeout activity.

DECISIONS (Twilio does not document these):
    * Idle means since the later of the worker's last reservation and its last move into
      an available activity (TaskRouter says "the longest time since the last
      assignment"; a worker back from a long lunch does not jump the queue).
    * A worker who rejected a task, or let its reservation time out, is not offered that
      task again.
    * A task is only offered while pending: a reserved task whose first reservations were
      all that ``max_reserved_workers`` allowed gets no more until it is pending again.
    * A target times out only while its task is pending; a task reserved past its
      target's deadline moves on when it is pending again.
    * Timing out of, or skipping past, the end of a workflow cancels the task, with reason
      "Workflow Timeout" or "Workflow Skipped" (``workflow.timeout``/``workflow.skipped``,
      then ``task.canceled``); TaskRouter's docs say both "canceled" and "removed".
    * Re-routing a pending task (its attributes changed) enters its new filter at that
      moment: the new filter's timeouts count from the change.
    * A worker-routed task (``RoutingTarget`` a Worker SID) is offered to that worker only,
      in or out of the task's queue, whatever the target's expression; ``IgnoreCapacity``
      skips the capacity check.
    * Canceling a task cancels its pending reservations; completing it completes its
      accepted or wrapping one; deleting (or purging) it cancels any reservation still
      holding a worker, then deletes its reservations with it.
    * When a worker looks for work, each of its queues and channels is scanned for at most
      ``SCAN_LIMIT`` pending tasks whose target refuses it (a target expression, a known
      worker) before moving on.
    * Every change of a task's status by TaskRouter itself adds 1 to its version.
    * Workspaces are multitasking (all the seeded ones are); the single-tasking activity
      moves (a queue's reservation and assignment activities) are not made.
    * Events follow cause, then consequence: a change made to a task (by the API, its TTL,
      its workflow) records the task's event, then its reservations'; a worker's answer
      records the reservation's event, then the task's (``reservation.completed``, then
      ``task.completed``). A reservation's creation or acceptance moves the task to
      reserved or assigned without a ``task.updated``: the reservation's event says it.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

from tasks_app.taskrouter import routing, rules
from tasks_app.taskrouter.errors import InvalidParameter

from . import store
from .ledger import Context

__all__ = [
    "accept",
    "cancel_reservation",
    "cancel_task",
    "complete",
    "entry_changes",
    "offer_task",
    "offer_worker",
    "reject",
    "run_clock",
    "task_created",
    "task_deleted",
    "task_updated",
    "time_out",
    "wrap",
]

US = 1_000_000
DEFAULT_RESERVATION_TIMEOUT = 120  # seconds [OAI] Workflow TaskReservationTimeout
MAX_STEPS = 50  # targets one evaluation may pass through (skip_if chains)
SCAN_LIMIT = 500
BATCH = 50
WORKFLOW_TIMEOUT_REASON = "Workflow Timeout"
WORKFLOW_SKIPPED_REASON = "Workflow Skipped"

_HOLDING = tuple(sorted(rules.RESERVATION_HOLDING))
_TASK_COLUMNS = ", ".join(store.TASK_COLUMNS)


# --- Reading, cached per transaction ----------------------------------------------------------


def _task(ctx: Context, sid: str) -> dict[str, Any] | None:
    row = ctx.conn.execute(
        f"SELECT {_TASK_COLUMNS} FROM tasks WHERE sid = ?",  # noqa: S608 - fixed names
        (sid,),
    ).fetchone()
    return dict(row) if row is not None else None


def _cached(ctx: Context, kind: str, sid: str | None, sql: str) -> dict[str, Any] | None:
    if sid is None:
        return None
    key = (kind, sid)
    if key not in ctx.cache:
        row = ctx.conn.execute(sql, (sid,)).fetchone()
        ctx.cache[key] = dict(row) if row is not None else None
    return ctx.cache[key]


def _queue(ctx: Context, sid: str | None) -> dict[str, Any] | None:
    return _cached(ctx, "queue", sid, "SELECT * FROM task_queues WHERE sid = ?")


def _workspace(ctx: Context, sid: str) -> dict[str, Any] | None:
    return _cached(ctx, "workspace", sid, "SELECT * FROM workspaces WHERE sid = ?")


def _workflow(ctx: Context, sid: str | None) -> dict[str, Any] | None:
    return _cached(ctx, "workflow", sid, "SELECT * FROM workflows WHERE sid = ?")


def _parsed(
    ctx: Context, workflow: Mapping[str, Any] | None
) -> routing.WorkflowConfiguration | None:
    if workflow is None:
        return None
    try:
        return routing.parse_configuration(workflow["configuration"])
    except InvalidParameter:
        return None


def _attributes(task: Mapping[str, Any]) -> dict[str, Any]:
    return rules.stored_attributes(task["attributes"])


def _update_task(ctx: Context, task: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply TaskRouter's own change to a task: its version goes up by 1."""
    full = dict(changes)
    full["version"] = task["version"] + 1
    full["date_updated"] = max(ctx.now, task["date_updated"])
    store.update_task(ctx.conn, task["sid"], full)
    task.update(full)
    return task


def _worker(ctx: Context, sid: str) -> dict[str, Any] | None:
    row = ctx.conn.execute(
        "SELECT w.*, a.friendly_name AS activity_name FROM workers w "
        "LEFT JOIN activities a ON a.sid = w.activity_sid WHERE w.sid = ?",
        (sid,),
    ).fetchone()
    return dict(row) if row is not None else None


def _reservation(ctx: Context, sid: str) -> dict[str, Any] | None:
    row = ctx.conn.execute("SELECT * FROM reservations WHERE sid = ?", (sid,)).fetchone()
    return dict(row) if row is not None else None


def _reservations_of(ctx: Context, task_sid: str, *statuses: str) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in statuses)
    rows = ctx.conn.execute(
        f"SELECT * FROM reservations WHERE task_sid = ? AND reservation_status IN ({marks}) "  # noqa: S608
        "ORDER BY date_created, rowid",
        (task_sid, *statuses),
    ).fetchall()
    return [dict(r) for r in rows]


# --- Where a task stands in its workflow ------------------------------------------------------


def entry_changes(
    configuration: str | None, attributes: Mapping[str, Any], *, now: int
) -> dict[str, Any]:
    """The columns of a task entering its workflow now: queue, the target's priority (when
    it sets one), and its place (filter, target, when its target times out)."""
    parsed = None
    if configuration:
        try:
            parsed = routing.parse_configuration(configuration)
        except InvalidParameter:
            parsed = None
    position = routing.entry_position(parsed, attributes) if parsed is not None else None
    if parsed is None or position is None:
        return {
            "task_queue_sid": None,
            "routing_filter": None,
            "routing_step": None,
            "filter_entered": None,
            "target_deadline": None,
        }
    return _placed(parsed, position, filter_entered=now)


def _placed(
    parsed: routing.WorkflowConfiguration, position: routing.Position, *, filter_entered: int
) -> dict[str, Any]:
    target = routing.target_at(parsed, position)
    deadline = routing.target_deadline(parsed, position)
    changes: dict[str, Any] = {
        "task_queue_sid": target.queue,
        "routing_filter": position.filter_index,
        "routing_step": position.target_index,
        "filter_entered": filter_entered,
        "target_deadline": filter_entered + deadline * US if deadline is not None else None,
    }
    if target.priority is not None:
        changes["priority"] = target.priority
    return changes


def _position(task: Mapping[str, Any]) -> routing.Position | None:
    if task["routing_filter"] is None:
        return None
    return routing.Position(task["routing_filter"], task["routing_step"] or 0)


def _target(
    ctx: Context, task: Mapping[str, Any]
) -> tuple[routing.WorkflowConfiguration | None, routing.Position | None, routing.Target | None]:
    """The task's workflow, place and target. A task put in a queue directly (TaskQueueSid)
    stands at a target of its own: that queue, nothing else."""
    parsed = _parsed(ctx, _workflow(ctx, task["workflow_sid"]))
    position = _position(task)
    if parsed is not None and position is not None:
        try:
            return parsed, position, routing.target_at(parsed, position)
        except IndexError:
            pass  # the workflow changed under the task: it keeps its queue
    if task["task_queue_sid"]:
        return parsed, None, routing.Target(queue=task["task_queue_sid"])
    return parsed, None, None


def target_priority(ctx: Context, task: Mapping[str, Any]) -> int | None:
    """The priority the target a task stands at sets (it wins over a client's), or None."""
    _, _, target = _target(ctx, task)
    return target.priority if target is not None else None


# --- Happenings of a task (the REST task operations call these) ------------------------------


def task_created(ctx: Context, task_sid: str) -> None:
    """A task was created (pending): it enters its workflow and queue, and is offered."""
    task = _task(ctx, task_sid)
    if task is None:
        return
    ws = task["workspace_sid"]
    # The engine records the creation's Events (events.task_created).
    ctx.record("task.created", workspace_sid=ws, task=task, emit=False)
    if task["workflow_sid"]:
        ctx.record("workflow.entered", workspace_sid=ws, task=task, emit=False)
        if task["routing_filter"] is not None:
            ctx.record("workflow.target-matched", workspace_sid=ws, task=task, emit=False)
    if task["task_queue_sid"]:
        ctx.record("task-queue.entered", workspace_sid=ws, task=task, emit=False)
    offer_task(ctx, task_sid)


def reroute_changes(ctx: Context, task: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict:
    """What re-routing a pending task with new attributes changes (nothing when its
    workflow sends it where it is). Its age is unchanged [TaskDoc]."""
    parsed = _parsed(ctx, _workflow(ctx, task["workflow_sid"]))
    if parsed is None:
        return {}
    position = routing.entry_position(parsed, attributes)
    if position is None:
        return {}
    if position == _position(task):
        target = routing.target_at(parsed, position)
        return {"priority": target.priority} if target.priority is not None else {}
    changes = _placed(parsed, position, filter_entered=ctx.now)
    if changes["task_queue_sid"] != task["task_queue_sid"]:
        changes["task_queue_entered_date"] = ctx.now
    return changes


def task_updated(
    ctx: Context,
    before: Mapping[str, Any],
    after_sid: str,
    *,
    attributes_changed: bool,
    status: str | None,
) -> None:
    """UpdateTask happened (its Events are the engine's, events.task_updated): end or move
    its reservations, offer it if pending."""
    task = _task(ctx, after_sid)
    if task is None:
        return
    ws = task["workspace_sid"]
    if attributes_changed:
        ctx.record("task.updated", workspace_sid=ws, task=task, emit=False)
    if task["task_queue_sid"] != before["task_queue_sid"] and task["task_queue_sid"]:
        _record_move(ctx, task, before["task_queue_sid"], emit=False)
    elif task["routing_filter"] != before["routing_filter"] or (
        task["routing_step"] != before["routing_step"]
    ):
        ctx.record("workflow.target-matched", workspace_sid=ws, task=task, emit=False)
    if status == rules.CANCELED and before["assignment_status"] != rules.CANCELED:
        ctx.record("task.canceled", workspace_sid=ws, task=task, emit=False)
        _end_for_task(ctx, task, rules.RESERVATION_CANCELED)
    elif status == rules.WRAPPING and before["assignment_status"] == rules.ASSIGNED:
        ctx.record("task.wrapup", workspace_sid=ws, task=task, emit=False)
        for reservation in _reservations_of(ctx, task["sid"], rules.RESERVATION_ACCEPTED):
            _wrap_reservation(ctx, task, reservation)
    elif status == rules.COMPLETED and before["assignment_status"] != rules.COMPLETED:
        ctx.record("task.completed", workspace_sid=ws, task=task, emit=False)
        _end_for_task(ctx, task, rules.RESERVATION_COMPLETED)
    if task["assignment_status"] == rules.PENDING:
        offer_task(ctx, task["sid"])


def _record_move(
    ctx: Context, task: Mapping[str, Any], previous_queue: str | None, *, emit: bool = True
) -> None:
    ws = task["workspace_sid"]
    ctx.record(
        "workflow.target-matched",
        workspace_sid=ws,
        task=task,
        emit=emit,
        route=route_of(ctx, task),
    )
    if previous_queue:
        ctx.record(
            "task-queue.moved",
            workspace_sid=ws,
            task=task,
            task_queue_sid=previous_queue,
            previous_task_queue_sid=previous_queue,
            emit=emit,
        )
    ctx.record("task-queue.entered", workspace_sid=ws, task=task, emit=emit)


def route_of(ctx: Context, task: Mapping[str, Any]) -> routing.Route | None:
    """Where the task stands, as a Route (its target's queue, priority and filter name)."""
    parsed, position, target = _target(ctx, task)
    if target is None:
        return None
    name = expression = None
    if parsed is not None and position is not None and position.filter_index >= 0:
        chosen = parsed.filters[position.filter_index]
        name, expression = chosen.friendly_name or None, chosen.expression.text
    return routing.Route(target.queue, target.priority, name, expression)


def cancel_task(ctx: Context, task_sid: str, *, reason: str, kind: str | None = None) -> None:
    """TaskRouter cancels a pending or reserved task itself (its TTL, or the end of its
    workflow): ``kind`` is the workflow event said first, if any."""
    task = _task(ctx, task_sid)
    if task is None or task["assignment_status"] not in (rules.PENDING, rules.RESERVED):
        return
    if kind is not None:
        ctx.record(kind, workspace_sid=task["workspace_sid"], task=task)
    _update_task(ctx, task, {"assignment_status": rules.CANCELED, "reason": reason})
    ctx.record("task.canceled", workspace_sid=task["workspace_sid"], task=task)
    _end_for_task(ctx, task, rules.RESERVATION_CANCELED)


def task_deleted(ctx: Context, task: Mapping[str, Any], *, by_api: bool) -> None:
    """A task is about to be deleted (by the API, or purged by TaskRouter): reservations
    still holding a worker are canceled, and all are deleted with it."""
    _end_for_task(ctx, task, rules.RESERVATION_CANCELED)
    # The caller records the deletion's Events (events.task_deleted).
    kind = "task.deleted" if by_api else "task.system-deleted"
    ctx.record(kind, workspace_sid=task["workspace_sid"], task=task, emit=False)
    ctx.conn.execute("DELETE FROM reservations WHERE task_sid = ?", (task["sid"],))


def _end_for_task(ctx: Context, task: Mapping[str, Any], status: str) -> None:
    """End a closing task's reservations that still hold a worker (pending, accepted,
    wrapping): all become ``status`` (canceled or completed), and the workers' capacity is
    offered to other tasks."""
    freed: list[str] = []
    for reservation in _reservations_of(ctx, task["sid"], *_HOLDING):
        _move_reservation(ctx, reservation, status, dict(task))
        if status == rules.RESERVATION_COMPLETED:
            _after_work(ctx, reservation)
        freed.append(reservation["worker_sid"])
    for worker_sid in dict.fromkeys(freed):
        offer_worker(ctx, worker_sid)


# --- Reservations -------------------------------------------------------------------------------


def _set_reservation(ctx: Context, reservation: dict[str, Any], status: str) -> dict[str, Any]:
    """Move a reservation to ``status``, keeping its worker's channel counts right."""
    old = reservation["reservation_status"]
    held_delta = int(status in rules.RESERVATION_HOLDING) - int(old in rules.RESERVATION_HOLDING)
    assigned = (rules.RESERVATION_ACCEPTED, rules.RESERVATION_WRAPPING)
    assigned_delta = int(status in assigned) - int(old in assigned)
    if held_delta or assigned_delta:
        ctx.conn.execute(
            "UPDATE worker_channels SET held = held + ?, assigned = assigned + ? "
            "WHERE worker_sid = ? AND task_channel_sid = ?",
            (
                held_delta,
                assigned_delta,
                reservation["worker_sid"],
                reservation["task_channel_sid"],
            ),
        )
    changes = {
        "reservation_status": status,
        "date_updated": max(ctx.now, reservation["date_updated"]),
        "version": reservation["version"] + 1,
        "timeout_at": reservation["timeout_at"] if status == rules.RESERVATION_PENDING else None,
    }
    ctx.conn.execute(
        "UPDATE reservations SET reservation_status = ?, date_updated = ?, version = ?, "
        "timeout_at = ? WHERE sid = ?",
        (*changes.values(), reservation["sid"]),
    )
    reservation.update(changes)
    return reservation


# The event each reservation status is recorded as (wrapping's is TaskRouter's "wrapup").
_RESERVATION_EVENTS = {
    rules.RESERVATION_ACCEPTED: "reservation.accepted",
    rules.RESERVATION_REJECTED: "reservation.rejected",
    rules.RESERVATION_TIMEOUT: "reservation.timeout",
    rules.RESERVATION_CANCELED: "reservation.canceled",
    rules.RESERVATION_RESCINDED: "reservation.rescinded",
    rules.RESERVATION_WRAPPING: "reservation.wrapup",
    rules.RESERVATION_COMPLETED: "reservation.completed",
}


def _move_reservation(
    ctx: Context, reservation: dict[str, Any], status: str, task: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Move a reservation to ``status`` and record it; returns its task (as it is now)."""
    _set_reservation(ctx, reservation, status)
    task = task if task is not None else _task(ctx, reservation["task_sid"])
    assert task is not None
    ctx.record(
        _RESERVATION_EVENTS[status],
        workspace_sid=task["workspace_sid"],
        task=task,
        reservation=reservation,
        worker=_worker(ctx, reservation["worker_sid"]),
    )
    return task


def _reserve(
    ctx: Context, task: dict[str, Any], worker: Mapping[str, Any], queue: Mapping[str, Any]
) -> dict[str, Any]:
    workflow = _workflow(ctx, task["workflow_sid"])
    timeout = (workflow or {}).get("task_reservation_timeout") or DEFAULT_RESERVATION_TIMEOUT
    reservation = {
        "sid": ctx.new_sid("WR"),
        "workspace_sid": task["workspace_sid"],
        "task_sid": task["sid"],
        "worker_sid": worker["sid"],
        "worker_name": worker["friendly_name"],
        "task_channel_sid": task["task_channel_sid"],
        "task_queue_sid": queue["sid"],
        "workflow_sid": task["workflow_sid"],
        "reservation_status": rules.RESERVATION_PENDING,
        "date_created": ctx.now,
        "date_updated": ctx.now,
        "timeout_at": ctx.now + timeout * US,
        "version": 0,
        "post_work_activity_sid": None,
    }
    ctx.conn.execute(
        f"INSERT INTO reservations ({', '.join(reservation)}) "  # noqa: S608 - our keys
        f"VALUES ({', '.join('?' for _ in reservation)})",
        list(reservation.values()),
    )
    ctx.conn.execute(
        "UPDATE worker_channels SET held = held + 1 WHERE worker_sid = ? AND task_channel_sid = ?",
        (worker["sid"], task["task_channel_sid"]),
    )
    ctx.conn.execute("UPDATE workers SET idle_since = ? WHERE sid = ?", (ctx.now, worker["sid"]))
    if task["assignment_status"] == rules.PENDING:
        _update_task(ctx, task, {"assignment_status": rules.RESERVED})
    ctx.record(
        "reservation.created",
        workspace_sid=task["workspace_sid"],
        task=task,
        reservation=reservation,
        worker=worker,
    )
    return reservation


def accept(ctx: Context, reservation_sid: str) -> dict[str, Any]:
    """The worker accepts: the task is assigned; its other reservations are rescinded."""
    reservation = _require(ctx, reservation_sid)
    task = _task(ctx, reservation["task_sid"])
    assert task is not None
    _update_task(ctx, task, {"assignment_status": rules.ASSIGNED})
    _move_reservation(ctx, reservation, rules.RESERVATION_ACCEPTED, task)
    for other in _reservations_of(ctx, task["sid"], rules.RESERVATION_PENDING):
        _move_reservation(ctx, other, rules.RESERVATION_RESCINDED, task)
        offer_worker(ctx, other["worker_sid"])
    return reservation


def reject(ctx: Context, reservation_sid: str, *, activity_sid: str | None = None) -> dict:
    """The worker rejects (optionally moving to ``activity_sid``): the task goes on to the
    next worker once none of its reservations is pending."""
    reservation = _require(ctx, reservation_sid)
    task = _move_reservation(ctx, reservation, rules.RESERVATION_REJECTED)
    if activity_sid:
        from . import workforce

        workforce.set_activity(ctx, reservation["worker_sid"], activity_sid)
    _after_unaccepted(ctx, task, reservation)
    return reservation


def time_out(ctx: Context, reservation_sid: str) -> dict[str, Any]:
    """Nobody answered within the workflow's reservation timeout: the worker moves to the
    workspace's timeout activity and the task goes on to the next worker."""
    reservation = _require(ctx, reservation_sid)
    task = _move_reservation(ctx, reservation, rules.RESERVATION_TIMEOUT)
    workspace = _workspace(ctx, task["workspace_sid"]) or {}
    worker = _worker(ctx, reservation["worker_sid"])
    timeout_activity = workspace.get("timeout_activity_sid")
    if worker is not None and timeout_activity and worker["activity_sid"] != timeout_activity:
        from . import workforce

        workforce.set_activity(ctx, worker["sid"], timeout_activity)
    _after_unaccepted(ctx, task, reservation)
    return reservation


def cancel_reservation(ctx: Context, reservation_sid: str) -> dict[str, Any]:
    """A pending reservation ends because its worker is leaving (deleted)."""
    reservation = _require(ctx, reservation_sid)
    task = _move_reservation(ctx, reservation, rules.RESERVATION_CANCELED)
    _after_unaccepted(ctx, task, reservation)
    return reservation


def _after_unaccepted(ctx: Context, task: dict[str, Any], reservation: Mapping[str, Any]) -> None:
    if task["assignment_status"] == rules.RESERVED and not _reservations_of(
        ctx, task["sid"], rules.RESERVATION_PENDING
    ):
        _update_task(ctx, task, {"assignment_status": rules.PENDING})
        _catch_up_timeouts(ctx, task)
        offer_task(ctx, task["sid"])
    offer_worker(ctx, reservation["worker_sid"])


def wrap(ctx: Context, reservation_sid: str) -> dict[str, Any]:
    """The worker wraps up: the reservation and its task move to wrapping."""
    reservation = _require(ctx, reservation_sid)
    task = _task(ctx, reservation["task_sid"])
    assert task is not None
    if task["assignment_status"] == rules.ASSIGNED:
        _update_task(ctx, task, {"assignment_status": rules.WRAPPING})
    _wrap_reservation(ctx, task, reservation)
    ctx.record("task.wrapup", workspace_sid=task["workspace_sid"], task=task)
    return reservation


def _wrap_reservation(ctx: Context, task: Mapping[str, Any], reservation: dict[str, Any]) -> None:
    _move_reservation(ctx, reservation, rules.RESERVATION_WRAPPING, dict(task))


def complete(ctx: Context, reservation_sid: str, *, reason: str | None = None) -> dict[str, Any]:
    """The worker completes: reservation and task completed (with ``reason``, when given),
    the capacity freed."""
    reservation = _require(ctx, reservation_sid)
    task = _task(ctx, reservation["task_sid"])
    assert task is not None
    if task["assignment_status"] in (rules.ASSIGNED, rules.WRAPPING):
        changes: dict[str, Any] = {"assignment_status": rules.COMPLETED}
        if reason is not None:
            changes["reason"] = reason
        _update_task(ctx, task, changes)
    _move_reservation(ctx, reservation, rules.RESERVATION_COMPLETED, task)
    ctx.record("task.completed", workspace_sid=task["workspace_sid"], task=task)
    _after_work(ctx, reservation)
    offer_worker(ctx, reservation["worker_sid"])
    return reservation


def _after_work(ctx: Context, reservation: Mapping[str, Any]) -> None:
    """A PostWorkActivitySid given with the reservation's instruction applies once the
    work is over (DECISION: the sandbox has no calls to end)."""
    activity = reservation.get("post_work_activity_sid")
    if activity:
        from . import workforce

        workforce.set_activity(ctx, reservation["worker_sid"], activity)


def _require(ctx: Context, reservation_sid: str) -> dict[str, Any]:
    reservation = _reservation(ctx, reservation_sid)
    if reservation is None:
        raise LookupError(reservation_sid)
    return reservation


# --- Offering a task to workers -----------------------------------------------------------------


def offer_task(ctx: Context, task_sid: str) -> list[dict[str, Any]]:
    """Offer a pending task at its target: reservations for the best eligible workers, or
    (with none) its target's ``skip_if``. Returns the reservations made."""
    for _ in range(MAX_STEPS):
        task = _task(ctx, task_sid)
        if task is None or task["assignment_status"] != rules.PENDING:
            return []
        parsed, position, target = _target(ctx, task)
        queue = _queue(ctx, target.queue) if target is not None else None
        if target is None or queue is None:
            return []
        attributes = _attributes(task)
        count = max(1, queue["max_reserved_workers"] or 1)
        workers = _eligible(ctx, task, attributes, target, queue, count=count)
        if workers:
            return [_reserve(ctx, task, worker, queue) for worker in workers]
        if parsed is None or position is None or target.skip_filter is None:
            return []
        if not routing.should_skip(target, _skip_counts(ctx, task, attributes, target, queue)):
            return []
        step = routing.next_step(parsed, attributes, position, skipped=True)
        if not _move(ctx, task, parsed, step, at=ctx.now):
            return []
    return []


def _move(
    ctx: Context,
    task: dict[str, Any],
    parsed: routing.WorkflowConfiguration,
    step: routing.Step,
    *,
    at: int,
) -> bool:
    """Put a pending task where ``step`` says, as of ``at`` (when its target timed out, or
    now for a skip); False when it left its workflow."""
    if step.position is None:
        kind = "workflow.skipped" if step.reason == "skipped" else "workflow.timeout"
        reason = WORKFLOW_SKIPPED_REASON if step.reason == "skipped" else WORKFLOW_TIMEOUT_REASON
        cancel_task(ctx, task["sid"], reason=reason, kind=kind)
        return False
    filter_entered = at
    if step.reason == "target" and task["filter_entered"] is not None:
        filter_entered = task["filter_entered"]  # target timeouts count from the filter's entry
    changes = _placed(parsed, step.position, filter_entered=filter_entered)
    previous_queue = task["task_queue_sid"]
    if changes["task_queue_sid"] != previous_queue:
        changes["task_queue_entered_date"] = at
    _update_task(ctx, task, changes)
    if task["task_queue_sid"] != previous_queue:
        _record_move(ctx, task, previous_queue)
    else:
        ctx.record(
            "workflow.target-matched",
            workspace_sid=task["workspace_sid"],
            task=task,
            route=route_of(ctx, task),
        )
    return True


def _catch_up_timeouts(ctx: Context, task: dict[str, Any]) -> bool:
    """Move a pending task past every target whose deadline has passed; False when it left
    its workflow."""
    for _ in range(MAX_STEPS):
        deadline = task["target_deadline"]
        if task["assignment_status"] != rules.PENDING or deadline is None or deadline > ctx.now:
            return True
        parsed, position, _ = _target(ctx, task)
        if parsed is None or position is None:
            # Nowhere to move (its workflow no longer has that target): stop the clock.
            ctx.conn.execute(
                "UPDATE tasks SET target_deadline = NULL WHERE sid = ?", (task["sid"],)
            )
            task["target_deadline"] = None
            return True
        step = routing.next_step(parsed, _attributes(task), position, skipped=False)
        if not _move(ctx, task, parsed, step, at=deadline):
            return False
    return True


def _channel_names(ctx: Context, workspace_sid: str) -> dict[str, str]:
    key = ("channels", workspace_sid)
    if key not in ctx.cache:
        ctx.cache[key] = {
            r["sid"]: r["unique_name"]
            for r in ctx.conn.execute(
                "SELECT sid, unique_name FROM task_channels WHERE workspace_sid = ?",
                (workspace_sid,),
            )
        }
    return ctx.cache[key]


def worker_channels_view(ctx: Context, worker_sid: str, workspace_sid: str) -> dict[str, dict]:
    """``worker.channel.<unique name>`` for expressions."""
    names = _channel_names(ctx, workspace_sid)
    view = {}
    for row in ctx.conn.execute(
        "SELECT task_channel_sid, configured_capacity, held, assigned FROM worker_channels "
        "WHERE worker_sid = ?",
        (worker_sid,),
    ):
        name = names.get(row["task_channel_sid"])
        if name:
            view[name] = {
                "configured_capacity": row["configured_capacity"],
                "assigned_tasks": row["assigned"],
                "available_capacity_percentage": rules.available_capacity_percentage(
                    row["configured_capacity"], row["held"]
                ),
            }
    return view


def view_of(ctx: Context, worker: Mapping[str, Any], *, with_channels: bool = True) -> dict:
    """A worker as expressions see it (routing.worker_view)."""
    channels = (
        worker_channels_view(ctx, worker["sid"], worker["workspace_sid"]) if with_channels else {}
    )
    key = ("attributes", worker["attributes"])
    attributes = ctx.cache.get(key)
    if attributes is None:
        attributes = ctx.cache[key] = rules.stored_attributes(worker["attributes"])
    return routing.worker_view(
        attributes,
        sid=worker["sid"],
        friendly_name=worker["friendly_name"],
        activity_sid=worker["activity_sid"],
        activity_name=worker.get("activity_name"),
        channels=channels,
    )


def _needs_channels(target: routing.Target) -> bool:
    return bool(target.expression and "channel" in target.expression) or bool(
        target.order_by and "channel" in target.order_by
    )


_CANDIDATES = (
    "SELECT w.rowid AS position, w.*, a.friendly_name AS activity_name FROM worker_channels wc "
    "JOIN workers w ON w.sid = wc.worker_sid "
    "LEFT JOIN activities a ON a.sid = w.activity_sid "
    "WHERE wc.task_channel_sid = ? AND wc.available = 1 AND wc.worker_available = 1"
)


def _eligible(
    ctx: Context,
    task: Mapping[str, Any],
    attributes: Mapping[str, Any],
    target: routing.Target,
    queue: Mapping[str, Any],
    *,
    count: int,
) -> list[dict[str, Any]]:
    """The best ``count`` workers this task may be offered to now, best first."""
    channel = task["task_channel_sid"]
    routed_to = task["routing_target"] if rules.is_sid(task["routing_target"], "WK") else None
    if routed_to is not None:
        sql = _CANDIDATES + " AND w.sid = ?"
        params: list[Any] = [channel, routed_to]
        if not task["ignore_capacity"]:
            sql += " AND wc.held < wc.configured_capacity"
    else:
        sql = (
            _CANDIDATES  # noqa: S608 - fixed text
            + " AND wc.held < wc.configured_capacity AND EXISTS (SELECT 1 FROM "
            "queue_members m WHERE m.task_queue_sid = ? AND m.worker_sid = wc.worker_sid)"
        )
        params = [channel, queue["sid"]]
        known = routing.known_worker(target, attributes)
        if known is not None:
            kind, value = known
            if kind == "none":
                return []  # the task waits for its known worker, who is not named
            if kind == "sid":
                sql += " AND w.sid = ?"
            else:
                sql += " AND casefold(w.friendly_name) = casefold(?)"
            params.append(value)
    # Longest idle first: without order_by, the first acceptable ones are the answer.
    rows = ctx.conn.execute(sql + " ORDER BY w.idle_since, w.rowid", params)
    excluded: set[str] | None = None
    with_channels = _needs_channels(target)
    candidates = []
    for row in rows:
        if excluded is None:
            excluded = {
                r["worker_sid"]
                for r in ctx.conn.execute(
                    "SELECT worker_sid FROM reservations WHERE task_sid = ? AND "
                    "reservation_status IN ('pending', 'rejected', 'timeout')",
                    (task["sid"],),
                )
            }
        if row["sid"] in excluded:
            continue
        worker = dict(row)
        if routed_to is None and target.worker_filter is not None:
            view = view_of(ctx, worker, with_channels=with_channels)
            if not routing.target_accepts(target, attributes, view):
                continue
        candidates.append(worker)
        if not target.ordering and len(candidates) >= count:
            break
    if target.ordering and candidates:
        candidates = routing.order_workers(
            target,
            candidates,
            view=lambda w: view_of(ctx, w, with_channels=with_channels),
            idle_since=lambda w: (w["idle_since"], w["position"]),
        )
    return candidates[:count]


def _skip_counts(
    ctx: Context,
    task: Mapping[str, Any],
    attributes: Mapping[str, Any],
    target: routing.Target,
    queue: Mapping[str, Any],
) -> dict[str, int]:
    """``workers.available``, ``workers.unavailable`` and ``workers.<WA...>``: the workers
    the target would consider, whatever their capacity."""
    counts: dict[str, int] = {"available": 0, "unavailable": 0}
    with_channels = _needs_channels(target)
    for row in ctx.conn.execute(
        "SELECT w.*, a.friendly_name AS activity_name FROM queue_members m "
        "JOIN workers w ON w.sid = m.worker_sid LEFT JOIN activities a ON a.sid = w.activity_sid "
        "WHERE m.task_queue_sid = ?",
        (queue["sid"],),
    ):
        worker = dict(row)
        if not routing.target_accepts(
            target, attributes, view_of(ctx, worker, with_channels=with_channels)
        ):
            continue
        counts["available" if worker["available"] else "unavailable"] += 1
        counts[worker["activity_sid"]] = counts.get(worker["activity_sid"], 0) + 1
    return counts


# --- Offering work to a worker ------------------------------------------------------------------


def offer_worker(ctx: Context, worker_sid: str) -> list[dict[str, Any]]:
    """A worker has (or may have) free capacity: offer it the tasks its queues would serve
    first, until it is full or nothing fits. Returns the reservations made."""
    made: list[dict[str, Any]] = []
    for _ in range(2 * rules.CAPACITY_MAX):
        worker = _worker(ctx, worker_sid)
        if worker is None or not worker["available"]:
            return made
        free = [
            r["task_channel_sid"]
            for r in ctx.conn.execute(
                "SELECT task_channel_sid FROM worker_channels WHERE worker_sid = ? "
                "AND available = 1 AND held < configured_capacity",
                (worker_sid,),
            )
        ]
        if not free:
            return made
        task_sid = _best_task_for(ctx, worker, free)
        if task_sid is None:
            return made
        reservations = offer_task(ctx, task_sid)
        mine = [r for r in reservations if r["worker_sid"] == worker_sid]
        made += mine
        if not mine:
            return made  # the task went to others (it cannot, but never loop on it)
    return made


def _best_task_for(ctx: Context, worker: Mapping[str, Any], channels: list[str]) -> str | None:
    queues = [
        _queue(ctx, r["task_queue_sid"])
        for r in ctx.conn.execute(
            "SELECT task_queue_sid FROM queue_members WHERE worker_sid = ?", (worker["sid"],)
        )
    ]
    workspace = _workspace(ctx, worker["workspace_sid"]) or {}
    lifo_first = workspace.get("prioritize_queue_order") == "LIFO"
    streams = []
    for queue in queues:
        if queue is None:
            continue
        lifo = queue["task_order"] == "LIFO"
        group = 0 if lifo == lifo_first else 1
        for channel in channels:
            streams.append(_pending(ctx, queue["sid"], channel, lifo=lifo, group=group))
    view = None
    for _key, task in heapq.merge(*streams):
        if view is None:
            view = view_of(ctx, worker)
        if _accepts(ctx, task, worker, view):
            return task["sid"]
    return None


def _pending(
    ctx: Context, queue_sid: str, channel_sid: str, *, lifo: bool, group: int
) -> Iterator[tuple[tuple, dict[str, Any]]]:
    """A queue's pending tasks on one channel in the order the queue serves them (ties by
    creation order), with their merge key, at most SCAN_LIMIT of them."""
    if lifo:
        order = "virtual_start_time DESC, rowid DESC"
        index = "tasks_waiting_lifo"
    else:
        order = "priority DESC, virtual_start_time, rowid"
        index = "tasks_waiting"
    sql = (
        f"SELECT rowid AS position, {_TASK_COLUMNS} FROM tasks INDEXED BY {index} "  # noqa: S608
        "WHERE task_queue_sid = ? AND task_channel_sid = ? AND assignment_status = 'pending' "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )
    offset = 0
    while offset < SCAN_LIMIT:
        rows = ctx.conn.execute(sql, (queue_sid, channel_sid, BATCH, offset)).fetchall()
        for row in rows:
            task = dict(row)
            if lifo:
                key = (group, -task["virtual_start_time"], 0, -task["position"])
            else:
                key = (group, -task["priority"], task["virtual_start_time"], task["position"])
            yield key, task
        if len(rows) < BATCH:
            return
        offset += BATCH


def _accepts(
    ctx: Context, task: Mapping[str, Any], worker: Mapping[str, Any], view: Mapping[str, Any]
) -> bool:
    """Whether this pending task's target lets this worker have it."""
    routed_to = task["routing_target"] if rules.is_sid(task["routing_target"], "WK") else None
    if routed_to is not None and routed_to != worker["sid"]:
        return False
    if ctx.conn.execute(
        "SELECT 1 FROM reservations WHERE task_sid = ? AND worker_sid = ? "
        "AND reservation_status IN ('pending', 'rejected', 'timeout')",
        (task["sid"], worker["sid"]),
    ).fetchone():
        return False
    if routed_to is not None:
        return True
    _, _, target = _target(ctx, task)
    if target is None:
        return False
    attributes = _attributes(task)
    known = routing.known_worker(target, attributes)
    if known is not None:
        kind, value = known
        if kind == "none":
            return False
        if kind == "sid" and value != worker["sid"]:
            return False
        if kind == "friendly_name" and value.casefold() != worker["friendly_name"].casefold():
            return False
    return routing.target_accepts(target, attributes, view)


# --- The clock ----------------------------------------------------------------------------------


def next_due(conn: sqlite3.Connection) -> int | None:
    """When the next reservation or target times out (microseconds), or None."""
    row = conn.execute(
        "SELECT MIN(timeout_at) FROM reservations WHERE reservation_status = 'pending'"
    ).fetchone()
    target = conn.execute(
        "SELECT MIN(target_deadline) FROM tasks WHERE assignment_status = 'pending' "
        "AND target_deadline IS NOT NULL"
    ).fetchone()
    moments = [value for value in (row[0], target[0]) if value is not None]
    return min(moments) if moments else None


def run_clock(ctx: Context, *, limit: int = 1000) -> int:
    """Everything due by ``ctx.now``: reservations time out, targets time out (the task
    moves on, or leaves its workflow). Returns how many things happened."""
    done = 0
    while done < limit:
        reservations = ctx.conn.execute(
            "SELECT sid FROM reservations WHERE reservation_status = 'pending' "
            "AND timeout_at <= ? ORDER BY timeout_at LIMIT 100",
            (ctx.now,),
        ).fetchall()
        for row in reservations:
            reservation = _reservation(ctx, row["sid"])
            if reservation and reservation["reservation_status"] == rules.RESERVATION_PENDING:
                time_out(ctx, row["sid"])
                done += 1
        tasks = ctx.conn.execute(
            "SELECT sid FROM tasks WHERE assignment_status = 'pending' "
            "AND target_deadline IS NOT NULL AND target_deadline <= ? "
            "ORDER BY target_deadline LIMIT 100",
            (ctx.now,),
        ).fetchall()
        for row in tasks:
            task = _task(ctx, row["sid"])
            if task is not None and _catch_up_timeouts(ctx, task):
                offer_task(ctx, task["sid"])
            done += 1
        if not reservations and not tasks:
            break
    return done
