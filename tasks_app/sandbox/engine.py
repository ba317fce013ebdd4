"""TaskRouter's Task operations (create, update, delete) with TaskRouter's rules.

The WSGI app parses HTTP and renders JSON; this module decides what a request does to the
data. Each write is one ``BEGIN IMMEDIATE`` transaction, so the If-Match check and the write
are atomic even with several processes writing the same file.

Order of checks on a write (DECISION: TaskRouter does not document it): the shape of every
parameter first (400), then the task's existence (404), then If-Match (412), then the task's
state (400). So a stale ETag with a malformed value gets the 400, and a well-formed change
on a stale ETag gets the 412.

DECISIONS where Twilio documents nothing (docs/taskrouter.md has what it does document):
    * Clients may only request ``canceled``, ``wrapping`` and ``completed``
      (``rules.transition_refusal``); asking for ``pending``, ``reserved`` or ``assigned`` is
      refused with 400/20001 and ``rules.transition_refusal_message``.
    * Updating anything else on a ``canceled`` or ``completed`` task (before TaskRouter
      purges it) is refused: 400/20001 "Cannot update task WT... in workspace WS... for account
      AC... because it is canceled." A status change on it gets the transition refusal instead.
    * ``Reason`` is stored as given, with or without a status change; a missing Reason on
      cancel/complete is accepted (the dashboard insists on one; TaskRouter's enforcement is
      unknown).
    * ``Attributes`` together with ``AssignmentStatus`` wrapping/completed is refused (400):
      [TaskDoc] says that takes two requests.
    * A pending task whose attributes change is routed again through its workflow: it may
      move queue (``task_queue_entered_date`` becomes now) and take its target's priority; its
      age is unchanged [TaskDoc]. Not when the same request cancels it.
    * Priority on update: when the workflow target the task stands at (after any
      re-routing in the same request) sets a priority, that priority is stored instead of
      the one asked for ([OAI]: "a Workflow Target priority wins").
    * The answer to a create or an update shows the task after TaskRouter's own reaction
      in the same request: a new task some worker can take is already ``reserved`` (at
      version 1). TaskRouter reacts moments later; the sandbox in the same transaction.
    * Every successful update adds 1 to the version and sets ``date_updated``, even when no
      value changes.
    * If-Match: a bare (``3``), quoted (``"3"``) or weak (``W/"3"``) ETag, a comma-separated
      list of them, or ``*``. A mismatch is 412/20412 with a message naming both versions.
    * Create: ``TaskQueueSid`` (or a ``WQ`` ``RoutingTarget``) puts the task in that queue
      without evaluating the workflow's filters; ``IgnoreCapacity`` is true for
      ``true``/``1``/``yes``, and defaults to true only when ``RoutingTarget`` is a Worker SID
      (false otherwise, as the spec's examples show). A ``WorkflowSid``, ``TaskQueueSid`` or
      ``TaskChannel`` that is not one of the workspace's is a 400, not a 404 (the path exists).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tasks_app.taskrouter import routing, rules
from tasks_app.taskrouter.errors import InvalidParameter

from . import assignment, events, store
from .ledger import Context
from .problems import ApiError, bad_request, not_found, precondition_failed

__all__ = ["ApiError", "create_task", "delete_task", "etag_matches", "update_task"]

US = 1_000_000


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def task_path(workspace_sid: str, task_sid: str) -> str:
    return f"/Workspaces/{workspace_sid}/Tasks/{task_sid}"


def etag_matches(if_match: str, version: int) -> bool:
    for part in if_match.split(","):
        tag = part.strip()
        if tag == "*":
            return True
        if tag[:2] in ("W/", "w/"):
            tag = tag[2:].strip()
        if tag.strip('"').strip() == str(version):
            return True
    return False


def check_if_match(if_match: str | None, row: Mapping[str, Any], what: str) -> None:
    """412 unless ``If-Match`` (when sent) names the row's current version."""
    if if_match is not None and not etag_matches(if_match, row["version"]):
        raise precondition_failed(if_match, row["version"], f"{what} {row['sid']}")


def _check_if_match(if_match: str | None, row: sqlite3.Row) -> None:
    check_if_match(if_match, row, "task")


def _present(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name)


def _channel(conn: sqlite3.Connection, workspace_sid: str, reference: str) -> sqlite3.Row:
    channel = store.fetch_task_channel(conn, workspace_sid, reference.strip())
    if channel is None:
        raise InvalidParameter(
            f"TaskChannel {reference.strip()[:64]!r} is not a TaskChannel SID or unique name "
            f"in workspace {workspace_sid}.",
            param="TaskChannel",
        )
    return channel


def create_task(
    task_store: store.SandboxStore,
    *,
    workspace_sid: str,
    form: Mapping[str, str],
    now: datetime,
    actor: events.Actor,
    sids: Callable[[str], str] = new_sid,
) -> sqlite3.Row:
    """CreateTask: a pending task at version 0, routed through its workflow (and offered to
    a worker). ``sids`` makes new SIDs (the simulator's are reproducible)."""
    timeout = rules.DEFAULT_TIMEOUT
    if (value := _present(form, "Timeout")) is not None:
        timeout = rules.validate_timeout(value)
    priority = None
    if (value := _present(form, "Priority")) is not None:
        priority = rules.validate_priority(value)
    attributes_text = _present(form, "Attributes")
    if attributes_text is None:
        attributes_text = "{}"
    attributes = rules.parse_attributes(attributes_text)
    virtual_start = None
    if (value := _present(form, "VirtualStartTime")) is not None:
        virtual_start = store.to_us(rules.validate_virtual_start_time(value, now=now))
    workflow_sid = None
    if (value := _present(form, "WorkflowSid")) is not None:
        workflow_sid = rules.validate_sid(value, "WW", param="WorkflowSid")
    queue_sid = None
    if (value := _present(form, "TaskQueueSid")) is not None:
        queue_sid = rules.validate_sid(value, "WQ", param="TaskQueueSid")
    routing_target = (_present(form, "RoutingTarget") or "").strip() or None
    ignore_capacity_text = _present(form, "IgnoreCapacity")
    if ignore_capacity_text is not None:
        ignore_capacity = ignore_capacity_text.strip().lower() in {"true", "1", "yes"}
    else:
        ignore_capacity = rules.is_sid(routing_target, "WK")
    channel_reference = _present(form, "TaskChannel") or "default"

    created = store.to_us(now)
    sid = sids("WT")
    with task_store.write() as conn:
        channel = _channel(conn, workspace_sid, channel_reference)
        workflows = store.fetch_workflows(conn, workspace_sid)
        if workflow_sid is not None:
            workflow = next((w for w in workflows if w["sid"] == workflow_sid), None)
            if workflow is None:
                raise InvalidParameter(
                    f"WorkflowSid {workflow_sid} is not a Workflow in workspace {workspace_sid}.",
                    param="WorkflowSid",
                )
        elif len(workflows) == 1:
            workflow = workflows[0]
        else:
            raise InvalidParameter(
                f"WorkflowSid is required: workspace {workspace_sid} has {len(workflows)} "
                "workflows.",
                param="WorkflowSid",
            )
        if queue_sid is None and rules.is_sid(routing_target, "WQ"):
            queue_sid = routing_target
        placement: dict[str, Any] = {}  # the workflow's routing; empty when the queue was given
        if queue_sid is not None:
            if store.fetch_task_queue(conn, workspace_sid, queue_sid) is None:
                raise InvalidParameter(
                    f"TaskQueueSid {queue_sid} is not a TaskQueue in workspace {workspace_sid}.",
                    param="TaskQueueSid",
                )
        else:
            placement = assignment.entry_changes(workflow["configuration"], attributes, now=created)
            queue_sid = placement["task_queue_sid"]
        if placement.get("priority") is not None:
            # "unless it matches a Workflow Target with a Priority"
            priority = placement["priority"]
        row = {
            "sid": sid,
            "workspace_sid": workspace_sid,
            "assignment_status": rules.PENDING,
            "attributes": attributes_text,
            "addons": "{}",
            "has_addons": 0,
            "date_created": created,
            "date_updated": created,
            "task_queue_entered_date": created if queue_sid else None,
            "virtual_start_time": virtual_start if virtual_start is not None else created,
            "priority": priority if priority is not None else 0,
            "reason": None,
            "task_queue_sid": queue_sid,
            "task_channel_sid": channel["sid"],
            "timeout": timeout,
            "workflow_sid": workflow["sid"],
            "ignore_capacity": int(ignore_capacity),
            "routing_target": routing_target,
            "version": 0,
            "expires_at": created + timeout * US,
            "routing_filter": placement.get("routing_filter"),
            "routing_step": placement.get("routing_step"),
            "filter_entered": placement.get("filter_entered"),
            "target_deadline": placement.get("target_deadline"),
        }
        store.insert_tasks(conn, [row])
        ctx = Context(conn, created, sids=sids, actor=actor)
        route = assignment.route_of(ctx, row) if placement else None
        events.task_created(conn, row, actor=actor, now=created, route=route)
        assignment.task_created(ctx, sid)
        return store.fetch_task(conn, workspace_sid, sid)


def update_task(
    task_store: store.SandboxStore,
    *,
    account_sid: str,
    workspace_sid: str,
    task_sid: str,
    form: Mapping[str, str],
    if_match: str | None,
    now: datetime,
    actor: events.Actor,
) -> sqlite3.Row:
    """UpdateTask: attributes, assignment status (+ reason), priority, channel, start time."""
    attributes_text = _present(form, "Attributes")
    attributes = rules.parse_attributes(attributes_text) if attributes_text is not None else None
    status = None
    if (value := _present(form, "AssignmentStatus")) is not None:
        status = rules.validate_status(value)
    if refusal := rules.combined_update_refusal(status, with_attributes=attributes is not None):
        raise InvalidParameter(refusal, param="Attributes")
    priority = None
    if (value := _present(form, "Priority")) is not None:
        priority = rules.validate_priority(value)
    virtual_start = None
    if (value := _present(form, "VirtualStartTime")) is not None:
        virtual_start = store.to_us(rules.validate_virtual_start_time(value, now=now))
    channel_reference = _present(form, "TaskChannel")
    reason = _present(form, "Reason")

    updated = store.to_us(now)
    with task_store.write() as conn:
        row = store.fetch_task(conn, workspace_sid, task_sid)
        if row is None:
            raise not_found(task_path(workspace_sid, task_sid))
        _check_if_match(if_match, row)
        current = row["assignment_status"]
        if status is not None:
            refusal = rules.transition_refusal_message(
                task_sid=task_sid,
                workspace_sid=workspace_sid,
                account_sid=account_sid,
                current=current,
                target=status,
            )
            if refusal:
                raise bad_request(refusal)
        elif refusal := rules.update_refusal_message(
            task_sid=task_sid, workspace_sid=workspace_sid, account_sid=account_sid, current=current
        ):
            raise bad_request(refusal)
        ctx = Context(conn, updated, actor=actor)
        changes: dict[str, Any] = {}
        if channel_reference is not None:
            changes["task_channel_sid"] = _channel(conn, workspace_sid, channel_reference)["sid"]
        if virtual_start is not None:
            changes["virtual_start_time"] = virtual_start
        if attributes is not None:
            changes["attributes"] = attributes_text
            if routing.reroutes_on_attribute_change(current) and status is None:
                # Re-driven through the workflow [TaskDoc]; its age stays the same.
                changes.update(assignment.reroute_changes(ctx, dict(row), attributes))
        if priority is not None:
            target = changes.get("priority", assignment.target_priority(ctx, row))
            changes["priority"] = routing.priority_after(target, priority)
        if status is not None:
            changes["assignment_status"] = status
        if reason is not None:
            changes["reason"] = reason
        changes["version"] = row["version"] + 1
        changes["date_updated"] = max(updated, row["date_updated"])
        store.update_task(conn, task_sid, changes)
        after = store.fetch_task(conn, workspace_sid, task_sid)
        events.task_updated(
            conn, row, after, actor=actor, now=updated, route=assignment.route_of(ctx, after)
        )
        assignment.task_updated(
            ctx,
            dict(row),
            task_sid,
            attributes_changed=attributes is not None,
            status=status,
        )
        return store.fetch_task(conn, workspace_sid, task_sid)


def delete_task(
    task_store: store.SandboxStore,
    *,
    workspace_sid: str,
    task_sid: str,
    if_match: str | None,
    now: datetime,
    actor: events.Actor,
) -> None:
    """DeleteTask, honouring If-Match."""
    deleted = store.to_us(now)
    with task_store.write() as conn:
        row = store.fetch_task(conn, workspace_sid, task_sid)
        if row is None:
            raise not_found(task_path(workspace_sid, task_sid))
        _check_if_match(if_match, row)
        assignment.task_deleted(Context(conn, deleted, actor=actor), dict(row), by_api=True)
        store.delete_task(conn, row, deleted)
        events.task_deleted(conn, row, actor=actor, now=deleted)
