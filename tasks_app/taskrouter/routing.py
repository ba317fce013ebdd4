"""Workflow evaluation: which TaskQueue a task enters, and with which priority.

TaskRouter's routing rule, written once: the sandbox routes tasks with it, and the task
page uses it to say, before a save, that a workflow target will keep a task's priority.

A Workflow's ``configuration`` is TaskRouter's JSON document (docs/taskrouter.md,
"Workflows")::

    {"task_routing": {
        "filters": [{"filter_friendly_name": "VIP", "expression": "vip == true",
                     "targets": [{"queue": "WQ...", "priority": 100, "timeout": 300,
                                  "expression": "worker.tier == 'senior'"}]}],
        "default_filter": {"queue": "WQ..."}}}

Filters are evaluated top to bottom against the task's attributes and the first match wins;
with none matching, the task goes to ``default_filter``'s queue. The task enters the first
target of the matching filter, and that target's ``priority``, when set, becomes the task's
priority: a Workflow Target priority wins over the one the client asked for (Twilio's
TaskRouter documentation of Workflows and of the Task resource's Priority).

DECISIONS (the sandbox has no Workers, so it stops at the queue):
    * A target's ``expression`` (a worker expression), ``timeout`` (moving on to the next
      target) and ``skip_if`` are kept but not evaluated: the task stays at the first target.
    * A configuration that is not this JSON shape, or whose expressions do not parse, routes
      nothing (no queue); seeded workflows are always valid.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import Expression, parse_expression

__all__ = [
    "Route",
    "Target",
    "WorkflowConfiguration",
    "parse_configuration",
    "reroutes_on_attribute_change",
    "route",
]


@dataclass(frozen=True, slots=True)
class Target:
    queue: str
    priority: int | None = None
    timeout: int | None = None
    expression: str | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    friendly_name: str
    expression: Expression
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class WorkflowConfiguration:
    filters: tuple[Filter, ...]
    default_queue: str | None


@dataclass(frozen=True, slots=True)
class Route:
    """Where a task goes: its queue, and the priority its target sets (None: keep the task's)."""

    task_queue_sid: str | None
    priority: int | None = None
    filter_friendly_name: str | None = None


NO_ROUTE = Route(task_queue_sid=None)


@functools.lru_cache(maxsize=256)
def parse_configuration(text: str) -> WorkflowConfiguration:
    """Parse a Workflow configuration; InvalidParameter (param Configuration) if it is not one."""
    try:
        document = json.loads(text)
        routing = document["task_routing"]
        filters = tuple(
            Filter(
                friendly_name=str(item.get("filter_friendly_name", "")),
                expression=parse_expression(str(item["expression"]), param="Configuration"),
                targets=tuple(_target(t) for t in item.get("targets", ())),
            )
            for item in routing.get("filters", ())
        )
        default = routing.get("default_filter") or {}
        return WorkflowConfiguration(filters=filters, default_queue=default.get("queue"))
    except InvalidParameter:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidParameter(
            f"Configuration is not a TaskRouter workflow configuration: {exc}",
            param="Configuration",
        ) from None


def _target(item: Mapping[str, Any]) -> Target:
    priority = item.get("priority")
    timeout = item.get("timeout")
    return Target(
        queue=str(item["queue"]),
        priority=int(priority) if priority is not None else None,
        timeout=int(timeout) if timeout is not None else None,
        expression=item.get("expression"),
    )


def reroutes_on_attribute_change(status: str) -> bool:
    """Whether TaskRouter routes a task in ``status`` through its workflow again when its
    attributes change: a pending task is, and may move queue and take its new target's
    priority; its age stays (docs/taskrouter.md, "Tasks" [TaskDoc])."""
    return status == rules.PENDING


def route(configuration: str, attributes: Mapping[str, Any]) -> Route:
    """Evaluate a workflow configuration against a task's attributes."""
    try:
        parsed = parse_configuration(configuration)
    except InvalidParameter:
        return NO_ROUTE
    for item in parsed.filters:
        if item.targets and item.expression.matches(attributes):
            target = item.targets[0]
            return Route(target.queue, target.priority, item.friendly_name)
    if parsed.default_queue:
        return Route(parsed.default_queue, None, None)
    return NO_ROUTE
