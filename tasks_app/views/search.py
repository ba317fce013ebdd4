"""``/search/?q=``: the header's search box, answered from Taskdeck's task index."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from tasks_app.index import search as index_search
from tasks_app.taskrouter import service as taskrouter


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """Every task the index holds that matches, open ones first; one match (or a task SID)
    opens that task, which is what Enter in the box is for. Nothing here asks TaskRouter:
    search works over closed and deleted tasks, and while TaskRouter is down."""
    text = request.GET.get("q")
    context: dict = {"search_text": text or ""}
    if text is None:  # the page itself, before any search
        return render(request, "search/search.html", context)
    try:
        query = index_search.parse(text)
    except index_search.SearchError as error:
        context["search_error"] = str(error)
        return render(request, "search/search.html", context, status=400)
    results = index_search.find(query)
    urls = _workspace_urls()
    if results.single is not None:
        return redirect(task_url(results.single, urls))
    if query.sid is not None:  # not indexed (yet): TaskRouter may still know it
        return redirect("task_redirect", sid=query.sid)
    context["results"] = results
    context["rows"] = [(hit, task_url(hit, urls)) for hit in results.hits]
    return render(request, "search/search.html", context)


def _workspace_urls() -> dict[str, str]:
    """Workspace SID -> how Taskdeck's URLs name it (its friendly name when that reads
    well); empty when TaskRouter cannot say, and links then use the SID."""
    try:
        return {ws.sid: ws.url_name for ws in taskrouter.list_workspaces()}
    except taskrouter.TaskRouterError:
        return {}


def task_url(hit: index_search.Hit, workspace_urls: dict[str, str]) -> str:
    """A deleted task opens ``/tasks/<sid>/``, where Taskdeck shows what it remembers; a
    task TaskRouter still has opens its page in its workspace."""
    task = hit.task
    if hit.deleted:
        return reverse("task_redirect", kwargs={"sid": task.sid})
    workspace = workspace_urls.get(task.workspace_sid, task.workspace_sid)
    return reverse("task_detail", kwargs={"workspace": workspace, "sid": task.sid})
