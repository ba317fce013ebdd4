"""Browsing: the task table, the task page, and the links runbooks use."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_htmx.http import HttpResponseClientRedirect

from tasks_app import counts, exports, live, presentation
from tasks_app.forms import BulkActionForm, TaskFilterForm
from tasks_app.identity import identity_of
from tasks_app.index import holders
from tasks_app.saved_views import pages as saved_views_pages
from tasks_app.tables import TaskTable
from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage import breach
from tasks_app.triage import table as triage_table
from tasks_app.triage import targets as triage_targets
from tasks_app.triage.strip import viewer_zone as strip_zone
from tasks_app.views import audit as audit_views
from tasks_app.views.common import (
    fragment_html,
    problem_response,
    render_fragment,
    status_for,
    templates_version,
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


# The table with no parameters at all: the waiting work, breaching or closest to breaching
# first (tasks_app.triage), as the counts strip counts it. Any parameter, even
# an empty one, means exactly what it says, so runbook links keep their meaning.
LANDING = QueryDict(counts.LANDING_QUERY.lstrip("?"))
# Every status, in the same order: one click away from the default view.
ALL_STATUSES = "?" + urlencode({"sort": counts.URGENT_FIRST})


def can_edit(request: HttpRequest) -> bool:
    """Whether this person may change tasks from the table: the one flag behind every
    control that writes (row checkboxes, Edit, the bulk bar, New task). The views behind
    those controls check the role again on the server."""
    identity = identity_of(request)
    return identity is not None and identity.can_edit


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The person's landing view (tasks_app.saved_views), else the default workspace."""
    landing = saved_views_pages.landing_redirect(request)
    if landing is not None:
        return landing
    try:
        workspace = taskrouter.default_workspace()
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    return redirect("task_list", workspace=workspace.url_name)


@require_safe
@with_workspace
def task_list(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    queues = taskrouter.list_task_queues(workspace_sid=workspace.sid)
    workflows = taskrouter.list_workflows(workspace_sid=workspace.sid)
    if request.htmx and request.htmx.target == "counts":
        # The counts strip on its own, as live refresh asks for it.
        html = counts.strip_html(
            request,
            workspace,
            queues,
            viewer=_viewer(request),
            zone=strip_zone(request),
            targets=triage_targets.shared(workspace.sid),
        )
        return fragment_html(html)

    landing = not request.GET
    form = TaskFilterForm(
        LANDING if landing else known_parameters(request.GET),
        queues=queues,
        workflows=workflows,
        sid_jumps=True,
        workspace_sid=workspace.sid,
    )
    if not form.is_valid():
        context = _page_context(request, workspace, form, landing=landing)
        return render_fragment(request, "tasks/task_list.html", context, status=400)
    if form.jump_sid:
        # A task SID in the search box opens the task, whichever workspace holds it.
        target = reverse("task_redirect", kwargs={"sid": form.jump_sid})
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    if request.GET.get("format") == "csv":
        return exports.tasks_csv(
            workspace=workspace,
            query=form.to_query(),
            attribute_columns=form.cleaned_data["cols"],
            tasks=held_rows(workspace, form, settings.TASKDECK_EXPORT_MAX_ROWS + 1).tasks
            if form.holder_filtered()
            else None,
        )
    live_refresh = bool(request.htmx and request.htmx.target == "task-rows")
    # One read of the service-level targets serves the breach order, the table and the
    # strip; a live refresh that may find nothing changed reads them only if it sorts by them.
    found = None
    if form.arranged_here or not live_refresh:
        found = triage_targets.shared(workspace.sid)
    page, status, problem = _read_page(workspace, form, _viewer(request), found)
    if live_refresh and problem is not None:
        return problem_response(request, problem)  # a live refresh keeps the rows it has
    context = _page_context(request, workspace, form, landing=landing, problem=problem)
    if page is not None:
        if live_refresh and page.stale_because is None:
            # No body when nothing changed, else only the rows the browser lacks.
            return live.rows_response(
                request, page, lambda tasks: _table(context, tasks, page, found)
            )
        context |= _results(request, workspace, form, page, context, queues, found)
    return render_fragment(request, "tasks/task_list.html", context, status=status)


def _page_context(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    form: TaskFilterForm,
    *,
    landing: bool,
    problem: taskrouter.TaskRouterError | None = None,
) -> dict:
    """What the table page shows whatever happened to the read."""
    return {
        "workspace": workspace,
        "workspace_slug": workspace.url_name,
        "form": form,
        "landing": landing,
        "with_agents_url": counts.WITH_AGENTS_QUERY,
        "all_statuses_url": ALL_STATUSES,
        "can_edit": can_edit(request),
        "problem": problem,
        "refresh_seconds": settings.TASKDECK_REFRESH_SECONDS,
        "export_limit": f"{settings.TASKDECK_EXPORT_MAX_ROWS:,}",
        "filters_key": _filters_key(form, workspace.url_name),
        # Drawn only when the template shows it (a live refresh of the rows does not).
        "saved_views_panel": lambda: saved_views_pages.panel_html(request, workspace),
        "partials": {
            "task-view": "tasks/task_list.html#task-view",
            "task-rows": "tasks/_task_table.html#task-rows",
        },
    }


def _viewer(request: HttpRequest) -> str | None:
    """Whose own writes a shared read must not hide (see service.list_tasks)."""
    identity = identity_of(request)
    return identity.username if identity is not None else None


def _read_page(
    workspace: taskrouter.Workspace,
    form: TaskFilterForm,
    viewer: str | None,
    found: triage_targets.Targets | None,
) -> tuple[taskrouter.TaskPage | None, int, taskrouter.TaskRouterError | None]:
    """One page of the table: (the page, 200, None); or None with the status and, for a
    failure that is no field's fault, the problem (a refusal goes to its field). A shared
    read serves the viewer unless it predates their own last write. With an agent
    filter, the page comes from the index (TaskRouter cannot filter by who holds a task)."""
    if form.holder_filtered():
        return held_rows(workspace, form, form.cleaned_data["size"]), 200, None
    try:
        if form.arranged_here:
            # By time to breach: Taskdeck filters and sorts one read of the oldest tasks.
            page = triage_table.arranged_page(
                workspace_sid=workspace.sid,
                query=form.to_query(),
                breach_state=form.cleaned_data["breach"] or None,
                sort=form.cleaned_data["sort"],
                size=form.cleaned_data["size"],
                viewer=viewer,
                found=found,
            )
        else:
            page = taskrouter.list_tasks(
                workspace_sid=workspace.sid,
                query=form.to_query(),
                page_size=form.cleaned_data["size"],
                page_token=form.cleaned_data["page"],
                max_age=settings.TASKROUTER_SHARED_READ_SECONDS,
                viewer=viewer,
            )
    except taskrouter.InvalidParameter as error:
        form.add_error(_FIELD_OF_PARAM.get(error.param or ""), error.user_message)
        return None, 400, None
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
        return None, 400, None
    except taskrouter.TaskRouterError as error:
        return None, status_for(error), error
    return page, 200, None


def held_rows(
    workspace: taskrouter.Workspace, form: TaskFilterForm, limit: int
) -> taskrouter.TaskPage:
    """The table's rows for Taskdeck's agent filters, from the index, with the form's other
    filters applied there too."""
    data = form.cleaned_data
    return holders.held_page(
        workspace.sid,
        worker_sid=data["agent"].sid if data["agent"] else None,
        unavailable=data["holder"] == "unavailable",
        statuses=tuple(data["status"]),
        queue_sid=data["queue"].sid if data["queue"] else None,
        workflow_sid=data["workflow"].sid if data["workflow"] else None,
        priority=data["priority"],
        expression=form.expression(),
        sort=data["sort"],
        limit=limit,
    )


def _results(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    form: TaskFilterForm,
    page: taskrouter.TaskPage,
    context: dict,
    queues: Sequence[taskrouter.TaskQueue],
    found: triage_targets.Targets | None,
) -> dict:
    """The table, its counts and its summary (and the bulk bar for those who may edit)."""
    results: dict = {
        "page": page,
        "counts_html": counts.strip_html(
            request,
            workspace,
            queues,
            viewer=_viewer(request),
            zone=strip_zone(request),
            targets=found if found is not None else triage_targets.shared(workspace.sid),
        ),
        "table": _table(context, page.tasks, page, found),
        "summary": describe_view(
            form, workspace, count=len(page), later_page=bool(page.previous_page_token)
        ),
        "column_choices": presentation.column_choices(
            page.tasks, (column.path for column in form.cleaned_data["cols"])
        ),
    }
    if page.stale_because is not None:  # TaskRouter failed: its last answer, dated
        results["problem"] = taskrouter.Unavailable(
            f"{page.stale_because} These are the last tasks Taskdeck read, as of "
            "the time shown with them."
        )
    if context["can_edit"]:
        # Rendered only when the shared fragment cache does not hold it yet.
        results["bulk_form"] = lambda: BulkActionForm(
            auto_id="bulk-%s", initial={"query": form.data.urlencode()}, queues=form.queues
        )
        results["bulk_bar_key"] = _bulk_bar_key(form, workspace.url_name)
    return results


def known_parameters(query: QueryDict) -> QueryDict:
    """The table's own parameters from ``query``, in the form's order: what a page shows
    depends on these alone. Unknown ones (tracking tags, typos, junk) are dropped here,
    so they reach neither the form, nor the links the page builds, nor any cache key."""
    known = QueryDict(mutable=True)
    for name in TaskFilterForm.base_fields:
        if name in query:
            known.setlist(name, query.getlist(name))
    known._mutable = False
    return known


def _filters_key(form: TaskFilterForm, slug: str) -> tuple:
    """Everything the filter form's HTML depends on, so it is rendered once per query and
    kept (template fragment cache, in each process's memory): the table's own parameters
    in a fixed order, the names offered, and the errors."""
    directory = [(item.sid, item.friendly_name) for item in (*form.queues, *form.workflows)]
    version = templates_version("tasks/task_list.html", "tasks/_filter_field.html")
    return (version, slug, form.data.urlencode(), directory, form.errors.as_json())


def _bulk_bar_key(form: TaskFilterForm, slug: str) -> tuple:
    """Everything the bulk bar's fields depend on (its CSRF token is outside the cached
    part): the same for everyone who may edit and views the same query."""
    version = templates_version("tasks/_bulk_bar.html")
    queues = [(queue.sid, queue.friendly_name) for queue in form.queues]  # "send to" offers them
    return (version, slug, form.data.urlencode(), settings.TASKDECK_BULK_MAX_TASKS, queues)


def _table(
    context: dict,
    tasks: Sequence[taskrouter.Task],
    page: taskrouter.TaskPage,
    found: triage_targets.Targets | None,
) -> TaskTable:
    form = context["form"]
    return TaskTable(
        tasks,
        workspace_slug=context["workspace_slug"],
        attribute_columns=form.cleaned_data.get("cols") or (),
        order_by=form.cleaned_data.get("sort") or (),
        # Sort links start from what the table shows (the landing view's too), so they keep it.
        query={k: form.data.getlist(k) for k in form.data if k != "format"},
        editable=context["can_edit"],
        now=page.read_at,
        targets=found,
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
    if data["q"]:
        parts.append(f"searching for “{data['q']}”")
    if data["where"]:
        parts.append(f"matching {data['where']}")
    if data["addons"]:
        parts.append("with add-ons" if data["addons"] == "yes" else "without add-ons")
    if data.get("breach"):
        parts.append(breach.FILTERS[data["breach"]])
    if data.get("agent"):
        parts.append(f"held by {data['agent'].name or data['agent'].sid}")
    if data.get("holder") == "unavailable":
        parts.append("held by agents who are not available")
    text = ", ".join(parts)
    if data["sort"]:
        words = {
            "priority": "priority",
            "created": "creation time",
            "start": "start time",
            "breach": "time to breach",
        }
        order = []
        for alias in data["sort"]:
            name = alias.lstrip("-")
            if name == "breach":
                direction = "furthest first" if alias.startswith("-") else "closest first"
            elif name == "priority":
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
    except taskrouter.NotFound as error:
        # Deleted or purged: what Taskdeck did to it is still worth showing.
        return audit_views.task_gone(request, sid) or problem_response(request, error)
    except taskrouter.TaskRouterError as error:
        return problem_response(request, error)
    except StopIteration:
        return problem_response(request, taskrouter.NotFound())
    return redirect("task_detail", workspace=workspace.url_name, sid=sid)
