"""Project-wide middleware: health probes answered whatever the Host, and responses that
hold customer data never stored by a browser or a proxy."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.urls import resolve

from tasks_app.taskrouter import client


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response Django makes: pages, htmx fragments,
    CSV exports, redirects and error pages all carry task data or lead to it, and a shared
    computer's back button or a caching proxy must not keep them.

    Listed right after WhiteNoise, which answers static files itself before this runs, so
    their long-lived caching stays as it is."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response


class TaskRouterDeadlineMiddleware:
    """One deadline for every TaskRouter call a request makes (TASKROUTER_PAGE_DEADLINE):
    a slow TaskRouter costs a page a few seconds and a clear message, and workers are
    free again for everyone else. A streamed CSV runs after this returns; each of its
    calls then has a deadline of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with client.page_deadline():
            return self.get_response(request)


# The load balancer's and Kubernetes' probes: they address the instance by its own IP.
PROBE_PATHS = frozenset({"/livez", "/readyz"})


class ProbesMiddleware:
    """``/livez`` and ``/readyz`` answer whatever the Host header says. Probes address a
    pod or a machine by its IP, which is not in DJANGO_ALLOWED_HOSTS; Django's host check
    (in the middleware below this one) would answer 400 and log a traceback on every probe.
    The probes are answered here, before anything reads the Host, by their views from the
    URL conf; every other path still has its Host checked. They reveal nothing (an "ok" and
    which engines answer), so answering any Host gives nothing away."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info not in PROBE_PATHS:
            return self.get_response(request)
        match = resolve(request.path_info)
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
