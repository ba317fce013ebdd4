"""Editing tasks safely: versions, one write path, conflicts made visible.

Every change a person makes goes through `write` (called by `run_edit`, the one edit flow
the task page's sections and the table row's editor share). It sends the version the
person's form was shown at as If-Match. When TaskRouter answers 412 the change is not
retried: the person gets a `Conflict` showing, field by field, what they saw, what they
asked for and what the task is now.

The version a form was shown at travels in the form itself, as a signed `Editor` token:
the task as read, its ETag, the form it belongs to and the person it was shown to. Opening
a page writes nothing anywhere; a token survives restarts and works on every instance
(it is signed with SECRET_KEY); a token of another person or form is worthless; it expires
after `EDITOR_LIFETIME`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.core import signing

from tasks_app import presentation, titles
from tasks_app.taskrouter import routing, rules
from tasks_app.taskrouter import service as taskrouter

EDITOR_LIFETIME = timedelta(hours=12)
_SALT = "taskdeck.editor.v1"

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
        # Not editable: what says whether a workflow target fixes the priority, and where
        # the task is (a save may make the workflow route it elsewhere).
        "workflow_sid": task.workflow_sid or "",
        "task_queue_sid": task.task_queue_sid or "",
        "task_queue": task.task_queue_friendly_name or task.task_queue_sid or "",
        # Attributes TaskRouter holds that are not strict JSON: the text as it sent it, so
        # the attributes editor starts from it and nothing merges into an empty stand-in.
        "attributes_unreadable": (task.attributes_json or "") if task.attributes_problem else "",
    }


def workflow_route(
    *, workspace_sid: str, workflow_sid: str, attributes: Mapping[str, Any]
) -> routing.Route | None:
    """The route the task's workflow gives a task with these attributes (TaskRouter's
    rule, `routing.route`); None when the workflow cannot be read."""
    if not workflow_sid:
        return None
    try:
        workflows = taskrouter.list_workflows(workspace_sid=workspace_sid)
    except taskrouter.TaskRouterError:
        return None
    workflow = next((w for w in workflows if w.sid == workflow_sid), None)
    if workflow is None or not workflow.configuration:
        return None
    return routing.route(json.dumps(workflow.configuration, sort_keys=True), attributes or {})


def priority_kept_by_workflow(
    *, workspace_sid: str, workflow_sid: str, attributes: Mapping[str, Any]
) -> routing.Route | None:
    """The route the task's workflow gives it, when that route's target fixes the priority
    (TaskRouter then keeps the target's priority whatever is saved); None when it does
    not, or when the workflow cannot be read."""
    found = workflow_route(
        workspace_sid=workspace_sid, workflow_sid=workflow_sid, attributes=attributes
    )
    return found if found is not None and found.priority is not None else None


def priority_kept_text(route: routing.Route, *, subject: str) -> str:
    """Why a priority written to a task does not stay, said the same on its page and in a
    bulk preview: "<subject> routes it through the “VIP customers” filter, whose target
    sets priority 100: TaskRouter keeps 100"."""
    name = route.filter_friendly_name
    where = f"through the “{name}” filter, whose target" if name else "to a target that"
    priority = route.priority
    return f"{subject} routes it {where} sets priority {priority}: TaskRouter keeps {priority}"


def routed_elsewhere(editor: Editor, attributes: Mapping[str, Any]) -> str:
    """Said before saving new attributes: when TaskRouter will route the task again and its
    workflow sends it to another queue (with the priority its target sets); "" otherwise."""
    seen = editor.seen
    if not routing.reroutes_on_attribute_change(seen.get("assignment_status", "")):
        return ""
    found = workflow_route(
        workspace_sid=editor.workspace_sid,
        workflow_sid=seen.get("workflow_sid", ""),
        attributes=attributes,
    )
    if (
        found is None
        or not found.task_queue_sid
        or found.task_queue_sid == seen.get("task_queue_sid")
    ):
        return ""
    try:
        queues = taskrouter.list_task_queues(workspace_sid=editor.workspace_sid)
    except taskrouter.TaskRouterError:
        queues = ()
    name = next((q.friendly_name for q in queues if q.sid == found.task_queue_sid), None)
    by = (
        f"its workflow's “{found.filter_friendly_name}” filter"
        if found.filter_friendly_name
        else "its workflow"
    )
    text = (
        f"Saving these attributes routes the task again: {by} sends it to queue "
        f"{name or found.task_queue_sid} (it is in {seen.get('task_queue') or 'no queue'} now)."
    )
    if found.priority is not None and found.priority != seen.get("priority"):
        text += f" Its priority becomes {found.priority}."
    return text


# --- The version a form was shown at ------------------------------------------------------


@dataclass(frozen=True)
class Editor:
    """One form's view of one task: what it showed (``seen``) at which version (``etag``),
    for whom (``owner``) and which form (``form``). Carried by the form as `token`."""

    workspace_sid: str
    task_sid: str
    etag: str
    seen: dict[str, Any]
    form: str
    owner: str

    @property
    def token(self) -> str:
        payload = {
            "w": self.workspace_sid,
            "t": self.task_sid,
            "e": self.etag,
            "s": self.seen,
            "f": self.form,
            "o": self.owner,
        }
        return signing.dumps(payload, salt=_SALT, compress=True)

    @property
    def field(self) -> str:
        """The name the form posts its token under (see `token_field`)."""
        return token_field(self.form)

    @property
    def known(self) -> bool:
        """False for the stand-in used when the task could not be read at all."""
        return bool(self.etag)


def open_editor(task: taskrouter.Task, *, form: str, owner: str) -> Editor:
    """The version of ``task`` a form is being shown at."""
    if task.etag is None:
        # Only a single-task read carries the version; list rows cannot open editors.
        raise ValueError("an editor needs a task fetched on its own (with its ETag)")
    return Editor(
        workspace_sid=task.workspace_sid,
        task_sid=task.sid,
        etag=task.etag,
        seen=snapshot(task),
        form=form,
        owner=owner,
    )


def unknown_editor(*, workspace_sid: str, task_sid: str, form: str, owner: str) -> Editor:
    """A form's editor when the task could not be read (TaskRouter down): it can show
    what was typed, and any save from it is treated as expired."""
    return Editor(workspace_sid, task_sid, etag="", seen={}, form=form, owner=owner)


def read_editor(token: str, *, owner: str, task_sid: str, form: str | None = None) -> Editor | None:
    """The editor a token names, if it is genuine, current, this person's and this task's
    (and this form's, when ``form`` is given); None otherwise."""
    if not token:
        return None
    try:
        payload = signing.loads(token, salt=_SALT, max_age=EDITOR_LIFETIME)
    except signing.BadSignature:  # tampered, of another deployment, or expired
        return None
    if not isinstance(payload, dict):
        return None
    editor = Editor(
        workspace_sid=str(payload.get("w", "")),
        task_sid=str(payload.get("t", "")),
        etag=str(payload.get("e", "")),
        seen=payload.get("s") if isinstance(payload.get("s"), dict) else {},
        form=str(payload.get("f", "")),
        owner=str(payload.get("o", "")),
    )
    if editor.owner != owner or editor.task_sid != task_sid or not editor.etag:
        return None
    if form is not None and editor.form != form:
        return None
    return editor


def token_field(form: str) -> str:
    """The name a form's version token is posted under: one name per form, so that a
    save can bring the page's other tokens along (htmx's hx-include sends only one value
    per name when the form holds that name too)."""
    return f"{_VERSION_FIELD_PREFIX}{form}"


def tokens_in(data: Mapping[str, Any]) -> list[str]:
    """Every version token a request carries: its form's own and the page's others."""
    return [str(value) for name, value in data.items() if name.startswith(_VERSION_FIELD_PREFIX)]


_VERSION_FIELD_PREFIX = "editor-"


def advance(editor: Editor, task: taskrouter.Task) -> Editor:
    """The editor after its owner's own write: standing at the new version."""
    return replace(editor, etag=task.etag or editor.etag, seen=snapshot(task))


def advance_siblings(
    siblings: Iterable[Editor], *, previous_etag: str, task: taskrouter.Task, written: set[str]
) -> list[Editor]:
    """After the owner's write on a page, the other forms of the page that stood at the
    same version and show none of the fields written move to the new version: saving the
    priority does not make the next save of the channel look like someone else's change.
    A form showing a field just written elsewhere keeps its version (its save will show
    the conflict), and so does one already behind (it has someone else's change to see)."""
    return [
        advance(sibling, task)
        for sibling in siblings
        if sibling.etag == previous_etag and not written & set(FIELDS_OF_FORM.get(sibling.form, ()))
    ]


# The snapshot fields each form's inputs start from (see tasks_app.forms).
FIELDS_OF_FORM: dict[str, tuple[str, ...]] = {}

# --- What a person asks for ---------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    attributes: dict | None = None
    assignment_status: str | None = None
    reason: str | None = None
    priority: int | None = None
    task_channel: str | None = None
    virtual_start_time: datetime | None = None
    # A virtual start time just ahead of every other pending task of the queue, worked out
    # when written (it depends on the queue as it is then).
    front_of_queue: bool = False
    delete: bool = False

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


class _Absent:
    """An attribute key a task does not have (unlike one whose value is null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldDiff:
    name: str
    label: str
    seen: Any
    asked: Any
    now: Any
    # Attribute values read as JSON ("text", true, null), as the person typed them.
    as_json: bool = False

    @property
    def changed_by_someone_else(self) -> bool:
        return self.seen != self.now

    @property
    def asked_text(self) -> str:
        return _text(self.asked, self.as_json)

    @property
    def seen_text(self) -> str:
        return _text(self.seen, self.as_json)

    @property
    def now_text(self) -> str:
        return _text(self.now, self.as_json)


@dataclass(frozen=True)
class Conflict:
    """A 412: the task moved on since the person's editor read it."""

    now: taskrouter.Task
    fields: tuple[FieldDiff, ...]
    attribute_keys: tuple[FieldDiff, ...]
    done: tuple[str, ...] = ()  # writes of this change that went through before the 412
    # The version the person's form was read at, and who changed the task since (entries
    # of its timeline: tasks_app.timeline.who), when known.
    seen_version: str = ""
    changed_by: tuple[Any, ...] | list[Any] = ()


@dataclass(frozen=True)
class Outcome:
    task: taskrouter.Task | None  # as the last write left it; None when nothing was written
    done: tuple[str, ...]
    notes: tuple[str, ...] = ()
    editor: Editor | None = None  # the form's editor afterwards
    written: frozenset[str] = frozenset()  # snapshot fields sent
    deleted: bool = False


class EditConflict(Exception):
    def __init__(self, conflict: Conflict) -> None:
        super().__init__("the task changed")
        self.conflict = conflict


class EditFailed(Exception):
    """TaskRouter refused or failed; ``done`` lists what was saved before it did, and
    ``editor`` is where the form stands after that (None if unchanged)."""

    def __init__(
        self, error: taskrouter.TaskRouterError, done: tuple[str, ...], editor: Editor | None
    ) -> None:
        super().__init__(error.user_message)
        self.error = error
        self.done = done
        self.editor = editor


def _text(value: Any, as_json: bool = False) -> str:
    if value is ABSENT:
        return "(not set)"
    if as_json:
        return presentation.pretty_json(value)
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
            FieldDiff(k, k, *values, as_json=True)
            for k in every
            if not ((values := _values(k, before, wanted, after))[0] == values[1] == values[2])
        )
    return Conflict(now=now, fields=fields, attribute_keys=keys, done=done)


def _values(key: str, *attributes: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(each.get(key, ABSENT) for each in attributes)


def attribute_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldDiff]:
    """Key-by-key preview of an attributes edit (``seen`` before, ``asked`` after)."""
    return [
        FieldDiff(k, k, *_values(k, before, after), None, as_json=True)
        for k in sorted(set(before) | set(after))
        if before.get(k, ABSENT) != after.get(k, ABSENT)
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
    return text[0].upper() + text[1:] + "."


def _kept_by_workflow(change: Change, task: taskrouter.Task) -> str | None:
    if change.priority is not None and task.priority != change.priority:
        return (
            f"TaskRouter kept priority {task.priority} instead of {change.priority}: "
            "the task's workflow target sets its priority."
        )
    return None


def _moved(before: Mapping[str, Any], task: taskrouter.Task) -> str | None:
    """Said after a save that made the workflow route the task to another queue."""
    after = snapshot(task)
    if not after["task_queue_sid"] or after["task_queue_sid"] == before.get("task_queue_sid"):
        return None
    was = before.get("task_queue")
    return f"TaskRouter routed the task to queue {after['task_queue']}" + (
        f" (it was in {was})." if was else "."
    )


def write(editor: Editor, change: Change, *, actor: str, why: str | None = None) -> Outcome:
    """The one way Taskdeck changes or deletes a task for a person: at the editor's
    version (If-Match), in the order TaskRouter needs, on behalf of ``actor`` (``why``:
    the audit trail's reason, when TaskRouter takes none, e.g. "Undo of ...").

    Raises EditConflict on a 412 and EditFailed when TaskRouter refuses or fails (with
    what was already saved). Nothing is ever sent without If-Match."""
    if change.delete:
        return _delete(editor, actor=actor)
    if change.front_of_queue:
        try:
            current = taskrouter.fetch_task(
                workspace_sid=editor.workspace_sid, task_sid=editor.task_sid
            )
            moment = front_of_queue_time(current)
        except taskrouter.TaskRouterError as error:
            raise EditFailed(error, (), None) from None
        if moment is None:
            note = "The task is already first in its queue (or not waiting in one)."
            return Outcome(task=None, done=(), notes=(note,), editor=editor)
        change = replace(change, front_of_queue=False, virtual_start_time=moment)
    requests = change.requests()
    if not requests:
        raise EditFailed(taskrouter.InvalidParameter("Nothing to change."), (), None)
    before = editor.seen
    done: list[str] = []
    task: taskrouter.Task | None = None
    for request in requests:
        try:
            task = taskrouter.update_task(
                actor=actor,
                workspace_sid=editor.workspace_sid,
                task_sid=editor.task_sid,
                if_match=editor.etag,
                seen=editor.seen,
                why=why,
                **request,
            )
        except taskrouter.PreconditionFailed:
            now = taskrouter.fetch_task(
                workspace_sid=editor.workspace_sid, task_sid=editor.task_sid
            )
            conflict = compare(editor.seen, change.asked(), now, done=tuple(done))
            raise EditConflict(replace(conflict, seen_version=editor.etag)) from None
        except taskrouter.TaskRouterError as error:
            raise EditFailed(error, tuple(done), editor) from None
        editor = advance(editor, task)
        done.append(_describe(request, task))
    assert task is not None
    notes = [note for note in (_kept_by_workflow(change, task), _moved(before, task)) if note]
    sent = {k for request in requests for k in request}
    return Outcome(
        task=task,
        done=tuple(done),
        notes=tuple(notes),
        editor=editor,
        # What was sent, and what TaskRouter changed with it (a workflow routing the task
        # again may set its priority): forms showing either must not move on silently.
        written=frozenset(sent | changed_fields(before, editor.seen)),
    )


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """The editable fields whose values differ between two snapshots."""
    return {name for name in FIELD_LABELS if before.get(name) != after.get(name)}


def _delete(editor: Editor, *, actor: str) -> Outcome:
    try:
        taskrouter.delete_task(
            actor=actor,
            workspace_sid=editor.workspace_sid,
            task_sid=editor.task_sid,
            if_match=editor.etag,
            seen=editor.seen,
        )
    except taskrouter.PreconditionFailed:
        now = taskrouter.fetch_task(workspace_sid=editor.workspace_sid, task_sid=editor.task_sid)
        raise EditConflict(
            replace(compare(editor.seen, {}, now), seen_version=editor.etag)
        ) from None
    except taskrouter.TaskRouterError as error:
        raise EditFailed(error, (), editor) from None
    title = titles.attributes_title(editor.seen.get("attributes"))
    named = f"“{title}” ({editor.task_sid})" if title else editor.task_sid
    return Outcome(task=None, done=(f"Deleted task {named}.",), editor=editor, deleted=True)


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


# --- The edit flow ----------------------------------------------------------------------------


class EditForm(Protocol):
    """What `run_edit` needs of a form (see tasks_app.forms.SectionForm)."""

    section: str
    cleaned_data: dict
    saved_over: dict | None

    def __init__(self, data=None, *, editor: Editor, initial: dict | None = None) -> None: ...
    def is_valid(self) -> bool: ...
    def add_error(self, field: str | None, error: str) -> None: ...
    def preview(self) -> list[FieldDiff] | None: ...
    def change(self) -> Change: ...


# What the person sees after each outcome, and the HTTP status that says it.
STATUS_OF_KIND = {
    "shown": 200,
    "preview": 200,
    "saved": 200,
    "invalid": 422,
    "conflict": 409,
    "expired": 409,
}


@dataclass
class EditResult:
    """The outcome of one edit: what to show in the form's place."""

    kind: str  # shown, preview, saved, invalid, conflict, expired, failed
    form: Any
    editor: Editor
    task: taskrouter.Task | None = None  # the task as now known, when it was (re)read
    conflict: Conflict | None = None
    done: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: taskrouter.TaskRouterError | None = None
    preview: list[FieldDiff] | None = None
    written: frozenset[str] = frozenset()
    deleted: bool = False
    siblings: list[Editor] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The task's status the form was built for."""
        return self.editor.seen.get("assignment_status", "")

    @property
    def closed(self) -> bool:
        """TaskRouter changes nothing of a closed task (but it can still be deleted)."""
        return self.status in rules.CLOSED_STATUSES and not getattr(
            self.form, "open_when_closed", False
        )

    @property
    def expired(self) -> bool:
        return self.kind == "expired"

    @property
    def http_status(self) -> int:
        if self.kind == "failed" and self.error is not None:
            return self.error.page_status
        return STATUS_OF_KIND.get(self.kind, 200)


def _typed(data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """What the person typed into a form, to show again on a fresh form."""
    start = f"{prefix}-"
    return {k[len(start) :]: v for k, v in data.items() if k.startswith(start)}


def show(form_class: type[EditForm], task: taskrouter.Task, *, owner: str) -> EditResult:
    """A form, fresh, for the task as just read."""
    editor = open_editor(task, form=form_class.section, owner=owner)
    return EditResult("shown", form_class(editor=editor), editor, task=task)


def run_edit(
    form_class: type[EditForm],
    data: Mapping[str, Any],
    *,
    tokens: Iterable[str],
    owner: str,
    actor: str,
    workspace_sid: str,
    task_sid: str,
) -> EditResult:
    """The edit flow shared by every form that changes a task: find the version the form
    was shown at (``tokens`` are the page's editor tokens; the one of this form is its
    own, the others its siblings), validate, preview or write, and say what happened.
    Whatever happens, the form comes back with what the person typed."""
    name = form_class.section
    editors = [e for e in (read_editor(t, owner=owner, task_sid=task_sid) for t in tokens) if e]
    editor = next((e for e in editors if e.form == name), None)
    if editor is None:
        return _expired(form_class, data, owner=owner, workspace_sid=workspace_sid, sid=task_sid)

    form = form_class(data, editor=editor)
    if not form.is_valid():
        return EditResult("invalid", form, editor)
    preview = form.preview()
    if preview is not None:
        return EditResult("preview", form, editor, preview=preview)
    change = form.change()
    if not (change.asked() or change.delete or change.front_of_queue):
        form.add_error(None, "Nothing changed: edit a field before saving.")
        return EditResult("invalid", form, editor)

    try:
        outcome = write(editor, change, actor=actor)
    except EditConflict as caught:
        fresh = open_editor(caught.conflict.now, form=name, owner=owner)
        retry = form_class(editor=fresh, initial=_typed(data, name))
        return EditResult(
            "conflict",
            retry,
            fresh,
            task=caught.conflict.now,
            conflict=caught.conflict,
            done=caught.conflict.done,
        )
    except EditFailed as failed:
        return EditResult(
            "failed", form, failed.editor or editor, error=failed.error, done=failed.done
        )

    after = outcome.editor or editor
    siblings: list[Editor] = []
    if outcome.task is not None:
        others = [e for e in editors if e.form != name]
        siblings = advance_siblings(
            others, previous_etag=editor.etag, task=outcome.task, written=set(outcome.written)
        )
    fresh = form_class(editor=after)
    fresh.saved_over = editor.seen  # a form may say what its save changed (where it went)
    return EditResult(
        "saved",
        fresh,
        after,
        task=outcome.task,
        done=outcome.done,
        notes=outcome.notes,
        written=outcome.written,
        deleted=outcome.deleted,
        siblings=siblings,
    )


def _expired(
    form_class: type[EditForm], data: Mapping[str, Any], *, owner: str, workspace_sid: str, sid: str
) -> EditResult:
    """The form's version is unknown (expired, another person's, tampered): treat it as a
    conflict against the task as it is now, keeping the input."""
    name = form_class.section
    try:
        task = taskrouter.fetch_task(workspace_sid=workspace_sid, task_sid=sid)
    except taskrouter.TaskRouterError as error:
        stand_in = unknown_editor(workspace_sid=workspace_sid, task_sid=sid, form=name, owner=owner)
        return EditResult("failed", form_class(data, editor=stand_in), stand_in, error=error)
    fresh = open_editor(task, form=name, owner=owner)
    return EditResult(
        "expired",
        form_class(editor=fresh, initial=_typed(data, name)),
        fresh,
        task=task,
        conflict=compare({}, {}, task),
    )
