"""The counts strip above the task table: tasks by status, per queue, and the longest
wait, each a link to the table filtered to those tasks.

Built from TaskRouter's statistics resources (two shared reads per workspace, see
`service.workspace_statistics`), never by listing tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from tasks_app import presentation
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter

# The statuses a supervisor acts on, in the order work moves through them.
SHOWN_STATUSES = (rules.PENDING, rules.RESERVED, rules.ASSIGNED, rules.WRAPPING)
OPEN = ",".join(SHOWN_STATUSES)


@dataclass(frozen=True, slots=True)
class Count:
    label: str
    number: int
    query: str  # the table's query string for exactly these tasks
    status: str = ""  # for the status badge's colour


@dataclass(frozen=True, slots=True)
class CountsStrip:
    statuses: tuple[Count, ...]
    queues: tuple[Count, ...]
    longest_wait: str  # "12 min", or "" when nothing waits
    longest_wait_query: str


def _query(**params: str) -> str:
    return "?" + urlencode(params)


def build(
    workspace: taskrouter.WorkspaceStatistics,
    queues: Sequence[taskrouter.TaskQueueStatistics],
    names: Sequence[taskrouter.TaskQueue],
) -> CountsStrip:
    by_sid = {queue.sid: queue.friendly_name for queue in names}
    statuses = tuple(
        Count(
            label=presentation.STATUS_LABELS.get(status, status),
            number=workspace.tasks_by_status.get(status, 0),
            query=_query(status=status, sort="-priority,created"),
            status=status,
        )
        for status in SHOWN_STATUSES
    )
    per_queue = tuple(
        Count(
            label=by_sid.get(q.task_queue_sid, q.task_queue_sid),
            number=sum(q.tasks_by_status.get(s, 0) for s in SHOWN_STATUSES),
            # By SID: a runbook link that survives renaming the queue.
            query=_query(queue=q.task_queue_sid, status=OPEN, sort="-priority,created"),
        )
        for q in sorted(queues, key=lambda q: by_sid.get(q.task_queue_sid, "").casefold())
    )
    waiting = workspace.longest_task_waiting_sid is not None
    return CountsStrip(
        statuses=statuses,
        queues=per_queue,
        longest_wait=presentation.human_duration(workspace.longest_task_waiting_age)
        if waiting
        else "",
        # The waiting tasks, oldest first: the longest wait leads the table.
        longest_wait_query=_query(status="pending,reserved", sort="created"),
    )


def for_workspace(
    workspace: taskrouter.Workspace,
    queues: Sequence[taskrouter.TaskQueue],
    *,
    viewer: str | None = None,
):
    """The strip, or the TaskRouter error that kept it from being read. Shared reads, as
    fresh as the viewer's own last write."""
    try:
        return build(
            taskrouter.workspace_statistics(workspace_sid=workspace.sid, viewer=viewer),
            taskrouter.queue_statistics(workspace_sid=workspace.sid, viewer=viewer),
            queues,
        )
    except taskrouter.TaskRouterError as error:
        return error
