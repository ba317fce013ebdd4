"""The counts strip above the task table, and what "work" means on the table page.

Work is either **waiting** (pending or reserved: no agent has it yet) or **with agents**
(assigned or wrapping up). The table with no parameters shows the waiting work; the strip
counts both, each figure a link to the table filtered to exactly the tasks it counts, with
the same status sets the landing view uses. Per queue it counts the waiting work.

Built from TaskRouter's statistics resources (two shared reads per workspace, see
`service.workspace_statistics`), never by listing tasks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

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
    # When the oldest of the reads behind the figures was sent (None: not known).
    read_at: datetime | None = None


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
        statistics = taskrouter.workspace_statistics(workspace_sid=workspace.sid, viewer=viewer)
        counts = build(statistics, queue_strip.statistics, queues)
    except taskrouter.TaskRouterError as error:
        return error
    read_times = [t for t in (statistics.read_at, queue_strip.read_at) if t is not None]
    return replace(counts, triage=queue_strip, read_at=min(read_times) if read_times else None)


# --- The strip as HTML, shared ------------------------------------------------------------
# Every viewer of a workspace with the same role and time zone sees the same strip (the
# figures come from shared reads), so it is rendered once and kept in the shared cache for
# as long as the oldest read behind it would serve on its own (STATISTICS_MAX_AGE from when
# it was sent), never longer: the figures are no older than without this cache. A viewer
# who wrote to the workspace after those reads gets a strip built afresh, as a shared read
# would not serve them either.

STRIP_TEMPLATES = ("tasks/_counts.html", "tasks/_queue_strip.html")
# Stands for the viewer's CSRF token in the shared HTML (the strip's forms post): each
# response gets its own viewer's token in its place, never another viewer's.
CSRF_PLACEHOLDER = "taskdeck-csrf-token-placeholder-" + "0" * 32


def strip_key(
    workspace: taskrouter.Workspace,
    queues: Sequence[taskrouter.TaskQueue],
    *,
    targets: Any,
    zone: tzinfo,
    can_edit: bool,
    can_delete: bool,
) -> str:
    """Everything the strip's HTML depends on besides the shared reads: the templates, the
    workspace and its queues' names, the targets, the viewer's zone ("today" starts at
    its midnight) and the two permissions the strip shows controls for."""
    from tasks_app.views.common import templates_version  # views build on this module

    depends = (
        templates_version(*STRIP_TEMPLATES),
        workspace.sid,
        workspace.url_name,
        [(queue.sid, queue.friendly_name) for queue in queues],
        sorted(targets.queues.items()),
        sorted(targets.channels.items()),
        targets.default,
        getattr(zone, "key", None) or str(zone),
        can_edit,
        can_delete,
    )
    return "counts-html:" + hashlib.sha256(repr(depends).encode()).hexdigest()[:32]


def strip_html(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    queues: Sequence[taskrouter.TaskQueue],
    *,
    viewer: str | None,
    zone: tzinfo,
    targets: Any,
) -> SafeString:
    """The counts strip (tasks/_counts.html) for this viewer, from the shared cache when
    a copy there is still fresh for them."""
    identity = getattr(request, "identity", None)
    key = strip_key(
        workspace,
        queues,
        targets=targets,
        zone=zone,
        can_edit=bool(identity and identity.can_edit),
        can_delete=bool(identity and identity.can_delete),
    )
    entry, written = taskrouter.shared_with_last_write(key, workspace.sid, viewer)
    if entry is not None:
        html, read_at = entry
        if _fresh(read_at, written):
            return _for_viewer(request, html)
    strip = for_workspace(workspace, queues, viewer=viewer, zone=zone, targets=targets)
    context = {"counts": strip, "workspace": workspace, "csrf_token": CSRF_PLACEHOLDER}
    html = render_to_string(STRIP_TEMPLATES[0], context, request=request)
    read_at = getattr(strip, "read_at", None)  # None too for a failed read: never kept
    if _fresh(read_at, written):
        left = taskrouter.STATISTICS_MAX_AGE - (_now() - read_at).total_seconds()
        cache.set(key, (html, read_at), max(1, int(left)))
    return _for_viewer(request, html)


def _now() -> datetime:
    return datetime.now(UTC)


def _fresh(read_at: datetime | None, written: datetime | None) -> bool:
    if read_at is None or (_now() - read_at).total_seconds() > taskrouter.STATISTICS_MAX_AGE:
        return False
    return written is None or read_at >= written


def _for_viewer(request: HttpRequest, html: str) -> SafeString:
    if CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    return mark_safe(html)  # noqa: S308 - rendered by the template, which escapes
