"""A task's timeline: TaskRouter's events and Taskdeck's audit trail, in a supervisor's words.

Events come from the index (`tasks_app.index.models.TaskEvent`), which keeps them after
TaskRouter deletes the task. The events of one change (a cancel is ``task.canceled``; a
re-route adds ``workflow.target-matched`` and ``task-queue.moved``; all carry the version
the change produced) make one entry. An entry caused by a REST write whose version is the
``version_after`` of one of Taskdeck's done audit records was Taskdeck's write: it names the
Taskdeck person instead of "an API client". Audit records no event explains (a conflict, a
refusal, a write whose events the follower has not read yet) are entries of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from tasks_app.index.models import TaskEvent
from tasks_app.models import AuditRecord
from tasks_app.titles import short_sid

Outcome = AuditRecord.Outcome

_VERSION = re.compile(r'^(?:W/)?"?([^"]*)"?$')


def bare_version(etag: str | None) -> str:
    """A task version as events carry it: TaskRouter's ETag without weak mark or quotes."""
    found = _VERSION.match((etag or "").strip())
    return found.group(1) if found else ""


def version_number(etag: str | None) -> int | None:
    """The version as the counter it is (0 on create, one more per change), if it is one."""
    text = bare_version(etag)
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class Who:
    """Who caused something: a Taskdeck person, a worker, an API client or TaskRouter."""

    kind: str  # person, worker, api, taskrouter, other
    name: str
    detail: str = ""  # the account or worker SID, shown beside the name

    @property
    def text(self) -> str:
        """In a sentence: "alice@example.com in Taskdeck", "an API client (account AC…6f78)"
        (the whole SID, 34 characters, took three lines of a timeline; pages give it as
        the name's title)."""
        if self.kind == "person":
            return f"{self.name} in Taskdeck"
        if self.kind == "api":
            return (
                f"an API client (account {short_sid(self.detail)})"
                if self.detail
                else "an API client"
            )
        return self.name


TASKROUTER = Who("taskrouter", "TaskRouter")


@dataclass
class Entry:
    """One line of the timeline: one change (its events), or one audit record alone."""

    at: datetime
    who: Who
    lines: list[str] = field(default_factory=list)
    version: str = ""  # the version the change produced ("" when unknown)
    record: AuditRecord | None = None  # Taskdeck's write behind it, if any
    # For an audit record no event explains: its outcome, in words ("" for events).
    outcome: str = ""
    event_types: list[str] = field(default_factory=list)
    # Whether the change may be reverted (tasks_app.timeline.undo decides; set by pages).
    revertible: bool = False

    @property
    def text(self) -> str:
        return "; ".join(self.lines)

    @property
    def ago(self) -> str:
        return ago(self.at, timezone.now())

    @property
    def by_taskdeck(self) -> bool:
        return self.record is not None


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _attributes(text: Any) -> dict:
    try:
        value = json.loads(str(text or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _quoted(text: str) -> str:
    return f"“{text}”"


def _updated(data: Mapping[str, Any], previous: Mapping[str, Any] | None) -> list[str]:
    """A task.updated in words: what differs from the task as the event before left it."""
    if previous is None:
        return ["Updated"]
    lines = []
    old, new = previous.get("task_priority"), data.get("task_priority")
    if new not in (None, "") and old != new:
        lines.append(f"Priority changed from {old} to {new}" if old else f"Priority set to {new}")
    old, new = previous.get("task_assignment_status"), data.get("task_assignment_status")
    if new and old != new:
        lines.append(f"Status changed from {old} to {new}" if old else f"Status set to {new}")
    if "task_attributes" in data:
        keys = _changed_keys(
            _attributes(previous.get("task_attributes")), _attributes(data["task_attributes"])
        )
        if keys:
            lines.append("Attributes changed: " + ", ".join(keys))
    old, new = previous.get("task_channel_unique_name"), data.get("task_channel_unique_name")
    if new and old and old != new:
        lines.append(f"Channel changed from {old} to {new}")
    return lines or ["Updated"]


def _queue(data: Mapping[str, Any]) -> str:
    return str(data.get("task_queue_name") or data.get("task_queue_sid") or "")


def _worker(data: Mapping[str, Any]) -> str:
    return str(data.get("worker_name") or data.get("worker_sid") or "a worker")


def describe(event: TaskEvent, previous: Mapping[str, Any] | None) -> list[str]:
    """What one event says, in words a supervisor reads ([] for an event not worth a line)."""
    data, kind = event.data or {}, event.event_type
    if kind == "task.created":
        where = f" in queue {_queue(data)}" if _queue(data) else ""
        return [f"Created{where}, priority {data.get('task_priority', '?')}"]
    if kind == "task.updated":
        return _updated(data, previous)
    if kind == "task.canceled":
        reason = data.get("task_canceled_reason") or event.description
        return [f"Canceled: {_quoted(reason)}" if reason else "Canceled"]
    if kind == "task.completed":
        reason = data.get("task_completed_reason")
        return [f"Completed: {_quoted(reason)}" if reason else "Completed"]
    if kind == "task.wrapup":
        return ["Moved to wrap-up"]
    if kind == "task.deleted":
        return ["Deleted"]
    if kind == "task.system-deleted":
        return ["Deleted by TaskRouter (it removes closed tasks a few minutes after they close)"]
    if kind == "task-queue.entered":
        return [f"Entered queue {_queue(data)}"]
    if kind == "task-queue.moved":
        before = data.get("previous_task_queue_name") or data.get("previous_task_queue_sid")
        return [f"Moved from queue {before} to queue {_queue(data)}"]
    if kind == "task-queue.timeout":
        return [f"Timed out of queue {_queue(data)}"]
    if kind == "workflow.entered":
        return [f"Entered workflow {data.get('workflow_name') or data.get('workflow_sid', '')}"]
    if kind == "workflow.target-matched":
        name = data.get("workflow_filter_name")
        return [f"Workflow filter {_quoted(name)} matched"] if name else []
    if kind == "workflow.timeout":
        return ["Timed out of its workflow"]
    if kind == "workflow.skipped":
        return ["Skipped out of its workflow"]
    reservation_words = {
        "reservation.created": "Reserved for {w}",
        "reservation.accepted": "Accepted by {w}",
        "reservation.rejected": "Rejected by {w}",
        "reservation.timeout": "Reservation for {w} timed out",
        "reservation.canceled": "Reservation for {w} canceled",
        "reservation.rescinded": "Reservation for {w} rescinded",
        "reservation.wrapup": "{w} wrapping up",
        "reservation.completed": "{w} completed it",
        "reservation.failed": "Reservation for {w} failed",
    }
    if kind in reservation_words:
        return [reservation_words[kind].format(w=_worker(data))]
    return [event.description or kind]


def _who(event: TaskEvent, record: AuditRecord | None, workers: Mapping[str, str]) -> Who:
    if record is not None:
        return Who("person", record.actor)
    if event.actor_type == "account":
        return Who("api", "an API client", event.actor_sid)
    if event.actor_type == "worker":
        name = workers.get(event.actor_sid) or str(event.data.get("worker_name") or "")
        return Who("worker", name or event.actor_sid, event.actor_sid)
    if event.actor_type == "workspace" or event.source == "twilio":
        return TASKROUTER
    return Who("other", event.actor_type or "someone", event.actor_sid)


def write_words(record: AuditRecord, *, with_reason: bool = True) -> list[str]:
    """What a Taskdeck write asked for, in words: for a record no event explains, and the
    audit trail's Action column (which shows the reason in a column of its own)."""
    sent = dict(record.after or {})
    if record.action == "create":
        return ["Created through Taskdeck"]
    if record.action == "delete":
        return ["Task deleted"]
    lines = []
    status = sent.get("AssignmentStatus")
    if status:
        verb = {"canceled": "Cancel", "completed": "Complete", "wrapping": "Wrap up"}
        text = verb.get(status, f"Set status {status}")
        reason = sent.get("Reason") if with_reason else None
        lines.append(f"{text}: {_quoted(reason)}" if reason else text)
    if "Priority" in sent:
        lines.append(f"Set priority to {sent['Priority']}")
    if "Attributes" in sent:
        before = (record.before or {}).get("attributes") if record.before else None
        keys = _changed_keys(before or {}, _attributes(sent["Attributes"])) if before else []
        lines.append("Change attributes" + (": " + ", ".join(keys) if keys else ""))
    if "TaskChannel" in sent:
        lines.append(f"Set channel to {sent['TaskChannel']}")
    if "VirtualStartTime" in sent:
        lines.append(f"Set virtual start time to {sent['VirtualStartTime']}")
    return lines or [record.action]


def _outcome_words(record: AuditRecord) -> str:
    if record.outcome == Outcome.DONE:
        return "done"
    if record.outcome == Outcome.CONFLICT:
        return "not written: the task had changed (conflict)"
    words = record.get_outcome_display().lower()
    return f"{words}: {record.message}" if record.message else words


def _worker_names(events: Iterable[TaskEvent]) -> dict[str, str]:
    names: dict[str, str] = {}
    for event in events:
        sid, name = event.data.get("worker_sid"), event.data.get("worker_name")
        if sid and name:
            names[str(sid)] = str(name)
    return names


def build(events: Sequence[TaskEvent], records: Sequence[AuditRecord]) -> list[Entry]:
    """The entries of a timeline, newest first, from its events (oldest first) and records."""
    done = {
        bare_version(r.version_after): r
        for r in sorted(records, key=lambda r: r.started)
        if r.outcome == Outcome.DONE and r.version_after and r.action != "delete"
    }
    deletes = [r for r in records if r.action == "delete" and r.outcome == Outcome.DONE]
    workers = _worker_names(events)
    explained: set[int] = set()
    entries: list[Entry] = []
    previous: Mapping[str, Any] | None = None
    current: Entry | None = None
    current_key: tuple | None = None
    for event in events:
        version = bare_version(str(event.data.get("task_version") or ""))
        record = done.get(version) if event.actor_type == "account" and version else None
        if record is None and event.event_type == "task.deleted" and deletes:
            record = deletes.pop(0)  # a delete's answer has no version; its event is the match
        key = (event.date_ms, event.actor_type, event.actor_sid, version)
        if current is None or key != current_key:
            current = Entry(at=_moment(event.date_ms), who=_who(event, record, workers))
            current.version, current.record = version, record
            entries.append(current)
            current_key = key
        if record is not None:
            explained.add(record.pk)
        current.lines += [line for line in describe(event, previous) if line not in current.lines]
        current.event_types.append(event.event_type)
        if "task_assignment_status" in event.data:
            previous = event.data
    entries = [e for e in entries if e.lines]
    for record in records:
        if record.pk in explained:
            continue
        entries.append(
            Entry(
                at=record.started,
                who=Who("person", record.actor),
                lines=write_words(record),
                version=bare_version(record.version_after),
                record=record,
                outcome=_outcome_words(record),
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def timeline_of(task_sid: str) -> list[Entry]:
    """The task's whole timeline, newest first (it outlives the task)."""
    events = list(TaskEvent.objects.filter(task_sid=task_sid).order_by("date_ms", "pk"))
    records = list(AuditRecord.objects.filter(task_sid=task_sid).exclude(action__in=_SETTINGS))
    return build(events, records)


# Audit actions that are changes to Taskdeck's own settings, not writes to a task.
_SETTINGS = ("view", "target")


def ago(moment: datetime, now: datetime) -> str:
    """ "40 s ago", "3 min ago", "2 h ago": how long ago, coarse on purpose."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"
