"""Context every page needs; anything that costs a TaskRouter call is lazy."""

from django.conf import settings
from django.core.cache import InvalidCacheBackendError, caches
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tasks_app.taskrouter import service as taskrouter


def _workspaces() -> tuple:
    try:
        return taskrouter.list_workspaces()
    except taskrouter.TaskRouterError:
        return ()  # the page itself reports TaskRouter being down


def _cache_down() -> bool:
    """Whether this process found the shared cache down (dashboard/cache.py) while serving
    this page or just before: the page then says why it may be slow."""
    for alias in ("default", "state"):
        try:
            if getattr(caches[alias], "down", False):
                return True
        except InvalidCacheBackendError:
            continue
    return False


def taskdeck(request: HttpRequest) -> dict:
    return {
        "using_sandbox": settings.TASKROUTER_BASE_URL == settings.EMBEDDED_SANDBOX_URL,
        "workspaces": SimpleLazyObject(_workspaces),
        "cache_down": SimpleLazyObject(_cache_down),
    }
