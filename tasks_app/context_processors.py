"""Context every page needs; anything that costs a TaskRouter call is lazy."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tasks_app.taskrouter import service as taskrouter


def _workspaces() -> tuple:
    try:
        return taskrouter.list_workspaces()
    except taskrouter.TaskRouterError:
        return ()  # the page itself reports TaskRouter being down


def taskdeck(request: HttpRequest) -> dict:
    return {
        "using_sandbox": settings.TASKROUTER_BASE_URL == settings.EMBEDDED_SANDBOX_URL,
        "workspaces": SimpleLazyObject(_workspaces),
    }
