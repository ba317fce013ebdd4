"""Browsing: the task table, the task page, and the links runbooks use."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_safe

from tasks_app import exports, live
from tasks_app.forms import TaskFilterForm
from tasks_app.tables import TaskTable
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.common import (
    problem_response,
    render_fragment,
    status_for,
    with_workspace,
)

# TaskRouter's parameter names -> the task table's query parameters, to put a refusal
# from TaskRouter next to the field that caused it.
_FIELD_OF_PARAM = {
    "AssignmentStatus": "status",
    "Priority": "priority",
    "TaskQueueSid": "queue",
    "TaskQueueName": "queue",
    "WorkflowSid": "workflow",
    "WorkflowName": "workflow",
    "EvaluateTaskAttributes": "where",
    "where": "where",
    "HasAddons": "addons",
    "Ordering": "sort",
    "PageSize": "size",
    "PageToken": "page",
}


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    try:
        workspace = taskrouter.default_workspace()
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    return redirect("task_list", workspace=taskrouter.workspace_url_name(workspace))


@require_safe
@with_workspace
def task_list(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    try:
        queues = taskrouter.list_task_queues(workspace_sid=workspace.sid)
        workflows = taskrouter.list_workflows(workspace_sid=workspace.sid)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)

    form = TaskFilterForm(request.GET, queues=queues, workflows=workflows)
    slug = taskrouter.workspace_url_name(workspace)
    context: dict = {
        "workspace": workspace,
        "workspace_slug": slug,
        "form": form,
        "queues": queues,
        "workflows": workflows,
        "refresh_seconds": settings.TASKDECK_REFRESH_SECONDS,
        "export_limit": settings.TASKDECK_EXPORT_MAX_ROWS,
        "bulk_limit": settings.TASKDECK_BULK_MAX_TASKS,
        "partials": {
            "task-view": "tasks/task_list.html#task-view",
            "task-rows": "tasks/_task_table.html#task-rows",
        },
    }
    status = 200
    if not form.is_valid():
        status = 400
    elif request.GET.get("format") == "csv":
        return exports.tasks_csv(
            workspace=workspace, query=form.to_query(), columns=_table(form, slug, [], request)
        )
    else:
        try:
            page = taskrouter.list_tasks(
                workspace_sid=workspace.sid,
                query=form.to_query(),
                page_size=form.cleaned_data["size"],
                page_token=form.cleaned_data["page"],
                max_age=settings.TASKROUTER_SHARED_READ_SECONDS,
            )
        except taskrouter.InvalidParameter as error:
            form.add_error(_FIELD_OF_PARAM.get(error.param or ""), error.user_message)
            status = 400
        except taskrouter.Rejected as error:
            if form.cleaned_data["page"]:
                # Page tokens name a task; once TaskRouter purges it, the link is dead.
                form.add_error(
                    "page",
                    f"This page link no longer works ({error.user_message}) "
                    "Start again from the first page.",
                )
            else:  # TaskRouter refused the filter; show its words at the top of the form
                form.add_error(None, error.user_message)
            status = 400
        except taskrouter.TaskRouterError as error:
            if request.htmx and request.htmx.target == "task-rows":
                return problem_response(request, error)  # a live refresh keeps the rows it has
            context["problem"] = error
            status = status_for(error)
        else:
            if request.htmx and request.htmx.target == "task-rows":
                # A live refresh: no body when nothing changed, else only the rows it lacks.
                return live.rows_response(
                    request, page, lambda tasks: _table(form, slug, tasks, request)
                )
            context["page"] = page
            context["table"] = _table(form, slug, page.tasks, request)
            context["summary"] = describe_view(
                form, workspace, count=len(page), later_page=bool(page.previous_page_token)
            )
    context["filters_key"] = _filters_key(form, slug, request)
    return render_fragment(request, "tasks/task_list.html", context, status=status)


def _filters_key(form: TaskFilterForm, slug: str, request: HttpRequest) -> tuple:
    """Everything the filter form's HTML depends on, so it is rendered once per URL and
    shared (template fragment cache): the query, the names offered, and the errors."""
    directory = [(item.sid, item.friendly_name) for item in (*form.queues, *form.workflows)]
    return (slug, request.GET.urlencode(), directory, form.errors.as_json())


def _table(form: TaskFilterForm, slug: str, tasks, request: HttpRequest) -> TaskTable:
    return TaskTable(
        tasks,
        workspace_slug=slug,
        attribute_columns=form.cleaned_data.get("cols") or (),
        order_by=form.cleaned_data.get("sort") or (),
        query={k: request.GET.getlist(k) for k in request.GET if k != "format"},
    )


def describe_view(
    form: TaskFilterForm, workspace: taskrouter.Workspace, *, count: int, later_page: bool
) -> str:
    """What the table shows, in words: its caption, and what the live region announces."""
    data = form.cleaned_data
    statuses = " or ".join(data["status"]) if data["status"] else ""
    noun = "task" if count == 1 else "tasks"
    parts = [f"{count} {statuses + ' ' if statuses else ''}{noun} in {workspace.friendly_name}"]
    if data["queue"]:
        parts.append(f"queue {data['queue'].friendly_name}")
    if data["workflow"]:
        parts.append(f"workflow {data['workflow'].friendly_name}")
    if data["priority"] is not None:
        parts.append(f"priority {data['priority']}")
    if data["where"]:
        parts.append(f"matching {data['where']}")
    if data["addons"]:
        parts.append("with add-ons" if data["addons"] == "yes" else "without add-ons")
    text = ", ".join(parts)
    if data["sort"]:
        words = {"priority": "priority", "created": "creation time", "start": "start time"}
        order = []
        for alias in data["sort"]:
            name = alias.lstrip("-")
            if name == "priority":
                direction = "highest first" if alias.startswith("-") else "lowest first"
            else:
                direction = "newest first" if alias.startswith("-") else "oldest first"
            order.append(f"{words[name]} ({direction})")
        text += ", by " + ", then ".join(order)
    if later_page:  # a page token alone may lead back to the first page
        text += " (a later page)"
    return text + "."


@require_safe
def task_redirect(request: HttpRequest, sid: str) -> HttpResponse:
    """``/tasks/WT.../``: runbooks often know a task but not its workspace."""
    try:
        task = taskrouter.find_task(task_sid=sid)
        workspace = next(w for w in taskrouter.list_workspaces() if w.sid == task.workspace_sid)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    except StopIteration:
        return problem_response(request, taskrouter.NotFound())
    return redirect("task_detail", workspace=taskrouter.workspace_url_name(workspace), sid=sid)
