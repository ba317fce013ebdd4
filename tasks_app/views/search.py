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
    try:
        page = index_search.page_number(request.GET.get("page"))
    except index_search.PageError as error:
        page, context["page_error"] = 1, str(error)
    results = index_search.find(query, page=page)
    link = TaskLinks()
    if results.single is not None:
        return redirect(link(results.single))
    if query.sid is not None:  # not indexed (yet): TaskRouter may still know it
        return redirect("task_redirect", sid=query.sid)
    if results.past_the_end is not None:
        context["page_error"] = (
            f"There is no page {results.past_the_end} of these matches (fewer match now than "
            f"when the link was made, or the number was typed): the last, page "
            f"{results.page}, is shown."
        )
    context["results"] = results
    context["rows"] = [(hit, link(hit)) for hit in results.hits]
    status = 400 if "page_error" in context else 200
    return render(request, "search/search.html", context, status=status)


def _workspace_urls() -> dict[str, str]:
    """Workspace SID -> how Taskdeck's URLs name it (its friendly name when that reads
    well); empty when TaskRouter cannot say, and links then use the SID."""
    try:
        return {ws.sid: ws.url_name for ws in taskrouter.list_workspaces()}
    except taskrouter.TaskRouterError:
        return {}


# Stands for a task's SID while a link is reversed once per workspace.
_SID = "WT" + "0" * 32


class TaskLinks:
    """Each hit's link: a deleted task opens ``/tasks/<sid>/``, where Taskdeck shows what it
    remembers; a task TaskRouter still has opens its page in its workspace. URLs are
    reversed once per workspace, not once per hit (``reverse`` is the page's dearest call)."""

    def __init__(self) -> None:
        self._names: dict[str, str] | None = None
        self._patterns: dict[str, str] = {}

    def __call__(self, hit: index_search.Hit) -> str:
        task = hit.task
        key = "" if hit.deleted else task.workspace_sid
        pattern = self._patterns.get(key)
        if pattern is None:
            pattern = self._patterns[key] = self._pattern(key)
        return pattern.replace(_SID, task.sid)

    def _pattern(self, workspace_sid: str) -> str:
        if not workspace_sid:
            return reverse("task_redirect", kwargs={"sid": _SID})
        if self._names is None:
            self._names = _workspace_urls()
        workspace = self._names.get(workspace_sid, workspace_sid)
        return reverse("task_detail", kwargs={"workspace": workspace, "sid": _SID})
