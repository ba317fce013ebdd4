"""The counts strip above the task table, and what "work" means on the table page.

Work is either **waiting** (pending or reserved: no agent has it yet) or **with agents**
(assigned or wrapping up). The table with no parameters shows the waiting work; the strip
counts both, each figure a link to the table filtered to exactly the tasks it counts, with
the same status sets the landing view uses. Per queue it counts the waiting work.

Built from TaskRouter's statistics resources (two shared reads per workspace, see
`service.workspace_statistics`), never by listing tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any
from urllib.parse import urlencode

from tasks_app import presentation
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter

WAITING = (rules.PENDING, rules.RESERVED)
WITH_AGENTS = (rules.ASSIGNED, rules.WRAPPING)
# Most urgent first: the highest priority, then the longest waiting (as TaskRouter routes).
URGENT_FIRST = "-priority,created"


def work_query(statuses: Sequence[str], **more: str) -> str:
    """The table's query string for these statuses, most urgent first."""
    return "?" + urlencode({**more, "status": ",".join(statuses), "sort": URGENT_FIRST})


# The table with no parameters at all: the waiting work, breaching or closest to breaching
# first (then, without targets, most urgent first: see tasks_app.triage.breach).
LANDING_QUERY = "?" + urlencode({"status": ",".join(WAITING), "sort": "breach"})
WITH_AGENTS_QUERY = work_query(WITH_AGENTS)


@dataclass(frozen=True, slots=True)
class Count:
    label: str
    number: int
    query: str  # the table's query string for exactly these tasks
    status: str = ""  # for the status badge's colour


@dataclass(frozen=True, slots=True)
class Group:
    """Waiting work or work with agents: the total, then each status in it."""

    key: str  # "waiting", "with-agents": the link's id
    label: str
    number: int
    query: str
    statuses: tuple[Count, ...]


@dataclass(frozen=True, slots=True)
class CountsStrip:
    groups: tuple[Group, ...]
    queues: tuple[Count, ...]  # the waiting work, per queue
    longest_wait: str  # "12 min", or "" when nothing waits
    longest_wait_query: str
    # The queue strip (tasks_app.triage.strip): waiting, breaching and service level per queue.
    triage: Any = None


def _group(key: str, label: str, statuses: Sequence[str], by_status: dict[str, int]) -> Group:
    each = tuple(
        Count(
            label=presentation.STATUS_LABELS.get(status, status),
            number=by_status.get(status, 0),
            query=work_query((status,)),
            status=status,
        )
        for status in statuses
    )
    total = sum(count.number for count in each)
    return Group(key, label, total, work_query(statuses), each)


def build(
    workspace: taskrouter.WorkspaceStatistics,
    queues: Sequence[taskrouter.TaskQueueStatistics],
    names: Sequence[taskrouter.TaskQueue],
) -> CountsStrip:
    by_sid = {queue.sid: queue.friendly_name for queue in names}
    per_queue = tuple(
        Count(
            label=by_sid.get(q.task_queue_sid, q.task_queue_sid),
            number=sum(q.tasks_by_status.get(s, 0) for s in WAITING),
            # By SID: a runbook link that survives renaming the queue.
            query=work_query(WAITING, queue=q.task_queue_sid),
        )
        for q in sorted(queues, key=lambda q: by_sid.get(q.task_queue_sid, "").casefold())
    )
    waiting = workspace.longest_task_waiting_sid is not None
    return CountsStrip(
        groups=(
            _group("waiting", "Waiting", WAITING, workspace.tasks_by_status),
            _group("with-agents", "With agents", WITH_AGENTS, workspace.tasks_by_status),
        ),
        queues=per_queue,
        longest_wait=presentation.human_duration(workspace.longest_task_waiting_age)
        if waiting
        else "",
        # The waiting tasks, oldest first: the longest wait leads the table.
        longest_wait_query="?" + urlencode({"status": ",".join(WAITING), "sort": "created"}),
    )


def for_workspace(
    workspace: taskrouter.Workspace,
    queues: Sequence[taskrouter.TaskQueue],
    *,
    viewer: str | None = None,
    zone: tzinfo | None = None,
    targets=None,
):
    """The strip, or the TaskRouter error that kept it from being read. Shared reads, as
    fresh as the viewer's own last write. The per-queue figures come from the queue
    strip's read of TaskQueues/Statistics (one read serves both). ``targets``: the
    workspace's service-level targets, when the caller has them already."""
    from tasks_app.triage import strip  # triage builds on this module's queries
    from tasks_app.triage import targets as sla_targets

    try:
        queue_strip = strip.build(
            workspace_sid=workspace.sid,
            queues=queues,
            targets=targets if targets is not None else sla_targets.load(workspace.sid),
            zone=zone or strip.viewer_zone(None),
            viewer=viewer,
        )
        counts = build(
            taskrouter.workspace_statistics(workspace_sid=workspace.sid, viewer=viewer),
            queue_strip.statistics,
            queues,
        )
    except taskrouter.TaskRouterError as error:
        return error
    return replace(counts, triage=queue_strip)
