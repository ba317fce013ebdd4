"""The task table by time to breach: filtered and sorted by Taskdeck, which TaskRouter
cannot do, over one shared read of the oldest matching tasks (breach.READ_LIMIT)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from django.conf import settings

from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage import breach, targets


def arranged_page(
    *,
    workspace_sid: str,
    query: taskrouter.TaskQuery,
    breach_state: str | None,
    sort: Sequence[str],
    size: int,
    viewer: str | None,
    found: targets.Targets | None = None,
) -> taskrouter.TaskPage:
    """One page of at most ``size`` tasks: those of ``query`` in ``breach_state`` (any,
    without one), closest to breaching first when ``sort`` asks for it. No page links:
    the page holds the first ``size`` of them. ``capped`` (an attribute): more tasks
    matched than one read covers. ``found``: the workspace's targets, when the caller
    has them already."""
    page = taskrouter.list_tasks(
        workspace_sid=workspace_sid,
        query=query,
        page_size=breach.READ_LIMIT,
        max_age=settings.TASKROUTER_SHARED_READ_SECONDS,
        viewer=viewer,
    )
    if found is None:
        found = targets.load(workspace_sid)
    now = datetime.now(UTC)
    tasks: Sequence[taskrouter.Task] = page.tasks
    if breach_state:
        tasks = breach.matching(tasks, found, now, breach_state)
    if any(alias.lstrip("-") == "breach" for alias in sort):
        reverse = any(alias == "-breach" for alias in sort)
        tasks = breach.closest_first(tasks, found, now, reverse=reverse)
    return replace(page, tasks=tuple(tasks[:size]), next_page_url=None, previous_page_url=None)
