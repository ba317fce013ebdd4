"""Bulk actions: record a job, let a worker preview and write it, show its progress.

No request reads or writes the tasks themselves: a worker does (tasks_app/tasks.py), and
the job's page polls for progress while it is reading or writing."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from tasks_app import bulk
from tasks_app.forms import BulkActionForm, TaskFilterForm
from tasks_app.identity import actor_of, require_role
from tasks_app.models import BulkJob
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.browse import held_rows
from tasks_app.views.common import (
    render_fragment,
    session_owner,
    status_for,
    with_workspace,
)

_PANEL = {"bulk-panel": "tasks/bulk_job.html#bulk-panel"}


def _job(request: HttpRequest, token: str) -> BulkJob:
    owner = session_owner(request)
    job = BulkJob.objects.filter(token=token, owner=owner).first() if owner else None
    if job is None:
        raise Http404("No such bulk action (they belong to the session that started them).")
    return job


def _render(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    job: BulkJob | None,
    *,
    form: BulkActionForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    slug = workspace.url_name
    context = {
        "workspace": workspace,
        "workspace_slug": slug,
        "job": job,
        "form": form,
        "problem": problem,
        "partials": _PANEL,
    }
    if job is not None:
        numbers = bulk.counts(job)  # one query; the summary and the state derive from it
        summary = bulk.summary(numbers)
        context |= {
            "items": list(job.items.all()),
            "reading": bulk.is_reading(job),
            "summary": summary,
            # Announced when the job ends, and again ahead of the table refresh it causes.
            "outcome": f"Bulk action finished: {summary}.",
            "counts": numbers,
            "queue_name": _queue_name(workspace, job.queue_sid),
            "running": bulk.is_running(job, numbers),
            "job_url": reverse("bulk_job", args=[slug, job.token]),
            "run_url": reverse("bulk_run", args=[slug, job.token]),
            "undo_url": reverse("bulk_undo", args=[slug, job.token]),
            "undo_until": bulk.undo_until(job),
            "now": timezone.now(),
            "back_url": reverse("task_list", args=[slug])
            + (f"?{job.selection}" if job.selection and job.selection != "selected" else ""),
        }
    return render_fragment(request, "tasks/bulk_job.html", context, status=status)


def _queue_name(workspace: taskrouter.Workspace, sid: str) -> str:
    if not sid:
        return ""
    try:
        queues = taskrouter.list_task_queues(workspace_sid=workspace.sid)
    except taskrouter.TaskRouterError:
        return sid
    return next((q.friendly_name for q in queues if q.sid == sid), sid)


@require_POST
@require_role("editor")
@with_workspace
def bulk_preview(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    """Read the chosen tasks and show what the action would do to each (nothing written)."""
    form = BulkActionForm(
        request.POST, queues=taskrouter.list_task_queues(workspace_sid=workspace.sid)
    )
    if not form.is_valid():
        return _render(request, workspace, None, form=form, status=422)
    data = form.cleaned_data
    if data["everything"]:
        try:
            queues = taskrouter.list_task_queues(workspace_sid=workspace.sid)
            workflows = taskrouter.list_workflows(workspace_sid=workspace.sid)
        except taskrouter.TaskRouterError as error:
            form.add_error(None, error.user_message)
            return _render(request, workspace, None, form=form, status=status_for(error))
        filters = TaskFilterForm(
            QueryDict(data["query"]),
            queues=queues,
            workflows=workflows,
            workspace_sid=workspace.sid,
        )
        if not filters.is_valid():
            form.add_error(None, "The table's filter is not valid; fix it before a bulk action.")
            return _render(request, workspace, None, form=form, status=422)
        clean_query = {k: v for k, v in QueryDict(data["query"]).lists() if k not in ("page",)}
        if filters.holder_filtered():
            # TaskRouter cannot select by holder: the tasks the index holds for the filter.
            held = held_rows(workspace, filters, settings.TASKDECK_BULK_MAX_TASKS + 1)
            selection = bulk.Selection(
                sids=tuple(task.sid for task in held.tasks),
                description=urlencode(clean_query, doseq=True),
            )
        else:
            selection = bulk.Selection(
                query=filters.to_query(),
                description=urlencode(clean_query, doseq=True),
                breach=filters.cleaned_data["breach"] or None,
            )
    else:
        selection = bulk.Selection(sids=tuple(data["task"]), description="selected")
    try:
        job = bulk.create(
            actor=actor_of(request),
            owner=session_owner(request, start=True),
            workspace_sid=workspace.sid,
            action=data["action"],
            reason=data["reason"],
            priority=data["priority"],
            selection=selection,
            queue_sid=data["queue"] if data["action"] == BulkJob.Action.SEND else "",
        )
    except bulk.QueueUnavailable as error:
        # Nothing was kept; the bar and its ticked rows are untouched, so asking again
        # is one click once the queue is back.
        form.add_error(
            None, f"{error.user_message} Nothing was recorded; your selection is still here."
        )
        return _render(request, workspace, None, form=form, status=503)
    if not request.htmx:
        return redirect("bulk_job", workspace=workspace.url_name, token=job.token)
    return _render(request, workspace, job)


@require_safe
@with_workspace
def bulk_job(request: HttpRequest, workspace: taskrouter.Workspace, token: str) -> HttpResponse:
    """A job's preview, progress or results; it stays available afterwards."""
    return _render(request, workspace, _job(request, token))


@require_POST
@require_role("editor")
@with_workspace
def bulk_run(request: HttpRequest, workspace: taskrouter.Workspace, token: str) -> HttpResponse:
    """Start a previewed job, or retry its failed writes: a worker does the writing, so
    the browser may close; the answer is the progress, which polls until the job ends."""
    job = _job(request, token)
    step = request.POST.get("step", "start")
    try:
        if step == "start" and job.started is None and job.prepared is not None:
            bulk.start(job)
        elif step == "retry":
            bulk.retry_failed(job)
    except bulk.QueueUnavailable as error:
        job.refresh_from_db()  # as it was before the click: nothing started, nothing written
        problem = f"{error.user_message} Nothing was written; try again in a moment."
        return _render(request, workspace, job, problem=problem, status=503)
    job.refresh_from_db()
    if not request.htmx:
        return redirect("bulk_job", workspace=workspace.url_name, token=job.token)
    return _render(request, workspace, job)


@require_POST
@require_role("editor")
@with_workspace
def bulk_undo(request: HttpRequest, workspace: taskrouter.Workspace, token: str) -> HttpResponse:
    """Undo a finished priority job (within TASKDECK_UNDO_SECONDS of its end): a new job
    writes each task's earlier priority back at the version this job's write produced,
    so a task changed since is a conflict, not overwritten. Answers with the new job."""
    job = _job(request, token)
    until = bulk.undo_until(job)
    if until is None or until < timezone.now():
        problem = "This bulk change can no longer be undone here; revert a task from its timeline."
        return _render(request, workspace, job, problem=problem, status=409)
    try:
        undo = bulk.create_undo(job, actor=actor_of(request), owner=session_owner(request))
    except bulk.QueueUnavailable as error:
        problem = f"{error.user_message} Nothing was written; try again in a moment."
        return _render(request, workspace, job, problem=problem, status=503)
    target = reverse("bulk_job", args=[workspace.url_name, undo.token])
    if not request.htmx:
        return redirect(target)
    return HttpResponseClientRedirect(target)
