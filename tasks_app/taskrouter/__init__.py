"""The service module: the only code in Taskdeck that talks to TaskRouter.

Import what you need from here::

    from tasks_app import taskrouter
    query = taskrouter.TaskQuery(statuses=("pending",))
    page = taskrouter.list_tasks(workspace_sid=ws.sid, query=query)

`rules`, `expressions` and `errors` are pure Python (the sandbox uses them too); the
functions below need Django settings.
"""

from importlib import import_module
from typing import TYPE_CHECKING

# Exports load on first use (PEP 562): the sandbox imports `rules`, `expressions` and
# `errors` from this package and must not pull in Django or requests by doing so.
_EXPORTS = {
    "errors": (
        "AuthenticationFailed",
        "InvalidParameter",
        "Misconfigured",
        "NotFound",
        "PreconditionFailed",
        "RateLimited",
        "Rejected",
        "TaskRouterError",
        "Unavailable",
    ),
    "resources": ("Task", "TaskChannel", "TaskPage", "TaskQueue", "Workflow", "Workspace"),
    "query": ("TaskQuery",),
    "service": (
        "create_task",
        "default_workspace",
        "delete_task",
        "fetch_task",
        "find_task",
        "iter_tasks",
        "list_task_channels",
        "list_task_queues",
        "list_tasks",
        "list_workflows",
        "list_workspaces",
        "resolve_workspace",
        "update_task",
        "workspace_url_name",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "AuthenticationFailed",
    "InvalidParameter",
    "Misconfigured",
    "NotFound",
    "PreconditionFailed",
    "RateLimited",
    "Rejected",
    "Task",
    "TaskChannel",
    "TaskPage",
    "TaskQuery",
    "TaskQueue",
    "TaskRouterError",
    "Unavailable",
    "Workflow",
    "Workspace",
    "create_task",
    "default_workspace",
    "delete_task",
    "fetch_task",
    "find_task",
    "iter_tasks",
    "list_task_channels",
    "list_task_queues",
    "list_tasks",
    "list_workflows",
    "list_workspaces",
    "resolve_workspace",
    "update_task",
    "workspace_url_name",
]


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .errors import (
        AuthenticationFailed,
        InvalidParameter,
        Misconfigured,
        NotFound,
        PreconditionFailed,
        RateLimited,
        Rejected,
        TaskRouterError,
        Unavailable,
    )
    from .query import TaskQuery
    from .resources import Task, TaskChannel, TaskPage, TaskQueue, Workflow, Workspace
    from .service import (
        create_task,
        default_workspace,
        delete_task,
        fetch_task,
        find_task,
        iter_tasks,
        list_task_channels,
        list_task_queues,
        list_tasks,
        list_workflows,
        list_workspaces,
        resolve_workspace,
        update_task,
        workspace_url_name,
    )
