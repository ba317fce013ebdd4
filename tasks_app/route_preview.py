"""Where a change will send a task, said before and after it is saved.

The rule is TaskRouter's, written once in `taskrouter.routing` (the sandbox routes by it);
this module reads the task's workflow and the workspace's queue names through the service
module's shared (cached) directory lists, and puts the rule's answer into words: which
filter matches (its name and expression as written), which queue, which priority.

It also works out, for a pending task, the queues its workflow can reach and the attribute
change that sends it to each, where that change is simple (`routing.ways_to_queues`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tasks_app.taskrouter import routing, rules
from tasks_app.taskrouter import service as taskrouter


@dataclass(frozen=True)
class RouteView:
    """One answer to "where will it go" (or, after a save, "where did it go").

    ``kind``: "moves" (routed to another queue), "stays", "kept" (not routed again: the
    task is not pending), "unknown" (no workflow to read), "invalid" (what was typed is
    not valid yet: ``problem`` says why)."""

    kind: str
    headline: str = ""
    filter_name: str = ""
    filter_expression: str = ""
    by_default: bool = False
    priority_line: str = ""
    change_line: str = ""
    problem: str = ""
    after_save: bool = False


@dataclass(frozen=True)
class SendOption:
    """A queue the task's workflow reaches, and the change that sends the task there."""

    queue_sid: str
    queue_name: str
    changes: tuple[tuple[tuple[str, ...], Any], ...] | None
    reason: str = ""
    already: bool = False
    filter_name: str = ""
    filter_expression: str = ""

    @property
    def available(self) -> bool:
        return self.changes is not None and not self.already

    @property
    def change_text(self) -> str:
        return routing.describe_changes(self.changes or ())

    @property
    def label(self) -> str:
        if self.already:
            return f"{self.queue_name} (it is routed there now)"
        if self.changes is None:
            return f"{self.queue_name} (no simple change)"
        return f"{self.queue_name}: set {self.change_text}"


@dataclass
class _Directory:
    configuration: str | None
    names: dict[str, str] = field(default_factory=dict)

    def name(self, queue_sid: str | None) -> str:
        if not queue_sid:
            return "no queue"
        return self.names.get(queue_sid, queue_sid)


def _directory(workspace_sid: str, workflow_sid: str) -> _Directory:
    """The workflow's configuration (as routing reads it) and the queues' names; a
    TaskRouter failure leaves what could not be read empty (the preview says so)."""
    configuration = None
    names: dict[str, str] = {}
    try:
        workflows = taskrouter.list_workflows(workspace_sid=workspace_sid)
        names = {
            q.sid: q.friendly_name for q in taskrouter.list_task_queues(workspace_sid=workspace_sid)
        }
    except taskrouter.TaskRouterError:
        workflows = ()
    workflow = next((w for w in workflows if w.sid == workflow_sid), None)
    if workflow is not None and workflow.configuration:
        configuration = json.dumps(workflow.configuration, sort_keys=True)
    return _Directory(configuration, names)


def _filter_words(found: routing.Route) -> dict[str, Any]:
    if found.filter_expression is None:
        return {"by_default": True}
    return {
        "filter_name": found.filter_friendly_name or "(unnamed filter)",
        "filter_expression": found.filter_expression,
    }


def preview(
    *,
    workspace_sid: str,
    seen: Mapping[str, Any],
    attributes: Mapping[str, Any],
    priority: int | None = None,
    change_line: str = "",
) -> RouteView:
    """Where saving ``attributes`` (and ``priority``, when one is asked for) leaves the task
    its editor read as ``seen``."""
    status = seen.get("assignment_status", "")
    directory = _directory(workspace_sid, seen.get("workflow_sid", ""))
    here = seen.get("task_queue_sid") or None
    current = seen.get("priority")
    asked = priority if priority is not None else current
    if status in rules.CLOSED_STATUSES:
        return RouteView("kept", headline=f"This task is {status}: it goes nowhere.")
    if directory.configuration is None:
        return RouteView(
            "unknown",
            headline=f"Stays in {directory.name(here)}",
            problem="Its workflow could not be read, so where it would go cannot be said.",
            change_line=change_line,
        )
    after = routing.reroute(
        directory.configuration, attributes, status=status, task_queue_sid=here, priority=asked
    )
    if not after.rerouted:
        return RouteView(
            "kept",
            headline=f"Stays in {directory.name(here)}",
            problem=(
                f"{'An' if status[0] in 'aeiou' else 'A'} {status} task is not routed again "
                "when its attributes change; "
                f"its workflow would send a new task like it to "
                f"{directory.name(after.route.task_queue_sid)}."
                if status != rules.PENDING
                else "Its workflow routes these attributes nowhere, so it stays."
            ),
            priority_line=_priority_line(asked, current, None),
            change_line=change_line,
        )
    moves = after.moves(here)
    headline = (
        f"Routed to {directory.name(after.task_queue_sid)} (it is in {directory.name(here)} now)"
        if moves
        else f"Stays in {directory.name(here)}"
    )
    return RouteView(
        "moves" if moves else "stays",
        headline=headline,
        priority_line=_priority_line(after.priority, current, after.route.priority),
        change_line=change_line,
        **_filter_words(after.route),
    )


def _priority_line(priority: int | None, current: Any, by_target: int | None) -> str:
    if by_target is not None:
        return f"Priority {by_target}, set by the workflow's target."
    if priority is None or priority == current:
        return f"Priority stays {current}."
    return f"Priority {priority}."


def after_save(
    *, workspace_sid: str, before: Mapping[str, Any], now: Mapping[str, Any]
) -> RouteView:
    """Where a save left the task: ``before`` and ``now`` are its editor's snapshots."""
    here, was = now.get("task_queue_sid") or None, before.get("task_queue_sid") or None
    directory = _directory(workspace_sid, now.get("workflow_sid", ""))
    name = now.get("task_queue") or directory.name(here)
    words: dict[str, Any] = {}
    if directory.configuration is not None and now.get("assignment_status") == rules.PENDING:
        found = routing.route(directory.configuration, now.get("attributes") or {})
        if found.task_queue_sid == here:
            words = _filter_words(found)
    moved = here != was
    return RouteView(
        "moves" if moved else "stays",
        headline=(
            f"Routed to {name} (it was in {before.get('task_queue') or directory.name(was)})"
            if moved
            else f"Stays in {name}"
        ),
        priority_line=f"Priority {now.get('priority')}.",
        after_save=True,
        **words,
    )


def send_options(*, workspace_sid: str, seen: Mapping[str, Any]) -> list[SendOption]:
    """The queues the task's workflow reaches, each with the change that sends the task
    there (or why no simple change does); empty when the workflow cannot be read."""
    directory = _directory(workspace_sid, seen.get("workflow_sid", ""))
    if directory.configuration is None:
        return []
    ways = routing.ways_to_queues(directory.configuration, seen.get("attributes") or {})
    return [
        SendOption(
            queue_sid=way.task_queue_sid,
            queue_name=directory.name(way.task_queue_sid),
            changes=way.changes,
            reason=way.reason,
            already=way.already,
            filter_name=way.filter_friendly_name or "",
            filter_expression=way.filter_expression or "",
        )
        for way in ways
    ]


def option_for(options: list[SendOption], queue: str) -> SendOption | None:
    """The option naming ``queue`` (a WQ SID or a queue's name, in any case)."""
    wanted = queue.strip().casefold()
    return next(
        (o for o in options if wanted in (o.queue_sid.casefold(), o.queue_name.casefold())),
        None,
    )


def sent(attributes: Mapping[str, Any], option: SendOption) -> dict[str, Any] | None:
    """The task's attributes with the option's change made (None: it cannot be)."""
    if not option.available:
        return None
    return routing.set_attributes(attributes, option.changes or ())
