"""What every view shares: the workspace in the URL, who is acting, rendering pages or
the part htmx asked for, and TaskRouter problems answered in one place."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import replace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.utils.cache import patch_vary_headers

from tasks_app import editing
from tasks_app.identity import actor_of
from tasks_app.taskrouter import service as taskrouter
from tasks_app.timeline import who


def with_workspace(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Views under /w/<workspace>/ get the Workspace itself (named by SID or friendly
    name in the URL). A TaskRouter error that escapes the view (or the lookup) becomes
    the problem response here, so views handle only what concerns their own fields."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, workspace: str, **kwargs) -> HttpResponse:
        try:
            resolved = taskrouter.resolve_workspace(workspace)
            return view(request, resolved, *args, **kwargs)
        except taskrouter.TaskRouterError as error:
            return problem_response(request, error)

    return wrapper


@functools.cache
def templates_version(*names: str) -> str:
    """A short digest of these templates' source, for keys of fragments cached in the
    shared cache: instances running another release (during a deploy) then never serve
    each other's markup."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()[:12]


def session_owner(request: HttpRequest, *, start: bool = False) -> str | None:
    """What a bulk job belongs to: this browser session (and the signed-in person).
    Only ``start`` (a POST that creates a job) saves a new session; a browser without one
    owns nothing, so reading a job's page never writes to the database."""
    if request.session.session_key is None:
        if not start:
            return None
        request.session.save()
    return f"{actor_of(request)}|{request.session.session_key}"


def fragment_response(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Render ``template`` marked as Taskdeck's own answer, so static/js/taskdeck.js swaps
    it in where the user is even for a 4xx/5xx (htmx 2 would not by default)."""
    response = render(request, template, context, status=status)
    response["Taskdeck-Fragment"] = "1"
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def fragment_html(html: str, *, status: int = 200) -> HttpResponse:
    """Markup already rendered, answered as `fragment_response` answers a template."""
    response = HttpResponse(html, status=status)
    response["Taskdeck-Fragment"] = "1"
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def render_fragment(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Render a page, or only the partial htmx asked for (``context["partials"]`` maps
    HX-Target ids to ``template#partial`` names)."""
    target = request.htmx.target if request.htmx else None
    partials = context.pop("partials", {})
    name = partials.get(target, template) if target else template
    return fragment_response(request, name, context, status=status)


def problem_response(request: HttpRequest, error: taskrouter.TaskRouterError) -> HttpResponse:
    """A page that could not be built at all. htmx gets only the banner: in place of what
    it asked to read, or, for a write, in the page's alert area, so the form the person
    typed into stays as it is."""
    context: dict = {"error": error}
    if request.htmx and request.method != "GET":
        response = fragment_response(
            request, "error.html#problem", context, status=error.page_status
        )
        response["HX-Retarget"] = "#alerts"
        response["HX-Reswap"] = "innerHTML"
        return response
    context["partials"] = {request.htmx.target: "error.html#problem"} if request.htmx else {}
    return render_fragment(request, "error.html", context, status=error.page_status)


def status_for(error: taskrouter.TaskRouterError) -> int:
    return error.page_status


def edit_from_request(
    form: type, request: HttpRequest, workspace: taskrouter.Workspace, sid: str
) -> editing.EditResult:
    """The edit flow for a form posted to one of the task's views: the page's version
    tokens, the person both as the tokens' owner and as the writes' actor. A conflict
    says who changed the task since the person read it."""
    result = editing.run_edit(
        form,
        request.POST,
        tokens=editing.tokens_in(request.POST),
        owner=actor_of(request),
        actor=actor_of(request),
        workspace_sid=workspace.sid,
        task_sid=sid,
    )
    conflict = result.conflict
    if result.kind == "conflict" and conflict is not None and conflict.seen_version:
        changed_by = who.changes_since(
            workspace_sid=workspace.sid,
            task_sid=sid,
            seen=conflict.seen_version,
            now=conflict.now.etag or "",
        )
        result.conflict = replace(conflict, changed_by=changed_by)
    return result
