"""The task page and every change a person makes to a task: the page's small forms, the
table row's editor, creating and deleting. The rules of safe writing live in
`tasks_app.editing`; these views bind forms, call it, and pick what to show."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.http import HttpResponseClientRedirect

from tasks_app import editing, presentation
from tasks_app.editing import Conflict
from tasks_app.forms import (
    AttributesEditForm,
    ChannelEditForm,
    CreateTaskForm,
    PriorityEditForm,
    RowEditForm,
    StartTimeEditForm,
    StatusEditForm,
    TaskFilterForm,
)
from tasks_app.tables import TaskTable
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.common import (
    fragment_response,
    problem_response,
    render_fragment,
    status_for,
    with_workspace,
)

# --- The task page's sections ---------------------------------------------------------------


@dataclass(frozen=True)
class SectionSpec:
    name: str
    title: str
    fields: tuple[str, ...]  # what its form shows and changes (see TaskEditor.fields)
    submit_label: str = "Save"


ALL_FIELDS = tuple(editing.FIELD_LABELS)
SECTIONS: dict[str, SectionSpec] = {
    s.name: s
    for s in (
        SectionSpec(
            "status", "Status", ("assignment_status", "reason", "attributes"), "Change status"
        ),
        SectionSpec("priority", "Priority", ("priority",), "Save priority"),
        SectionSpec("channel", "Task channel", ("task_channel",), "Save channel"),
        SectionSpec("start", "Place in the queue", ("virtual_start_time",), "Save start time"),
        SectionSpec("attributes", "Edit attributes", ("attributes",), "Save attributes"),
        # Deleting acts on the whole task as the person saw it.
        SectionSpec("delete", "Delete", ALL_FIELDS, "Delete task"),
    )
}
ROW_FIELDS = ("priority", "assignment_status", "reason")


@dataclass
class Section:
    spec: SectionSpec
    form: forms.Form | None
    token: str
    task_sid: str
    status: str  # the task's status the form was built for
    conflict: Conflict | None = None
    expired: bool = False
    done: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    preview: list | None = None
    transitions: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def closed(self) -> bool:
        return self.status in rules.CLOSED_STATUSES


def _build_form(
    name: str,
    seen: dict,
    *,
    data=None,
    initial: dict | None = None,
    channels=(),
) -> forms.Form | None:
    """A section's form, for the task as ``seen`` (an editor's snapshot)."""
    kwargs = {"data": data, "prefix": name}
    if name == "priority":
        return PriorityEditForm(initial=initial or {"priority": seen["priority"]}, **kwargs)
    if name == "attributes":
        text = presentation.pretty_json(seen["attributes"])
        return AttributesEditForm(initial=initial or {"attributes": text}, **kwargs)
    if name == "status":
        return StatusEditForm(
            current_status=seen["assignment_status"],
            current_attributes=seen["attributes"],
            initial=initial,
            **kwargs,
        )
    if name == "channel":
        return ChannelEditForm(
            channels=channels, initial=initial or {"task_channel": seen["task_channel"]}, **kwargs
        )
    if name == "start":
        moment = seen["virtual_start_time"]
        value = rules.parse_datetime(moment, param="VirtualStartTime") if moment else None
        return StartTimeEditForm(initial=initial or {"virtual_start_time": value}, **kwargs)
    return None  # delete: a confirmation, no fields


def _typed(request: HttpRequest, name: str) -> dict:
    """What the person typed into a section, to show again without re-validating it."""
    prefix = f"{name}-"
    return {k[len(prefix) :]: v for k, v in request.POST.items() if k.startswith(prefix)}


def _section(spec: SectionSpec, editor, *, channels, **extra) -> Section:
    seen = editor.seen
    form = extra.pop("form", None) or _build_form(spec.name, seen, channels=channels)
    return Section(
        spec=spec,
        form=form,
        token=editor.token,
        task_sid=editor.task_sid,
        status=seen["assignment_status"],
        transitions=editing.transition_choices(seen["assignment_status"]),
        **extra,
    )


def _channels(workspace_sid: str):
    try:
        return taskrouter.list_task_channels(workspace_sid=workspace_sid)
    except taskrouter.TaskRouterError:
        return ()


def _page_context(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    task: taskrouter.Task,
    *,
    override: Section | None = None,
) -> dict:
    """The task page: every field, and one small form (with its own editor) per section."""
    channels = _channels(workspace.sid)
    specs = [spec for spec in SECTIONS.values() if override is None or spec.name != override.name]
    editors = editing.open_editors(request, task, [spec.fields for spec in specs])
    built = {
        spec.name: _section(spec, e, channels=channels)
        for spec, e in zip(specs, editors, strict=True)
    }
    if override is not None:
        built[override.name] = override
    sections = [built[name] for name in SECTIONS]
    return _task_context(workspace, task) | {"sections": sections}


def _task_context(workspace: taskrouter.Workspace, task: taskrouter.Task) -> dict:
    slug = taskrouter.workspace_url_name(workspace)
    list_url = reverse("task_list", args=[slug])
    return {
        "workspace": workspace,
        "workspace_slug": slug,
        "task": task,
        "attributes_pretty": presentation.attributes_block(task),
        "addons_pretty": presentation.pretty_json(task.addons) if task.addons else "",
        "queue_url": f"{list_url}?queue={task.task_queue_sid}" if task.task_queue_sid else None,
        "workflow_url": f"{list_url}?workflow={task.workflow_sid}" if task.workflow_sid else None,
    }


@require_safe
@with_workspace
def task_page(request: HttpRequest, workspace: taskrouter.Workspace, sid: str) -> HttpResponse:
    try:
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    return render_fragment(
        request, "tasks/task_detail.html", _page_context(request, workspace, task)
    )


def _section_response(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    section: Section,
    *,
    task: taskrouter.Task | None = None,
    status: int = 200,
    announce: str = "",
) -> HttpResponse:
    """One section for htmx (with the page's read-only parts refreshed when ``task`` is
    new); without JavaScript, the whole page with that section in the same state."""
    if request.htmx:
        context = {
            "section": section,
            "announce": announce,
            "workspace": workspace,
            "workspace_slug": taskrouter.workspace_url_name(workspace),
        }
        if task is not None:
            context |= _task_context(workspace, task) | {"refresh_task": True}
        return fragment_response(
            request, "tasks/task_detail.html#edit-section", context, status=status
        )
    if task is None:
        try:
            task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=section.task_sid)
        except taskrouter.TaskRouterError as error:
            return problem_response(request, error)
    context = _page_context(request, workspace, task, override=section)
    return render(request, "tasks/task_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@with_workspace
def task_edit(
    request: HttpRequest, workspace: taskrouter.Workspace, sid: str, section: str
) -> HttpResponse:
    """GET: the section afresh (how "discard my change" works). POST: save it."""
    spec = SECTIONS.get(section)
    if spec is None:
        raise Http404("No such part of the task page.")
    channels = _channels(workspace.sid)

    if request.method == "GET":
        try:
            task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
        except taskrouter.TaskRouterError as error:
            return problem_response(request, error)
        editor = editing.open_editor(request, task, fields=spec.fields)
        return _section_response(
            request, workspace, _section(spec, editor, channels=channels), task=task
        )

    editor = editing.find_editor(request, request.POST.get("editor", ""), task_sid=sid)
    if editor is None:
        return _expired(request, workspace, spec, sid, channels)

    if spec.name == "delete":
        return _delete(request, workspace, spec, editor, channels)

    form = _build_form(spec.name, editor.seen, data=request.POST, channels=channels)
    if not form.is_valid():
        section_state = _section(spec, editor, channels=channels, form=form)
        return _section_response(request, workspace, section_state, status=422)

    if spec.name == "attributes" and "preview" in request.POST:
        preview = editing.attribute_changes(
            editor.seen["attributes"], form.cleaned_data["attributes"]
        )
        section_state = _section(spec, editor, channels=channels, form=form, preview=preview)
        return _section_response(request, workspace, section_state)

    front_time = None
    if spec.name == "start" and form.cleaned_data.get("front"):
        try:
            task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
            front_time = editing.front_of_queue_time(task)
        except taskrouter.TaskRouterError as error:
            section_state = _section(
                spec, editor, channels=channels, form=form, error=error.user_message
            )
            return _section_response(request, workspace, section_state, status=status_for(error))
        if front_time is None:
            section_state = _section(
                spec,
                editor,
                channels=channels,
                form=form,
                notes=("The task is already first in its queue (or not waiting in one).",),
            )
            return _section_response(request, workspace, section_state)

    change = form.change(front_time=front_time) if spec.name == "start" else form.change()
    return _save(request, workspace, spec, editor, change, channels)


def _save(request, workspace, spec, editor, change, channels) -> HttpResponse:
    try:
        outcome = editing.apply_change(editor, change, actor=editing.actor_of(request))
    except editing.EditConflict as caught:
        return _conflict(request, workspace, spec, caught.conflict, channels)
    except editing.EditFailed as failed:
        form = _build_form(spec.name, editor.seen, data=request.POST, channels=channels)
        form.is_valid()
        section_state = _section(
            spec,
            editor,
            channels=channels,
            form=form,
            error=failed.error.user_message,
            done=failed.done,
        )
        return _section_response(request, workspace, section_state, status=status_for(failed.error))
    if not request.htmx:
        for line in (*outcome.done, *outcome.notes):
            messages.success(request, line)
        return redirect(
            "task_detail", workspace=taskrouter.workspace_url_name(workspace), sid=editor.task_sid
        )
    section_state = _section(
        spec, editor, channels=channels, done=outcome.done, notes=outcome.notes
    )
    return _section_response(
        request, workspace, section_state, task=outcome.task, announce=" ".join(outcome.done)
    )


def _conflict(request, workspace, spec, conflict: Conflict, channels) -> HttpResponse:
    """412: show what they saw, asked for and what is; their input, ready to apply to the
    current version (a fresh editor) or to discard."""
    fresh = editing.open_editor(request, conflict.now, fields=spec.fields)
    form = _build_form(
        spec.name, fresh.seen, initial=_typed(request, spec.name) or None, channels=channels
    )
    section_state = _section(
        spec, fresh, channels=channels, form=form, conflict=conflict, done=conflict.done
    )
    return _section_response(
        request,
        workspace,
        section_state,
        task=conflict.now if conflict.done else None,
        status=409,
        announce="The task changed since you opened it. Review and apply again.",
    )


def _expired(request, workspace, spec, sid, channels) -> HttpResponse:
    """The form's editor is gone (another browser, a long pause, a restarted session):
    treat it as a conflict against the task as it is now, keeping the input."""
    try:
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    fresh = editing.open_editor(request, task, fields=spec.fields)
    form = _build_form(
        spec.name, fresh.seen, initial=_typed(request, spec.name) or None, channels=channels
    )
    section_state = _section(
        spec,
        fresh,
        channels=channels,
        form=form,
        expired=True,
        conflict=editing.compare({}, {}, task),
    )
    return _section_response(request, workspace, section_state, status=409)


def _delete(request, workspace, spec, editor, channels) -> HttpResponse:
    try:
        editing.delete(editor, actor=editing.actor_of(request))
    except editing.EditConflict as caught:
        return _conflict(request, workspace, spec, caught.conflict, channels)
    except taskrouter.TaskRouterError as error:
        section_state = _section(spec, editor, channels=channels, error=error.user_message)
        return _section_response(request, workspace, section_state, status=status_for(error))
    messages.success(request, f"Deleted task {editor.task_sid}.")
    target = reverse("task_list", args=[taskrouter.workspace_url_name(workspace)])
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


# --- The table row's editor -----------------------------------------------------------------


def _row_table(request: HttpRequest, workspace: taskrouter.Workspace, tasks) -> TaskTable:
    filters = TaskFilterForm(request.GET, queues=(), workflows=())
    filters.is_valid()  # only `cols` matters; a bad one just leaves the columns out
    return TaskTable(
        tasks,
        workspace_slug=taskrouter.workspace_url_name(workspace),
        attribute_columns=filters.cleaned_data.get("cols") or (),
    )


def _row_response(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    *,
    task: taskrouter.Task | None = None,
    editor=None,
    form: RowEditForm | None = None,
    conflict: Conflict | None = None,
    error: str = "",
    done: tuple[str, ...] = (),
    status: int = 200,
    announce: str = "",
    expired: bool = False,
    changed: bool = True,
) -> HttpResponse:
    """The row as a row (``task``), or as its editor (``editor``, drawn from what the
    editor saw: no extra read)."""
    table = _row_table(request, workspace, [task] if task else [])
    context: dict = {"announce": announce}
    if editor is None:
        context["row_html"] = table.row_html(task, changed=changed)
    else:
        seen = editor.seen
        context |= {
            "sid": editor.task_sid,
            "seen": seen,
            "editor": editor,
            "form": form,
            "conflict": conflict,
            "expired": expired,
            "error": error,
            "done": done,
            "colspan": table.column_count,
            "transitions": editing.transition_choices(seen["assignment_status"]),
            "save_url": table.url("edit", editor.task_sid),
            "cancel_url": table.url("row", editor.task_sid),
            "detail_url": table.url("detail", editor.task_sid),
        }
    return fragment_response(request, "tasks/_row_editor.html", context, status=status)


def _row_form(sid: str, status: str, *, data=None, initial=None) -> RowEditForm:
    # Several rows may be open at once: ids per task keep each label on its own field.
    form = RowEditForm(
        data, current_status=status, initial=initial, prefix="row", auto_id=f"id_{sid}_%s"
    )
    # Keyboard users land in the editor they opened (htmx honours autofocus on swap).
    form.fields["priority"].widget.attrs["autofocus"] = True
    return form


@require_safe
@with_workspace
def task_row(request: HttpRequest, workspace: taskrouter.Workspace, sid: str) -> HttpResponse:
    """One table row from a fresh fetch: how a row gets attributes TaskRouter left out of
    the list, and how a row editor is closed."""
    try:
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    return _row_response(request, workspace, task=task, changed=False)


@require_http_methods(["GET", "POST"])
@with_workspace
def task_row_edit(request: HttpRequest, workspace: taskrouter.Workspace, sid: str) -> HttpResponse:
    """Priority and status (with reason) edited in place, swapping only the row."""

    editor = None
    if request.method == "POST":
        editor = editing.find_editor(request, request.POST.get("editor", ""), task_sid=sid)
    if editor is None:
        # Opening the editor, or one that expired: start from the task as it is now.
        try:
            task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
        except taskrouter.TaskRouterError as error:
            return problem_response(request, error)
        editor = editing.open_editor(request, task, fields=ROW_FIELDS)
        if request.method == "GET":
            form = _row_form(sid, task.assignment_status, initial={"priority": task.priority})
            return _row_response(request, workspace, editor=editor, form=form)
        form = _row_form(sid, task.assignment_status, initial=_typed(request, "row"))
        return _row_response(
            request,
            workspace,
            editor=editor,
            form=form,
            status=409,
            conflict=editing.compare({}, {}, task),
            expired=True,
        )

    form = _row_form(sid, editor.seen["assignment_status"], data=request.POST)
    if not form.is_valid():
        return _row_response(request, workspace, editor=editor, form=form, status=422)
    change = form.change(current_priority=editor.seen["priority"])
    if not change.asked():
        form.add_error(None, "Nothing changed: edit the priority or pick a new status.")
        return _row_response(request, workspace, editor=editor, form=form, status=422)
    try:
        outcome = editing.apply_change(editor, change, actor=editing.actor_of(request))
    except editing.EditConflict as caught:
        now = caught.conflict.now
        fresh = editing.open_editor(request, now, fields=ROW_FIELDS)
        form = _row_form(sid, now.assignment_status, initial=_typed(request, "row"))
        return _row_response(
            request,
            workspace,
            editor=fresh,
            form=form,
            conflict=caught.conflict,
            done=caught.conflict.done,
            status=409,
            announce="The task changed since you opened it.",
        )
    except editing.EditFailed as failed:
        return _row_response(
            request,
            workspace,
            editor=editor,
            form=form,
            error=failed.error.user_message,
            done=failed.done,
            status=status_for(failed.error),
        )
    editor.delete()
    return _row_response(
        request, workspace, task=outcome.task, announce=" ".join((*outcome.done, *outcome.notes))
    )


# --- Creating -------------------------------------------------------------------------------


_CREATE_FIELD_OF_PARAM = {
    "Attributes": "attributes",
    "Priority": "priority",
    "Timeout": "timeout",
    "TaskChannel": "task_channel",
    "WorkflowSid": "workflow",
    "VirtualStartTime": "virtual_start_time",
}


@require_http_methods(["GET", "POST"])
@with_workspace
def task_create(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    try:
        channels = taskrouter.list_task_channels(workspace_sid=workspace.sid)
        workflows = taskrouter.list_workflows(workspace_sid=workspace.sid)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    slug = taskrouter.workspace_url_name(workspace)
    data = request.POST if request.method == "POST" else None
    form = CreateTaskForm(data, channels=channels, workflows=workflows)
    status = 200
    if data is not None:
        status = 422
        if form.is_valid():
            try:
                task = taskrouter.create_task(
                    actor=editing.actor_of(request),
                    workspace_sid=workspace.sid,
                    **form.create_kwargs(),
                )
            except taskrouter.InvalidParameter as error:
                form.add_error(_CREATE_FIELD_OF_PARAM.get(error.param or ""), error.user_message)
            except taskrouter.Rejected as error:
                form.add_error(None, error.user_message)
            except taskrouter.TaskRouterError as error:
                form.add_error(None, f"{error.user_message} Your input is kept below.")
                status = status_for(error)
            else:
                messages.success(
                    request,
                    f"Created task {task.sid} in queue "
                    f"{task.task_queue_friendly_name or 'chosen by the workflow'}.",
                )
                target = reverse("task_detail", args=[slug, task.sid])
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return redirect(target)
    context = {
        "workspace": workspace,
        "workspace_slug": slug,
        "form": form,
        "partials": {"create-form": "tasks/task_create.html#create-form"},
    }
    return render_fragment(request, "tasks/task_create.html", context, status=status)
