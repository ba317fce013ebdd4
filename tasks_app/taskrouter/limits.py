"""TaskRouter's rate limits, written once: Taskdeck's fleet-wide budget spends them and the
sandbox enforces them (``runsandbox --rate-limits``).

What Twilio documents:
- Limits are per account and per endpoint, named by a resource key such as
  ``Task-List-EvaluateTaskAttributes`` (the naming of TaskRouter's rate-limit events and of
  the X-Rate-Limit-Config header).
- "When API rate limits are calculated, they are averaged over 10 seconds": a spike is
  fine as long as the average over 10 s stays within the per-second limit.
- Published per-endpoint limits (Twilio changelog, 2024-10-18): 3 requests per second for
  ``Task-List-EvaluateTaskAttributes``, ``Worker-List-TargetWorkersExpression`` and
  ``TaskQueue-List-EvaluateWorkerAttributes``. Twilio's rate-limit event example shows
  ``TaskQueueStatistics-List`` at 50.
- Bulk TaskQueue real-time statistics (``POST TaskQueues/RealTimeStatistics``): 5 requests
  per second (Twilio's TaskQueue statistics page and its changelog of the bulk API).
- Every other default is shown only in the Console ("Limits" page of a workspace) and is
  not published. Taskdeck assumes 50 per second (the sandbox's figure) and lets a
  deployment set the real ones: TASKDECK_RATE_LIMITS="Task-Update=20,Task-Fetch=40".
- An answer over the limit is 429 with code 20429; it was not processed and is safe to
  retry. Twilio documents no Retry-After for TaskRouter.

Pure Python, no Django: the sandbox imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

WINDOW_SECONDS = 10
DEFAULT_LIMIT = 50
LIMITS: Mapping[str, int] = {
    "Task-List-EvaluateTaskAttributes": 3,
    "Worker-List-TargetWorkersExpression": 3,
    "TaskQueue-List-EvaluateWorkerAttributes": 3,
    "TaskQueueStatistics-List": 50,
    "TaskQueueBulkRealTimeStatistics-Create": 5,
}
# The list filters with their own, lower limit: (resource, parameter) -> key suffix.
_EXPRESSION_FILTERS = {
    "Task": "EvaluateTaskAttributes",
    "Worker": "TargetWorkersExpression",
    "TaskQueue": "EvaluateWorkerAttributes",
}
_SINGULAR = {
    "Workspaces": "Workspace",
    "Tasks": "Task",
    "TaskQueues": "TaskQueue",
    "Workflows": "Workflow",
    "TaskChannels": "TaskChannel",
    "Workers": "Worker",
    "Activities": "Activity",
    "Reservations": "Reservation",
    "Events": "Event",
}
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def resource_key(method: str, path: str, parameters: Iterable[str] = ()) -> str:
    """The rate-limit key of a request: ``Task-List``, ``Task-Fetch``, ``Task-Update``,
    ``Task-List-EvaluateTaskAttributes``... ``path`` is the URL path (with or without the
    ``/v1`` prefix); ``parameters`` the names of its query parameters."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s and s != "v1"]
    names = set(parameters)
    if "?" in path:
        names |= {pair.split("=", 1)[0] for pair in path.split("?", 1)[1].split("&") if pair}
    by_sid = bool(segments) and bool(_SID.match(segments[-1]))
    collections = [s for s in segments if not _SID.match(s)]
    last = collections[-1] if collections else "Workspaces"
    if last.endswith("Statistics") and len(collections) > 1:
        parent = _SINGULAR.get(collections[-2], collections[-2])
        if method.upper() == "POST" and parent == "TaskQueue" and not by_sid:
            return "TaskQueueBulkRealTimeStatistics-Create"
        if len(segments) > 1 and _SID.match(segments[-2]):  # one resource's statistics
            return f"{parent}{last}-Fetch"
        return f"{parent}{last}-List"  # every queue's statistics in one paged list
    resource = _SINGULAR.get(last, last)
    method = method.upper()
    if method in ("GET", "HEAD"):
        action = "Fetch" if by_sid else "List"
    elif method == "DELETE":
        action = "Delete"
    else:
        action = "Update" if by_sid else "Create"
    key = f"{resource}-{action}"
    expression = _EXPRESSION_FILTERS.get(resource)
    if action == "List" and expression and expression in names:
        key += f"-{expression}"
    return key


def request_key(method: str, url: str, params: Any = None) -> str:
    """The resource key of one HTTP call: ``url`` (absolute or a path, perhaps with a query,
    as a next_page_url is) and ``params`` (a mapping or name-value pairs) as sent."""
    parts = urlsplit(url)
    if not params:
        names: list[str] = []
    elif isinstance(params, Mapping):
        names = list(params)
    else:
        names = [name for name, _ in params]
    if parts.query:
        names += [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
    return resource_key(method, parts.path, names)


def limit_for(key: str, overrides: Mapping[str, int] | None = None) -> int:
    """Requests per second allowed for ``key`` (averaged over WINDOW_SECONDS)."""
    if overrides and key in overrides:
        return overrides[key]
    return LIMITS.get(key, DEFAULT_LIMIT)


def parse_overrides(text: str) -> dict[str, int]:
    """``"Task-Update=20,Task-Fetch=40"`` -> {"Task-Update": 20, "Task-Fetch": 40}."""
    overrides: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key.strip() or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"{item!r} is not KEY=REQUESTS_PER_SECOND (a whole number, 1 or more)")
        overrides[key.strip()] = int(value)
    return overrides
