"""The service-level targets page: admins set a target wait per queue and per channel."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from tasks_app.identity import actor_of, require_role
from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage import targets
from tasks_app.views.common import render_fragment, with_workspace


@require_http_methods(["GET", "POST"])
@require_role("admin")
@with_workspace
def sla_targets(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    """Every queue with its targets; a POST saves one queue's (``queue`` names it)."""
    queues = taskrouter.list_task_queues(workspace_sid=workspace.sid)
    channels = taskrouter.list_task_channels(workspace_sid=workspace.sid)
    current = targets.load(workspace.sid)
    posted = request.POST.get("queue") if request.method == "POST" else None
    forms, saved, status = [], [], 200
    for queue in sorted(queues, key=lambda q: q.friendly_name.casefold()):
        data = request.POST if queue.sid == posted else None
        form = targets.QueueTargetsForm(data, queue=queue, channels=channels, targets=current)
        if data is not None:
            if form.is_valid():
                saved = targets.save(
                    actor=actor_of(request),
                    workspace_sid=workspace.sid,
                    queue=queue,
                    wanted=form.wanted(),
                )
                text = "; ".join(saved) if saved else f"No change to {queue.friendly_name}."
                if not request.htmx:
                    messages.success(request, text)
                    return redirect("sla_targets", workspace=workspace.url_name)
                current = targets.load(workspace.sid)
                form = targets.QueueTargetsForm(
                    None, queue=queue, channels=channels, targets=current
                )
                form.saved = text
            else:
                status = 422  # the form keeps what was typed, with the message beside it
        forms.append(form)
    if posted and not any(f.queue.sid == posted for f in forms):
        status = 404
    context = {
        "workspace": workspace,
        "forms": forms,
        "default": current.default,
        "wait_help": targets.WAIT_HELP,
        "partials": {f"targets-{posted}": "tasks/sla_targets.html#queue-form"} if posted else {},
    }
    if posted and request.htmx:
        context["form"] = next((f for f in forms if f.queue.sid == posted), None)
    return render_fragment(request, "tasks/sla_targets.html", context, status=status)
