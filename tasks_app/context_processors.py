"""Context every page needs; anything that costs a TaskRouter call is lazy."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tasks_app import taskrouter
from tasks_app.taskrouter.client import EMBEDDED_SANDBOX_URL


def _workspaces() -> tuple:
    try:
        return taskrouter.list_workspaces()
    except taskrouter.TaskRouterError:
        return ()  # the page itself reports TaskRouter being down


def taskdeck(request: HttpRequest) -> dict:
    return {
        "using_sandbox": settings.TASKROUTER_BASE_URL == EMBEDDED_SANDBOX_URL,
        "workspaces": SimpleLazyObject(_workspaces),
    }
