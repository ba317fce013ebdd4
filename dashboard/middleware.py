"""Responses that hold customer data are never stored by a browser or a proxy."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

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
