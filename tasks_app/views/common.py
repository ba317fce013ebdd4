"""What every view shares: rendering pages or the part htmx asked for, and problems."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from tasks_app import taskrouter


def render_fragment(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Render a page, or only the partial htmx asked for; either way marked for htmx so
    error answers (4xx/5xx) are swapped in where the user is (see static/js/taskdeck.js)."""
    target = request.htmx.target if request.htmx else None
    partials = context.pop("partials", {})
    name = partials.get(target, template) if target else template
    response = render(request, name, context, status=status)
    response["Taskdeck-Fragment"] = "1"
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


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
