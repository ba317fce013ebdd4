"""Undo and revert of Taskdeck's own changes to a task's priority and attributes.

A done write of Taskdeck that changed only the priority and/or the attributes (a save on
the task page or in the table, one task of a bulk priority job, an earlier undo) can be
reverted: the values from before (its audit record's "before") are written back through
the one edit path (`editing.write`), by the person who asks (the actor, audited like any
write, its reason saying what it undoes), with If-Match on the version that write
produced (the record's ``version_after``). If anyone changed the task since, TaskRouter
refuses it (412) and the person sees the conflict and who changed it; nothing is
overwritten. A status change is never reverted: TaskRouter cannot reopen a closed task.

"Undo" is the same revert, offered for ``TASKDECK_UNDO_SECONDS`` (about a minute) right
after a person's own save or bulk job; "revert" is offered on every such change in the
timeline, on the same terms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from tasks_app import editing
from tasks_app.index.models import TaskEvent
from tasks_app.models import AuditRecord
from tasks_app.taskrouter import service as taskrouter

from . import who
from .story import Entry, bare_version

# What TaskRouter's update takes -> the snapshot field (tasks_app.editing) it changes.
REVERSIBLE = {"Priority": "priority", "Attributes": "attributes"}


def undo_window() -> timedelta:
    return timedelta(seconds=settings.TASKDECK_UNDO_SECONDS)


@dataclass(frozen=True)
class Reversal:
    """How to revert one write: the values it replaced, and those it left."""

    record: AuditRecord
    values: dict[str, Any]  # snapshot field -> the value before the write
    left: dict[str, Any]  # snapshot field -> the value the write left


def reversal(record: AuditRecord | None) -> Reversal | None:
    """The reversal of a write, or None when it cannot be reverted (not Taskdeck's done
    update of priority/attributes alone, or what it replaced is not known)."""
    if record is None or record.action != "update" or record.outcome != AuditRecord.Outcome.DONE:
        return None
    sent = dict(record.after or {})
    if not record.version_after or not sent or not set(sent) <= set(REVERSIBLE):
        return None
    before = record.before if isinstance(record.before, dict) else {}
    values: dict[str, Any] = {}
    left: dict[str, Any] = {}
    for name, value in sent.items():
        key = REVERSIBLE[name]
        old = before.get(key)
        if key == "priority":
            if old is None:
                return None
            values[key], left[key] = int(old), int(value)
        else:
            if not isinstance(old, dict) or before.get("attributes_unreadable"):
                return None
            try:
                values[key], left[key] = old, json.loads(value)
            except ValueError:
                return None
    if values == left:
        return None  # the write changed nothing: nothing to undo
    return Reversal(record=record, values=values, left=left)


@dataclass
class Result:
    kind: str  # done, conflict, failed
    task: taskrouter.Task | None = None
    conflict: editing.Conflict | None = None
    changed_by: list[Entry] = field(default_factory=list)
    message: str = ""

    @property
    def http_status(self) -> int:
        return {"done": 200, "conflict": 409}.get(self.kind, 502)


def _left_as_snapshot(reversal: Reversal, record: AuditRecord) -> dict[str, Any]:
    """The task as the write left it, as far as Taskdeck knows: the index's event of that
    version (every field events carry), else what the person saw, with the write applied."""
    event = (
        TaskEvent.objects.filter(
            task_sid=record.task_sid, data__task_version=bare_version(record.version_after)
        )
        .order_by("date_ms", "pk")
        .first()
    )
    if event is not None:
        data = event.data
        try:
            attributes = json.loads(str(data.get("task_attributes") or "{}"))
        except ValueError:
            attributes = {}
        return {
            "assignment_status": str(data.get("task_assignment_status") or ""),
            "priority": int(str(data.get("task_priority") or 0)),
            "attributes": attributes,
            **reversal.left,
        }
    before = dict(record.before) if isinstance(record.before, dict) else {}
    return {**before, **reversal.left}


def describe(reversal: Reversal) -> str:
    """What the revert writes, in words."""
    parts = []
    if "priority" in reversal.values:
        parts.append(f"priority back to {reversal.values['priority']}")
    if "attributes" in reversal.values:
        parts.append("attributes back to what they were")
    return " and ".join(parts)


def revert(record: AuditRecord, *, actor: str) -> Result:
    """Write back what ``record``'s write replaced, at the version it produced."""
    found = reversal(record)
    if found is None:
        return Result(
            "failed",
            message="This change cannot be undone: only Taskdeck's own "
            "changes of priority or attributes can.",
        )
    left = _left_as_snapshot(found, record)
    editor = editing.Editor(
        workspace_sid=record.workspace_sid,
        task_sid=record.task_sid,
        etag=record.version_after,
        seen=left,
        form="undo",
        owner=actor,
    )
    when = timezone.localtime(record.started).strftime("%Y-%m-%d %H:%M:%S")
    why = f"Undo of {record.actor}'s change of {when} ({describe(found)})"
    try:
        outcome = editing.write(editor, editing.Change(**found.values), actor=actor, why=why)
    except editing.EditConflict as caught:
        now = caught.conflict.now
        # What the person expected (the write's result) against what is: other fields
        # the index does not know are taken as they are now, so only real changes show.
        expected = {**editing.snapshot(now), **left}
        conflict = editing.compare(expected, {**found.values}, now)
        changed_by = who.changes_since(
            workspace_sid=record.workspace_sid,
            task_sid=record.task_sid,
            seen=record.version_after,
            now=now.etag or "",
        )
        conflict = replace(conflict, seen_version=record.version_after, changed_by=changed_by)
        return Result("conflict", task=now, conflict=conflict, changed_by=changed_by)
    except editing.EditFailed as failed:
        return Result("failed", message=failed.error.user_message)
    return Result("done", task=outcome.task, message=f"Undone: {describe(found)}.")


def latest_undoable(
    records: Iterable[AuditRecord], actor: str, now: datetime | None = None
) -> AuditRecord | None:
    """Of a task's records, the person's latest change completed within the undo window,
    if it can be reverted: the one "Undo" undoes (None when there is none)."""
    since = (now or timezone.now()) - undo_window()
    theirs = [
        r
        for r in records
        if r.actor == actor
        and r.action == "update"
        and r.outcome == AuditRecord.Outcome.DONE
        and r.completed is not None
        and r.completed >= since
    ]
    latest = max(theirs, key=lambda r: (r.completed, r.pk), default=None)
    return latest if reversal(latest) is not None else None
