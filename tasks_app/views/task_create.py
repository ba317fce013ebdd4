"""Creating a task."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from tasks_app.forms import CreateTaskForm
from tasks_app.identity import actor_of, require_role
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.common import render_fragment, with_workspace

# TaskRouter's parameter names -> the form's fields, to put a refusal where it belongs.
_FIELD_OF_PARAM = {
    "Attributes": "attributes",
    "Priority": "priority",
    "Timeout": "timeout",
    "TaskChannel": "task_channel",
    "WorkflowSid": "workflow",
    "VirtualStartTime": "virtual_start_time",
}


def _create(request: HttpRequest, workspace: taskrouter.Workspace, form: CreateTaskForm):
    """The task, or None with the reason added to the form (the input stays in it)."""
    try:
        return taskrouter.create_task(
            actor=actor_of(request), workspace_sid=workspace.sid, **form.create_kwargs()
        )
    except taskrouter.InvalidParameter as error:
        form.add_error(_FIELD_OF_PARAM.get(error.param or ""), error.user_message)
    except taskrouter.Rejected as error:
        form.add_error(None, error.user_message)
    except taskrouter.TaskRouterError as error:
        form.add_error(None, f"{error.user_message} Your input is kept below.")
        form.failure = error
    return None


@require_http_methods(["GET", "POST"])
@require_role("editor")
@with_workspace
def task_create(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    channels = taskrouter.list_task_channels(workspace_sid=workspace.sid)
    workflows = taskrouter.list_workflows(workspace_sid=workspace.sid)
    data = request.POST if request.method == "POST" else None
    form = CreateTaskForm(data, channels=channels, workflows=workflows)
    status = 200
    if data is not None:
        task = _create(request, workspace, form) if form.is_valid() else None
        if task is not None:
            queue = task.task_queue_friendly_name or "chosen by the workflow"
            messages.success(request, f"Created task {task.sid} in queue {queue}.")
            target = reverse("task_detail", args=[workspace.url_name, task.sid])
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
        failure = getattr(form, "failure", None)
        status = failure.page_status if failure else 422
    context = {
        "workspace": workspace,
        "form": form,
        "partials": {"create-form": "tasks/task_create.html#create-form"},
    }
    return render_fragment(request, "tasks/task_create.html", context, status=status)
