"""Workers, Activities and Worker Channels: TaskRouter's workforce, with its rules.

Each function is one operation or state change, run inside the caller's write transaction
(a :class:`~.ledger.Context`); it checks TaskRouter's rules (:mod:`tasks_app.taskrouter.rules`),
changes the rows, says what happened with ``ctx.record`` (``worker.created``,
``worker.activity.update``, ``worker.attributes.update``, ``worker.capacity.update``,
``worker.channel.availability.update``, ``worker.deleted``, ``activity.created``...) and,
when a worker may now take work, offers it some (:func:`.assignment.offer_worker`).

What TaskRouter documents ([WkDoc] [ActDoc] [WCDoc] [MT], docs/taskrouter.md):
    * A new worker starts in the activity given, else the workspace's default activity;
      its attributes default to ``{}``; it gets one channel per TaskChannel.
    * A worker is ``available`` when its activity is; ``date_status_changed`` is when its
      activity last changed.
    * ``RejectPendingReservations`` (only with an unavailable activity) rejects the
      worker's pending reservations as it moves; moving between available activities
      keeps them.
    * An activity's ``available`` cannot change after it is created; at most 100 per
      workspace. A channel with ``Capacity`` 0, or ``Available`` false, gets no new
      reservations; a paused channel keeps its capacity.

DECISIONS (Twilio does not document these):
    * Friendly names are unique per workspace, ignoring case, for workers and for
      activities; a duplicate is a 400.
    * Moving to an unavailable activity without ``RejectPendingReservations`` keeps the
      pending reservations (they are accepted, rejected or time out as usual).
    * Updating a worker to the activity it is already in changes nothing but the version.
    * A worker holding accepted or wrapping reservations cannot be deleted (400); its
      pending reservations are canceled when it is.
    * An activity cannot be deleted while a worker is in it, or while the workspace or a
      queue names it (default, timeout, reservation or assignment activity): 400.
    * A new worker's channels have capacity 1 and are available, as a new TaskRouter
      worker's are.
    * Queue membership (``target_workers``) is evaluated again whenever the worker
      changes (attributes, name, activity, channels), since expressions may read all of
      them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks_app.taskrouter import routing, rules
from tasks_app.taskrouter.errors import InvalidParameter

from . import assignment
from .ledger import Context
from .problems import bad_request, not_found

__all__ = [
    "create_activity",
    "create_worker",
    "delete_activity",
    "delete_worker",
    "refresh_membership",
    "refresh_queue",
    "set_activity",
    "update_activity",
    "update_channel",
    "update_worker",
]

US = 1_000_000
DEFAULT_CAPACITY = 1


def worker_path(workspace_sid: str, worker_sid: str) -> str:
    return f"/Workspaces/{workspace_sid}/Workers/{worker_sid}"


def activity_path(workspace_sid: str, activity_sid: str) -> str:
    return f"/Workspaces/{workspace_sid}/Activities/{activity_sid}"


# --- Activities ---------------------------------------------------------------------------------


def activity(ctx: Context, workspace_sid: str, sid: str) -> dict[str, Any] | None:
    row = ctx.conn.execute(
        "SELECT * FROM activities WHERE sid = ? AND workspace_sid = ?", (sid, workspace_sid)
    ).fetchone()
    return dict(row) if row is not None else None


def _activity_param(ctx: Context, workspace_sid: str, value: str, param: str) -> dict[str, Any]:
    sid = rules.validate_sid(value, "WA", param=param)
    found = activity(ctx, workspace_sid, sid)
    if found is None:
        raise InvalidParameter(
            f"{param} {sid} is not an Activity in workspace {workspace_sid}.", param=param
        )
    return found


def _unique_name(ctx: Context, table: str, workspace_sid: str, name: str, *, but: str = "") -> None:
    clash = ctx.conn.execute(
        f"SELECT sid FROM {table} WHERE workspace_sid = ? "  # noqa: S608 - fixed names
        "AND casefold(friendly_name) = casefold(?) AND sid != ?",
        (workspace_sid, name, but),
    ).fetchone()
    if clash is not None:
        kind = "A Worker" if table == "workers" else "An Activity"
        raise bad_request(
            f"{kind} named {name!r} already exists in workspace {workspace_sid} ({clash[0]})."
        )


def _make_room(ctx: Context, table: str, workspace_sid: str, name: str, most: int) -> None:
    """Refuse a new worker or activity past TaskRouter's limit, or with a name in use."""
    count = ctx.conn.execute(
        f"SELECT COUNT(*) FROM {table} WHERE workspace_sid = ?",  # noqa: S608 - fixed names
        (workspace_sid,),
    ).fetchone()[0]
    if count >= most:
        kind = "Workers" if table == "workers" else "Activities"
        raise bad_request(
            f"Workspace {workspace_sid} already has {most:,} {kind}, the most TaskRouter allows."
        )
    _unique_name(ctx, table, workspace_sid, name)


def create_activity(
    ctx: Context, workspace_sid: str, *, friendly_name: str, available: bool
) -> dict[str, Any]:
    name = rules.validate_friendly_name(friendly_name)
    _make_room(ctx, "activities", workspace_sid, name, rules.ACTIVITIES_MAX)
    row = {
        "sid": ctx.new_sid("WA"),
        "workspace_sid": workspace_sid,
        "friendly_name": name,
        "available": int(available),
        "date_created": ctx.now,
        "date_updated": ctx.now,
    }
    _insert(ctx, "activities", row)
    ctx.record("activity.created", workspace_sid=workspace_sid, activity=row)
    return row


def update_activity(
    ctx: Context, workspace_sid: str, sid: str, *, friendly_name: str | None
) -> dict[str, Any]:
    found = activity(ctx, workspace_sid, sid)
    if found is None:
        raise not_found(activity_path(workspace_sid, sid))
    if friendly_name is not None:
        name = rules.validate_friendly_name(friendly_name)
        _unique_name(ctx, "activities", workspace_sid, name, but=sid)
        found["friendly_name"] = name
    found["date_updated"] = max(ctx.now, found["date_updated"])
    ctx.conn.execute(
        "UPDATE activities SET friendly_name = ?, date_updated = ? WHERE sid = ?",
        (found["friendly_name"], found["date_updated"], sid),
    )
    ctx.record("activity.updated", workspace_sid=workspace_sid, activity=found)
    return found


def delete_activity(ctx: Context, workspace_sid: str, sid: str) -> None:
    found = activity(ctx, workspace_sid, sid)
    if found is None:
        raise not_found(activity_path(workspace_sid, sid))
    users = ctx.conn.execute(
        "SELECT COUNT(*) FROM workers WHERE activity_sid = ?", (sid,)
    ).fetchone()[0]
    named = ctx.conn.execute(
        "SELECT 1 FROM workspaces WHERE sid = ? AND ? IN (default_activity_sid, "
        "timeout_activity_sid) UNION ALL SELECT 1 FROM task_queues WHERE workspace_sid = ? "
        "AND ? IN (reservation_activity_sid, assignment_activity_sid) LIMIT 1",
        (workspace_sid, sid, workspace_sid, sid),
    ).fetchone()
    if users or named:
        why = f"{users} workers are in it" if users else "the workspace or a TaskQueue uses it"
        raise bad_request(f"Cannot delete Activity {sid} in workspace {workspace_sid}: {why}.")
    ctx.conn.execute("DELETE FROM activities WHERE sid = ?", (sid,))
    ctx.record("activity.deleted", workspace_sid=workspace_sid, activity=found)


# --- Workers ------------------------------------------------------------------------------------


def worker(ctx: Context, workspace_sid: str, sid: str) -> dict[str, Any] | None:
    found = assignment._worker(ctx, sid)
    if found is None or found["workspace_sid"] != workspace_sid:
        return None
    return found


def _require_worker(ctx: Context, workspace_sid: str, sid: str) -> dict[str, Any]:
    found = worker(ctx, workspace_sid, sid)
    if found is None:
        raise not_found(worker_path(workspace_sid, sid))
    return found


def _attributes_text(value: str, *, param: str = "Attributes") -> str:
    rules.parse_attributes(value, param=param)
    return value


def create_worker(
    ctx: Context,
    workspace_sid: str,
    *,
    friendly_name: str,
    attributes: str | None = None,
    activity_sid: str | None = None,
    capacities: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """CreateWorker. ``capacities`` (TaskChannel unique name -> capacity) is the seed's."""
    name = rules.validate_friendly_name(friendly_name)
    text = _attributes_text(attributes) if attributes is not None else "{}"
    workspace = assignment._workspace(ctx, workspace_sid) or {}
    if activity_sid is not None:
        start = _activity_param(ctx, workspace_sid, activity_sid, "ActivitySid")
    else:
        start = activity(ctx, workspace_sid, workspace.get("default_activity_sid") or "")
        if start is None:
            raise bad_request(f"Workspace {workspace_sid} has no default Activity.")
    _make_room(ctx, "workers", workspace_sid, name, rules.WORKERS_MAX)
    row = {
        "sid": ctx.new_sid("WK"),
        "workspace_sid": workspace_sid,
        "friendly_name": name,
        "attributes": text,
        "activity_sid": start["sid"],
        "available": start["available"],
        "date_created": ctx.now,
        "date_updated": ctx.now,
        "date_status_changed": ctx.now,
        "idle_since": ctx.now,
        "version": 0,
    }
    _insert(ctx, "workers", row)
    for channel in ctx.conn.execute(
        "SELECT sid, unique_name FROM task_channels WHERE workspace_sid = ? "
        "ORDER BY date_created, sid",
        (workspace_sid,),
    ).fetchall():
        capacity = DEFAULT_CAPACITY
        if capacities is not None:
            capacity = capacities.get(channel["unique_name"], 0)
        _insert(
            ctx,
            "worker_channels",
            {
                "sid": ctx.new_sid("WC"),
                "workspace_sid": workspace_sid,
                "worker_sid": row["sid"],
                "task_channel_sid": channel["sid"],
                "configured_capacity": capacity,
                "available": 1,
                "worker_available": start["available"],
                "held": 0,
                "assigned": 0,
                "date_created": ctx.now,
                "date_updated": ctx.now,
            },
        )
    _open_span(ctx, row, start["sid"])
    created = _require_worker(ctx, workspace_sid, row["sid"])
    refresh_membership(ctx, created)
    ctx.record("worker.created", workspace_sid=workspace_sid, worker=created)
    assignment.offer_worker(ctx, row["sid"])
    return _require_worker(ctx, workspace_sid, row["sid"])


def update_worker(
    ctx: Context,
    workspace_sid: str,
    sid: str,
    *,
    friendly_name: str | None = None,
    attributes: str | None = None,
    activity_sid: str | None = None,
    reject_pending: bool = False,
    if_match: str | None = None,
) -> dict[str, Any]:
    """UpdateWorker: name, attributes, activity (with RejectPendingReservations), If-Match."""
    from .engine import check_if_match

    name = rules.validate_friendly_name(friendly_name) if friendly_name is not None else None
    text = _attributes_text(attributes) if attributes is not None else None
    current = _require_worker(ctx, workspace_sid, sid)
    check_if_match(if_match, current, "worker")
    target = None
    if activity_sid is not None:
        target = _activity_param(ctx, workspace_sid, activity_sid, "ActivitySid")
    if reject_pending:
        refusal = rules.reject_pending_refusal(
            bool(target["available"] if target else current["available"])
        )
        if refusal:
            raise InvalidParameter(refusal, param="RejectPendingReservations")
    if name is not None:
        _unique_name(ctx, "workers", workspace_sid, name, but=sid)
    changes: dict[str, Any] = {
        "version": current["version"] + 1,
        "date_updated": max(ctx.now, current["date_updated"]),
    }
    if name is not None:
        changes["friendly_name"] = name
    if text is not None:
        changes["attributes"] = text
    _update(ctx, sid, changes)
    if text is not None or name is not None:
        updated = _require_worker(ctx, workspace_sid, sid)
        refresh_membership(ctx, updated)
        if text is not None:
            ctx.record("worker.attributes.update", workspace_sid=workspace_sid, worker=updated)
    if target is not None and target["sid"] != current["activity_sid"]:
        set_activity(ctx, sid, target["sid"], reject_pending=reject_pending, bump=False)
    elif reject_pending:
        _reject_pending(ctx, sid)
    assignment.offer_worker(ctx, sid)
    return _require_worker(ctx, workspace_sid, sid)


def set_activity(
    ctx: Context,
    worker_sid: str,
    activity_sid: str,
    *,
    reject_pending: bool = False,
    bump: bool = True,
) -> dict[str, Any] | None:
    """Move a worker to an activity (a request, a reservation's timeout or reject, the
    simulator): ``available`` follows the activity; ``bump`` adds 1 to its version."""
    current = assignment._worker(ctx, worker_sid)
    if current is None:
        return None
    ws = current["workspace_sid"]
    target = activity(ctx, ws, activity_sid)
    if target is None or target["sid"] == current["activity_sid"]:
        return current
    becoming_available = bool(target["available"]) and not current["available"]
    changes: dict[str, Any] = {
        "activity_sid": target["sid"],
        "available": target["available"],
        "date_status_changed": ctx.now,
        "date_updated": max(ctx.now, current["date_updated"]),
    }
    if bump:
        changes["version"] = current["version"] + 1
    if becoming_available:
        changes["idle_since"] = max(ctx.now, current["idle_since"])
    _update(ctx, worker_sid, changes)
    ctx.conn.execute(
        "UPDATE worker_channels SET worker_available = ? WHERE worker_sid = ?",
        (target["available"], worker_sid),
    )
    ctx.conn.execute(
        "UPDATE activity_spans SET ended = ? WHERE worker_sid = ? AND ended IS NULL",
        (ctx.now, worker_sid),
    )
    _open_span(ctx, current, target["sid"])
    updated = assignment._worker(ctx, worker_sid)
    assert updated is not None
    refresh_membership(ctx, updated)
    previous_ms = max(0, ctx.now - current["date_status_changed"]) // 1000
    ctx.record(
        "worker.activity.update",
        workspace_sid=ws,
        worker=updated,
        previous_activity_sid=current["activity_sid"],
        previous_activity_name=current["activity_name"],
        time_in_previous_activity_ms=previous_ms,
    )
    if reject_pending and not target["available"]:
        _reject_pending(ctx, worker_sid)
    if target["available"]:
        assignment.offer_worker(ctx, worker_sid)
    return updated


def _reject_pending(ctx: Context, worker_sid: str) -> None:
    for row in ctx.conn.execute(
        "SELECT sid FROM reservations WHERE worker_sid = ? AND reservation_status = 'pending' "
        "ORDER BY date_created, rowid",
        (worker_sid,),
    ).fetchall():
        assignment.reject(ctx, row["sid"])


def delete_worker(
    ctx: Context, workspace_sid: str, sid: str, *, if_match: str | None = None
) -> None:
    from .engine import check_if_match

    current = _require_worker(ctx, workspace_sid, sid)
    check_if_match(if_match, current, "worker")
    holding = ctx.conn.execute(
        "SELECT COUNT(*) FROM reservations WHERE worker_sid = ? "
        "AND reservation_status IN ('accepted', 'wrapping')",
        (sid,),
    ).fetchone()[0]
    if holding:
        raise bad_request(
            f"Cannot delete worker {sid} in workspace {workspace_sid}: it has {holding} "
            "assigned tasks. Complete them first."
        )
    # Out of every queue first, so the tasks it held are offered to others.
    ctx.conn.execute("DELETE FROM queue_members WHERE worker_sid = ?", (sid,))
    ctx.conn.execute("UPDATE worker_channels SET worker_available = 0 WHERE worker_sid = ?", (sid,))
    for row in ctx.conn.execute(
        "SELECT sid FROM reservations WHERE worker_sid = ? AND reservation_status = 'pending'",
        (sid,),
    ).fetchall():
        assignment.cancel_reservation(ctx, row["sid"])
    ctx.conn.execute(
        "UPDATE activity_spans SET ended = ? WHERE worker_sid = ? AND ended IS NULL",
        (ctx.now, sid),
    )
    ctx.conn.execute("DELETE FROM worker_channels WHERE worker_sid = ?", (sid,))
    ctx.conn.execute("DELETE FROM workers WHERE sid = ?", (sid,))
    ctx.record("worker.deleted", workspace_sid=workspace_sid, worker=current)


def refresh_membership(ctx: Context, current: Mapping[str, Any]) -> None:
    """Evaluate every queue's ``target_workers`` for this worker again."""
    view = assignment.view_of(ctx, current)
    queues = ctx.conn.execute(
        "SELECT sid, target_workers FROM task_queues WHERE workspace_sid = ?",
        (current["workspace_sid"],),
    ).fetchall()
    ctx.conn.execute("DELETE FROM queue_members WHERE worker_sid = ?", (current["sid"],))
    ctx.conn.executemany(
        "INSERT INTO queue_members (task_queue_sid, worker_sid) VALUES (?, ?)",
        [
            (queue["sid"], current["sid"])
            for queue in queues
            if routing.queue_accepts(queue["target_workers"], view)
        ],
    )


def refresh_queue(ctx: Context, queue_sid: str) -> None:
    """Evaluate one queue's ``target_workers`` for every worker of its workspace again (a
    queue created or changed), and offer its waiting tasks to its available workers."""
    queue = ctx.conn.execute("SELECT * FROM task_queues WHERE sid = ?", (queue_sid,)).fetchone()
    if queue is None:
        return
    ctx.conn.execute("DELETE FROM queue_members WHERE task_queue_sid = ?", (queue_sid,))
    members = []
    for row in ctx.conn.execute(
        "SELECT w.*, a.friendly_name AS activity_name FROM workers w "
        "LEFT JOIN activities a ON a.sid = w.activity_sid WHERE w.workspace_sid = ?",
        (queue["workspace_sid"],),
    ).fetchall():
        if routing.queue_accepts(queue["target_workers"], assignment.view_of(ctx, dict(row))):
            members.append((queue_sid, row["sid"]))
    ctx.conn.executemany(
        "INSERT INTO queue_members (task_queue_sid, worker_sid) VALUES (?, ?)", members
    )
    for _, worker_sid in members:
        assignment.offer_worker(ctx, worker_sid)


# --- Worker channels ----------------------------------------------------------------------------


def channel(ctx: Context, workspace_sid: str, worker_sid: str, reference: str) -> dict | None:
    """A worker's channel by its WC SID, its TaskChannel's SID or unique name (DECISION:
    the path's Sid has no pattern in the spec; all three are accepted)."""
    sql = (
        "SELECT wc.*, tc.unique_name AS task_channel_unique_name FROM worker_channels wc "
        "JOIN task_channels tc ON tc.sid = wc.task_channel_sid "
        "WHERE wc.worker_sid = ? AND wc.workspace_sid = ? AND "
    )
    if rules.is_sid(reference, "WC"):
        sql += "wc.sid = ?"
    elif rules.is_sid(reference, "TC"):
        sql += "wc.task_channel_sid = ?"
    else:
        sql += "tc.unique_name = ?"
    row = ctx.conn.execute(sql, (worker_sid, workspace_sid, reference)).fetchone()
    return dict(row) if row is not None else None


def update_channel(
    ctx: Context,
    workspace_sid: str,
    worker_sid: str,
    reference: str,
    *,
    capacity: int | None = None,
    available: bool | None = None,
) -> dict[str, Any]:
    """UpdateWorkerChannel: ``Capacity`` and ``Available``."""
    current = _require_worker(ctx, workspace_sid, worker_sid)
    found = channel(ctx, workspace_sid, worker_sid, reference)
    if found is None:
        raise not_found(f"{worker_path(workspace_sid, worker_sid)}/Channels/{reference}")
    changed_capacity = capacity is not None and capacity != found["configured_capacity"]
    changed_available = available is not None and int(available) != found["available"]
    new_capacity = capacity if capacity is not None else found["configured_capacity"]
    new_available = int(available) if available is not None else found["available"]
    ctx.conn.execute(
        "UPDATE worker_channels SET configured_capacity = ?, available = ?, date_updated = ? "
        "WHERE sid = ?",
        (new_capacity, new_available, max(ctx.now, found["date_updated"]), found["sid"]),
    )
    updated = channel(ctx, workspace_sid, worker_sid, found["sid"])
    assert updated is not None
    refresh_membership(ctx, current)
    extra = {
        "channel": updated,
        "previous_capacity": found["configured_capacity"],
    }
    if changed_capacity:
        ctx.record("worker.capacity.update", workspace_sid=workspace_sid, worker=current, **extra)
    if changed_available:
        ctx.record(
            "worker.channel.availability.update",
            workspace_sid=workspace_sid,
            worker=current,
            **extra,
        )
    if changed_capacity or changed_available:
        assignment.offer_worker(ctx, worker_sid)
    return updated


# --- Rows ---------------------------------------------------------------------------------------


def _insert(ctx: Context, table: str, row: Mapping[str, Any]) -> None:
    ctx.conn.execute(
        f"INSERT INTO {table} ({', '.join(row)}) "  # noqa: S608 - our own names
        f"VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )


def _update(ctx: Context, sid: str, changes: Mapping[str, Any]) -> None:
    assignments = ", ".join(f"{column} = ?" for column in changes)
    ctx.conn.execute(
        f"UPDATE workers SET {assignments} WHERE sid = ?",  # noqa: S608 - our own names
        [*changes.values(), sid],
    )


def _open_span(ctx: Context, current: Mapping[str, Any], activity_sid: str) -> None:
    ctx.conn.execute(
        "INSERT INTO activity_spans (workspace_sid, worker_sid, activity_sid, started) "
        "VALUES (?, ?, ?, ?)",
        (current["workspace_sid"], current["sid"], activity_sid, ctx.now),
    )
