"""Counting a view from Taskdeck's index, never from TaskRouter.

A view's query is the task table's: ``status``, ``queue``, ``workflow``, ``priority``,
``where`` (a TaskRouter expression, evaluated by the same module the sandbox uses) and
``q`` (the search box, turned into the same expression the table sends; a task SID
searched for only opens that task, so it filters nothing). The database
narrows by status, queue, workflow and priority; the expression is evaluated in Python
over what is left. ``sort``, ``cols``, ``size`` and ``page`` change how the table shows
the tasks, not which ones, so they do not change the count; nor does ``addons``, which the
index does not know (TaskRouter's events do not say).

Without a status the view counts the open tasks (pending, reserved, assigned, wrapping):
closed tasks wait for nobody. An empty query is the table's landing view (the waiting
work). The oldest wait is the age of the longest-waiting counted task, from the moment it
entered its queue (or was created, when the index does not know that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs

from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from tasks_app import counts, search
from tasks_app.index.models import IndexedTask
from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import parse_expression


@dataclass(frozen=True)
class Figures:
    count: int
    oldest_wait_seconds: int | None  # None: nothing counted
    # The expression could not be read (a view saved before a rule changed): counted as 0.
    problem: str = ""

    @property
    def oldest_wait_text(self) -> str:
        return wait_text(self.oldest_wait_seconds)


def wait_text(seconds: int | None) -> str:
    if seconds is None:
        return "nothing waiting"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _values(params: dict[str, list[str]], name: str) -> list[str]:
    return [v.strip() for value in params.get(name, []) for v in value.split(",") if v.strip()]


def _first(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[-1].strip()


def parameters(query: str) -> dict[str, list[str]]:
    query = (query or "").lstrip("?")
    if not query.strip():
        query = counts.LANDING_QUERY.lstrip("?")
    return parse_qs(query, keep_blank_values=True)


def expression_of(params: dict[str, list[str]]) -> str:
    """The view's ``where`` and its search, as the table combines them (a SID searched for
    is no filter: it only opens that task)."""
    where = _first(params, "where")
    text = _first(params, "q")
    searched = ""
    if text and search.task_sid_in(text) is None:
        searched = search.search_expression(text)
    return search.combined(where, searched)


def count(workspace_sid: str, query: str, *, now: datetime | None = None) -> Figures:
    """How many of the workspace's tasks the view's query matches now, by the index."""
    now = now or timezone.now()
    params = parameters(query)
    statuses = [s for s in _values(params, "status") if s in rules.STATUSES]
    tasks = IndexedTask.objects.filter(
        workspace_sid=workspace_sid,
        deleted_at__isnull=True,
        status__in=statuses or rules.OPEN_STATUSES,
    )
    for name, sid_field, name_field, prefix in (
        ("queue", "queue_sid", "queue_name", "WQ"),
        ("workflow", "workflow_sid", "workflow_name", "WW"),
    ):
        value = _first(params, name)
        if value:
            if value.startswith(prefix) and len(value) == 34:
                tasks = tasks.filter(**{sid_field: value})
            else:
                tasks = tasks.filter(**{f"{name_field}__iexact": value})
    priority = _first(params, "priority")
    if priority:
        try:
            tasks = tasks.filter(priority=int(priority))
        except ValueError:
            return Figures(0, None, f"priority {priority!r} is not a number")
    try:
        text = expression_of(params)
        expression = parse_expression(text, param="where") if text else None
    except (InvalidParameter, search.SearchTextError) as error:
        message = getattr(error, "user_message", None) or str(error)
        return Figures(0, None, message)
    if expression is None:  # the database counts alone
        found = tasks.aggregate(
            number=Count("pk"), oldest=Min(Coalesce("queue_entered_at", "created_at"))
        )
        oldest = found["oldest"]
        wait = None if oldest is None else max(0, int((now - oldest).total_seconds()))
        return Figures(found["number"], wait)
    number, oldest = 0, None
    fields = ("attributes", "queue_entered_at", "created_at")
    for attributes, entered, created in tasks.values_list(*fields).iterator(chunk_size=2000):
        if not expression.matches(attributes or {}):
            continue
        number += 1
        since = entered or created
        if since is not None and (oldest is None or since < oldest):
            oldest = since
    wait = None if oldest is None else max(0, int((now - oldest).total_seconds()))
    return Figures(number, wait)
