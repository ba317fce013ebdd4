"""The table row's editor: priority and status (with reason) edited in place, swapping
only the row. It runs the same edit flow as the task page's sections."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from tasks_app import editing, route_preview
from tasks_app.forms import RowEditForm, TaskFilterForm
from tasks_app.identity import actor_of, require_role
from tasks_app.tables import TaskTable
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.browse import can_edit
from tasks_app.views.common import edit_from_request, fragment_response, with_workspace


def _table(request: HttpRequest, workspace: taskrouter.Workspace, tasks) -> TaskTable:
    """A table of the row's task with the columns of the table the row sits in."""
    filters = TaskFilterForm(request.GET, queues=(), workflows=())
    filters.is_valid()  # only `cols` matters; a bad one just leaves the columns out
    return TaskTable(
        tasks,
        workspace_slug=workspace.url_name,
        attribute_columns=filters.cleaned_data.get("cols") or (),
        editable=can_edit(request),
    )


def _row(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    task: taskrouter.Task,
    *,
    changed: bool,
    announce: str = "",
    notes: tuple[str, ...] = (),
    route: route_preview.RouteView | None = None,
) -> HttpResponse:
    table = _table(request, workspace, [task])
    context = {
        "row_html": table.row_html(task, changed=changed),
        "colspan": table.column_count,
        "notes": notes,
        "route": route,
        "sid": task.sid,
        "announce": announce,
    }
    return fragment_response(request, "tasks/_row_editor.html", context)


def _editor(
    request: HttpRequest, workspace: taskrouter.Workspace, result: editing.EditResult
) -> HttpResponse:
    table = _table(request, workspace, [])
    sid = result.editor.task_sid
    context = {
        "result": result,
        "sid": sid,
        "colspan": table.column_count,
        "save_url": table.url("edit", sid),
        "cancel_url": table.url("row", sid),
        "detail_url": table.url("detail", sid),
        "route_url": reverse("task_route", args=[workspace.url_name, sid, RowEditForm.section]),
        "announce": "The task changed since you opened it."
        if result.kind in ("conflict", "expired")
        else "",
    }
    return fragment_response(request, "tasks/_row_editor.html", context, status=result.http_status)


@require_safe
@with_workspace
def task_row(request: HttpRequest, workspace: taskrouter.Workspace, sid: str) -> HttpResponse:
    """One table row from a fresh fetch: how a row gets attributes TaskRouter left out of
    the list, and how a row editor is closed."""
    task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
    return _row(request, workspace, task, changed=False)


@require_http_methods(["GET", "POST"])
@require_role("editor")
@with_workspace
def task_row_edit(request: HttpRequest, workspace: taskrouter.Workspace, sid: str) -> HttpResponse:
    if request.method == "GET":
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
        return _editor(request, workspace, editing.show(RowEditForm, task, owner=actor_of(request)))
    result = edit_from_request(RowEditForm, request, workspace, sid)
    if result.kind == "saved" and result.task is not None:
        announce = " ".join((*result.done, *result.notes))
        return _row(
            request,
            workspace,
            result.task,
            changed=True,
            announce=announce,
            notes=result.notes,
            route=result.form.route_view(),  # where a "send to" left it
        )
    return _editor(request, workspace, result)
