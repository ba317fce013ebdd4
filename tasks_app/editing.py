"""Editing tasks safely: stored versions, ordered writes and conflicts made visible.

Every change a person makes in Taskdeck goes through `apply_change` (or `delete`), which
sends the version stored in their `TaskEditor` as If-Match through the service module.
When TaskRouter answers 412, the change is not retried: the person gets a `Conflict` that
shows, field by field, what they saw, what they asked for and what the task is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest

from tasks_app import presentation
from tasks_app.models import TaskEditor, new_token
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter

# Labels of the fields a person can edit, in the order a conflict lists them.
FIELD_LABELS: dict[str, str] = {
    "assignment_status": "Status",
    "reason": "Reason",
    "priority": "Priority",
    "task_channel": "Channel",
    "virtual_start_time": "Virtual start time",
    "attributes": "Attributes",
}


def snapshot(task: taskrouter.Task) -> dict[str, Any]:
    """The editable fields of a task, as JSON-safe values (what an editor remembers)."""
    return {
        "assignment_status": task.assignment_status,
        "reason": task.reason or "",
        "priority": task.priority,
        "task_channel": task.task_channel_unique_name or "",
        "virtual_start_time": (
            rules.format_datetime(task.virtual_start_time) if task.virtual_start_time else ""
        ),
        "attributes": task.attributes if task.attributes is not None else {},
    }


def actor_of(request: HttpRequest) -> str:
    """Who acts: the signed-in person's identity."""
    return request.user.get_username() if request.user.is_authenticated else "anonymous"


def owner_of(request: HttpRequest) -> str:
    """Who an editor belongs to: this browser session (and, with SSO, its user)."""
    if request.session.session_key is None:
        request.session.save()
    user = request.user.get_username() if request.user.is_authenticated else ""
    return f"{user}|{request.session.session_key}"


def open_editor(
    request: HttpRequest, task: taskrouter.Task, *, fields: Sequence[str]
) -> TaskEditor:
    """Remember the version of ``task`` a form is being shown at, and its fields."""
    return open_editors(request, task, [fields])[0]


def open_editors(
    request: HttpRequest, task: taskrouter.Task, field_sets: Sequence[Sequence[str]]
) -> list[TaskEditor]:
    """One editor per form of a page showing ``task``, sharing the page (one insert)."""
    if task.etag is None:
        # Only a single-task read carries the version; list rows cannot open editors.
        raise ValueError("an editor needs a task fetched on its own (with its ETag)")
    TaskEditor.prune()
    owner, seen, page = owner_of(request), snapshot(task), new_token()
    editors = [
        TaskEditor(
            owner=owner,
            workspace_sid=task.workspace_sid,
            task_sid=task.sid,
            etag=task.etag,
            seen=seen,
            fields=list(fields),
            page=page,
        )
        for fields in field_sets
    ]
    return TaskEditor.objects.bulk_create(editors)


def find_editor(request: HttpRequest, token: str, *, task_sid: str) -> TaskEditor | None:
    if not token:
        return None
    return TaskEditor.objects.filter(
        token=token, owner=owner_of(request), task_sid=task_sid
    ).first()


def _advance(editor: TaskEditor, task: taskrouter.Task, written: Iterable[str]) -> None:
    """After the owner's own write: this editor stands at the new version, and so does
    every editor of the same page at the old version whose fields the write left alone."""
    previous, written = editor.etag, set(written)
    editor.etag = task.etag or editor.etag
    editor.seen = snapshot(task)
    editor.save(update_fields=["etag", "seen", "updated"])
    siblings = TaskEditor.objects.filter(
        page=editor.page, owner=editor.owner, task_sid=editor.task_sid, etag=previous
    ).exclude(pk=editor.pk)
    for sibling in siblings:
        if not written & set(sibling.fields):
            sibling.etag, sibling.seen = editor.etag, editor.seen
            sibling.save(update_fields=["etag", "seen", "updated"])


# --- What a person asks for ---------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    attributes: dict | None = None
    assignment_status: str | None = None
    reason: str | None = None
    priority: int | None = None
    task_channel: str | None = None
    virtual_start_time: datetime | None = None

    def asked(self) -> dict[str, Any]:
        """The requested fields, shaped like a snapshot."""
        values = {
            "assignment_status": self.assignment_status,
            "reason": self.reason,
            "priority": self.priority,
            "task_channel": self.task_channel,
            "virtual_start_time": (
                rules.format_datetime(self.virtual_start_time) if self.virtual_start_time else None
            ),
            "attributes": self.attributes,
        }
        return {k: v for k, v in values.items() if v is not None}

    def requests(self) -> list[dict[str, Any]]:
        """The UpdateTask calls this change needs, in order. TaskRouter takes attributes and
        a move to wrapping or completed only in separate requests; the attributes go first,
        while the task still accepts them."""
        fields = {
            "attributes": self.attributes,
            "assignment_status": self.assignment_status,
            "reason": self.reason,
            "priority": self.priority,
            "task_channel": self.task_channel,
            "virtual_start_time": self.virtual_start_time,
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        status = fields.get("assignment_status")
        if "attributes" in fields and status in rules.STATUS_NEEDS_OWN_REQUEST:
            second = {"assignment_status": status}
            if "reason" in fields:
                second["reason"] = fields.pop("reason")
            del fields["assignment_status"]
            return [fields, second]
        return [fields] if fields else []


# --- What comes back ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDiff:
    name: str
    label: str
    seen: Any
    asked: Any
    now: Any

    @property
    def changed_by_someone_else(self) -> bool:
        return self.seen != self.now

    @property
    def asked_text(self) -> str:
        return _text(self.asked)

    @property
    def seen_text(self) -> str:
        return _text(self.seen)

    @property
    def now_text(self) -> str:
        return _text(self.now)


@dataclass(frozen=True)
class Conflict:
    """A 412: the task moved on since the person's editor read it."""

    now: taskrouter.Task
    fields: tuple[FieldDiff, ...]
    attribute_keys: tuple[FieldDiff, ...]
    done: tuple[str, ...] = ()  # writes of this change that went through before the 412


@dataclass(frozen=True)
class Outcome:
    task: taskrouter.Task
    done: tuple[str, ...]
    notes: tuple[str, ...] = ()


class EditConflict(Exception):
    def __init__(self, conflict: Conflict) -> None:
        super().__init__("the task changed")
        self.conflict = conflict


class EditFailed(Exception):
    """TaskRouter refused or failed; ``done`` lists what was saved before it did."""

    def __init__(self, error: taskrouter.TaskRouterError, done: tuple[str, ...]) -> None:
        super().__init__(error.user_message)
        self.error = error
        self.done = done


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return presentation.pretty_json(value)
    if value == "":
        return "(empty)"
    return str(value)


def compare(
    seen: Mapping[str, Any],
    asked: Mapping[str, Any],
    now: taskrouter.Task,
    *,
    done: tuple[str, ...] = (),
) -> Conflict:
    """Field by field (and attribute key by key): what they saw, asked for, and what is."""
    current = snapshot(now)
    names = [n for n in FIELD_LABELS if n in asked or seen.get(n) != current.get(n)]
    fields = tuple(
        FieldDiff(n, FIELD_LABELS[n], seen.get(n), asked.get(n), current.get(n)) for n in names
    )
    keys: tuple[FieldDiff, ...] = ()
    if "attributes" in asked or seen.get("attributes") != current["attributes"]:
        before = seen.get("attributes") or {}
        wanted = asked.get("attributes", before)
        after = current["attributes"]
        every = sorted(set(before) | set(wanted) | set(after))
        keys = tuple(
            FieldDiff(k, k, before.get(k), wanted.get(k), after.get(k))
            for k in every
            if not (before.get(k) == wanted.get(k) == after.get(k))
        )
    return Conflict(now=now, fields=fields, attribute_keys=keys, done=done)


def attribute_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldDiff]:
    """Key-by-key preview of an attributes edit (``seen`` before, ``asked`` after)."""
    return [
        FieldDiff(k, k, before.get(k), after.get(k), None)
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k) or (k in before) != (k in after)
    ]


_STATUS_DONE = {
    rules.CANCELED: "Canceled the task",
    rules.WRAPPING: "Moved the task to wrapping",
    rules.COMPLETED: "Completed the task",
}


def _describe(request: Mapping[str, Any], task: taskrouter.Task) -> str:
    parts = []
    if "assignment_status" in request:
        parts.append(_STATUS_DONE[request["assignment_status"]])
    names = [FIELD_LABELS[k].lower() for k in request if k not in ("assignment_status", "reason")]
    if names:
        parts.append("saved " + ", ".join(names))
    text = " and ".join(parts) or "Saved"
    return text[0].upper() + text[1:] + f" (now version {task.etag})."


def apply_change(editor: TaskEditor, change: Change, *, actor: str) -> Outcome:
    """Write a change at the editor's version; raise EditConflict on a 412, EditFailed
    when TaskRouter refuses or fails. Nothing is ever sent without If-Match."""
    requests = change.requests()
    if not requests:
        raise EditFailed(taskrouter.InvalidParameter("Nothing to change."), ())
    done: list[str] = []
    task: taskrouter.Task | None = None
    for request in requests:
        try:
            task = taskrouter.update_task(
                actor=actor,
                workspace_sid=editor.workspace_sid,
                task_sid=editor.task_sid,
                if_match=editor.etag,
                **request,
            )
        except taskrouter.PreconditionFailed:
            now = taskrouter.fetch_task(
                workspace_sid=editor.workspace_sid, task_sid=editor.task_sid
            )
            raise EditConflict(
                compare(editor.seen, change.asked(), now, done=tuple(done))
            ) from None
        except taskrouter.TaskRouterError as error:
            raise EditFailed(error, tuple(done)) from None
        _advance(editor, task, request)
        done.append(_describe(request, task))
    assert task is not None
    notes = []
    if change.priority is not None and task.priority != change.priority:
        notes.append(
            f"TaskRouter kept priority {task.priority} instead of {change.priority}: "
            "the task's workflow target sets its priority."
        )
    return Outcome(task=task, done=tuple(done), notes=tuple(notes))


def delete(editor: TaskEditor, *, actor: str) -> None:
    try:
        taskrouter.delete_task(
            actor=actor,
            workspace_sid=editor.workspace_sid,
            task_sid=editor.task_sid,
            if_match=editor.etag,
        )
    except taskrouter.PreconditionFailed:
        now = taskrouter.fetch_task(workspace_sid=editor.workspace_sid, task_sid=editor.task_sid)
        raise EditConflict(compare(editor.seen, {}, now)) from None
    editor.delete()


def front_of_queue_time(task: taskrouter.Task) -> datetime | None:
    """A virtual start time that puts the task ahead of every other pending task in its
    queue (TaskRouter routes a queue's tasks by priority, then virtual start time).
    None when it is already first."""
    if not task.task_queue_sid:
        return None
    first = taskrouter.list_tasks(
        workspace_sid=task.workspace_sid,
        query=taskrouter.TaskQuery(
            statuses=(rules.PENDING,),
            task_queue_sid=task.task_queue_sid,
            ordering=(rules.OrderKey("VirtualStartTime"),),
        ),
        page_size=1,
    ).tasks
    if not first or first[0].sid == task.sid or first[0].virtual_start_time is None:
        return None
    return max(first[0].virtual_start_time - timedelta(seconds=1), rules.EARLIEST_VIRTUAL_START)


@dataclass
class TransitionChoice:
    status: str
    label: str
    refusal: str | None  # TaskRouter's reason, e.g. "it is not pending or reserved"
    needs_reason: bool = False

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def transition_choices(current: str) -> list[TransitionChoice]:
    """Every status a person might ask for, and why the unavailable ones are not offered."""
    choices = []
    for status in rules.REQUESTABLE_STATUSES:
        choices.append(
            TransitionChoice(
                status=status,
                label=rules.ACTION_VERBS[status].capitalize(),
                refusal=rules.transition_refusal(current, status),
                needs_reason=status in rules.REASON_REQUIRED,
            )
        )
    return choices
