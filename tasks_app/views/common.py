"""What every view shares: rendering pages or the part htmx asked for, and problems."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from tasks_app.taskrouter import service as taskrouter


def with_workspace(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Views under /w/<workspace>/ get the Workspace itself (named by SID or friendly
    name in the URL); an unknown one, or TaskRouter failing, answers with the problem."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, workspace: str, **kwargs) -> HttpResponse:
        try:
            resolved = taskrouter.resolve_workspace(workspace)
        except taskrouter.TaskRouterError as error:
            return problem_response(request, error)
        return view(request, resolved, *args, **kwargs)

    return wrapper


def fragment_response(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Render ``template`` marked as Taskdeck's own answer, so static/js/taskdeck.js swaps
    it in where the user is even for a 4xx/5xx (htmx 2 would not by default)."""
    response = render(request, template, context, status=status)
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
    """A page that could not be built at all; htmx gets only the banner."""
    partials = {request.htmx.target: "error.html#problem"} if request.htmx else {}
    context = {"error": error, "partials": partials}
    return render_fragment(request, "error.html", context, status=status_for(error))


def status_for(error: taskrouter.TaskRouterError) -> int:
    if isinstance(error, taskrouter.NotFound):
        return 404
    if isinstance(error, taskrouter.InvalidParameter | taskrouter.Rejected):
        return 400
    if isinstance(error, taskrouter.PreconditionFailed):
        return 412
    if isinstance(error, taskrouter.Unavailable | taskrouter.RateLimited):
        return 503
    return 502
