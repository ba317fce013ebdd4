"""The service module: every TaskRouter operation Taskdeck performs, as typed functions.

Views and forms call these; nothing else talks to TaskRouter. Inputs are checked with
`rules` and `expressions` before anything is sent, so a value TaskRouter would reject for
its shape is an `InvalidParameter` without a round trip. Every write goes through
`_write`, the one place where a write can be observed (it sends the `signals`).
"""

from __future__ import annotations

import hashlib
import math
import pickle
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

from . import rules
from .client import ApiResponse, ClientConfig, page_reads, request, routine_reads, time_left
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
from .query import EVERY_TASK, EventQuery, TaskQuery
from .resources import (
    Activity,
    Event,
    EventPage,
    Task,
    TaskChannel,
    TaskPage,
    TaskQueue,
    Worker,
    Workflow,
    Workspace,
)
from .signals import shared_read, task_write_started, task_written
from .statistics import TaskQueueStatistics, WorkspaceStatistics

# What callers use: the operations below, and the types and errors they return or raise.
__all__ = [
    "Activity",
    "AuthenticationFailed",
    "Event",
    "EventPage",
    "EventQuery",
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
    "TaskQueueStatistics",
    "TaskRouterError",
    "Unavailable",
    "Worker",
    "Workflow",
    "Workspace",
    "WorkspaceStatistics",
    "create_task",
    "default_workspace",
    "delete_task",
    "fetch_task",
    "find_task",
    "iter_event_pages",
    "iter_events",
    "iter_tasks",
    "list_activities",
    "list_events",
    "list_task_channels",
    "list_task_queues",
    "list_tasks",
    "list_workers",
    "list_workflows",
    "list_workspaces",
    "queue_statistics",
    "resolve_workspace",
    "routine_reads",
    "update_task",
    "workspace_statistics",
]

T = TypeVar("T")

# --- Reading tasks ------------------------------------------------------------------------


def _tasks_path(workspace_sid: str, task_sid: str | None = None) -> str:
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    path = f"/v1/Workspaces/{workspace_sid}/Tasks"
    if task_sid is not None:
        path += "/" + rules.validate_sid(task_sid, "WT", param="TaskSid")
    return path


def _task_page(
    body: Any, read_at: datetime | None = None, stale: TaskRouterError | None = None
) -> TaskPage:
    body = body if isinstance(body, dict) else {}
    rows, meta = body.get("tasks"), body.get("meta")
    if not isinstance(rows, list) or not isinstance(meta, dict):
        raise TaskRouterError("TaskRouter sent a task list Taskdeck could not read.")
    return TaskPage(
        tasks=tuple(Task.from_api(row) for row in rows),
        page_size=int(meta.get("page_size") or len(rows)),
        next_page_url=meta.get("next_page_url"),
        previous_page_url=meta.get("previous_page_url"),
        read_at=read_at or _now(),
        stale_because=stale,
    )


# Reference: https://www.twilio.com/docs/taskrouter/api/task#read-multiple-task-resources
def list_tasks(
    *,
    workspace_sid: str,
    query: TaskQuery = EVERY_TASK,
    page_size: int = rules.DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    max_age: float = 0,
    viewer: str | None = None,
) -> TaskPage:
    """One page of tasks. ``page_token`` is the PageToken of a page TaskRouter linked to.

    With ``max_age`` (seconds), the page may come from a read made that recently for
    anyone, by any instance, of the same page: a hundred supervisors watching one queue
    cost TaskRouter one request per refresh, whatever is written meanwhile (a bulk job
    writing ten tasks a second included). Writes are seen at once by whoever made them:
    a copy read before ``viewer``'s own last write in the workspace (through this module,
    on any instance), or before a write of the page being served, is not used for them;
    they read again, and everyone else gets that newer copy too."""
    params = query.to_params()
    params.append(("PageSize", str(rules.validate_page_size(page_size))))
    if page_token:
        # TaskRouter echoes Page as client state; it refuses a non-zero Page without a token.
        params += [("Page", "1"), ("PageToken", rules.validate_page_token(page_token, "WT"))]
    path = _tasks_path(workspace_sid)
    if max_age > 0:
        shared = _shared_read(
            path, params, workspace_sid=workspace_sid, max_age=max_age, viewer=viewer
        )
        return _task_page(*shared)
    return _task_page(request("GET", path, params=params).body)


def _shared_read(
    path: str,
    params: list[tuple[str, str]],
    *,
    workspace_sid: str,
    max_age: float,
    viewer: str | None,
) -> tuple[Any, datetime, TaskRouterError | None]:
    """A GET shared through the cache, read by one caller at a time (single flight).

    A copy is fresh for ``max_age`` seconds after its read was sent, unless the viewer
    wrote to the workspace after that (`_written_since`). It is kept
    TASKROUTER_STALE_SECONDS beyond: when TaskRouter is down or too slow for the page's
    deadline, the page shows that last copy with its age and the reason (the third value)
    instead of only an error."""
    digest = hashlib.sha256(repr((path, params)).encode()).hexdigest()
    key, lock = _Slot(digest), _key(f"reading:{digest}")
    keep = max(max_age, float(settings.TASKROUTER_STALE_SECONDS))
    entry, written = _entry_and_last_write(key, workspace_sid, viewer)
    fresh = _Freshness(max_age=max_age, not_before=written)
    if fresh(entry):
        shared_read.send_robust(sender=__name__, result="hit")
        return (*entry, None)
    try:
        return (*_read_once(path, params, key, lock, keep, fresh, entry), None)
    except Unavailable as error:
        if entry is None:
            raise
        return (*entry, error)


@dataclass(frozen=True)
class _Freshness:
    """Whether a shared copy (body, sent_at) may serve this reader: young enough, and sent
    after the reader's own last write (``not_before``), if any."""

    max_age: float
    not_before: datetime | None

    def __call__(self, entry: tuple[Any, datetime] | None) -> bool:
        if entry is None or (_now() - entry[1]).total_seconds() > self.max_age:
            return False
        return self.not_before is None or entry[1] >= self.not_before


class _Slot:
    """Where a shared read is kept: one of TASKDECK_SHARED_READ_SLOTS keys per TaskRouter
    account, chosen by the read's digest (its path and its normalised parameters),
    holding at most TASKDECK_SHARED_READ_MAX_BYTES. However many distinct pages are asked
    for, shared reads never hold more than slots x bytes; two pages that meet in one slot
    take turns (each then costs a read now and then)."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        slots = max(1, int(settings.TASKDECK_SHARED_READ_SLOTS))
        self.key = _key(f"read:{int(digest[:15], 16) % slots}")

    def load(self) -> tuple[Any, datetime] | None:
        return self.decode(cache.get(self.key))

    def decode(self, blob: Any) -> tuple[Any, datetime] | None:
        """This read's copy from what the slot holds (None when another read holds it)."""
        if not isinstance(blob, bytes):
            return None
        digest, body, read_at = pickle.loads(blob)  # noqa: S301 - written by Taskdeck, below
        return (body, read_at) if digest == self.digest else None

    def store(self, entry: tuple[Any, datetime], keep: float) -> None:
        blob = pickle.dumps((self.digest, *entry), pickle.HIGHEST_PROTOCOL)
        if len(blob) <= settings.TASKDECK_SHARED_READ_MAX_BYTES:
            cache.set(self.key, blob, keep)


def _read_once(
    path: str,
    params: list[tuple[str, str]],
    key: _Slot,
    lock: str,
    keep: float,
    fresh: _Freshness,
    old: tuple[Any, datetime] | None,
) -> tuple[Any, datetime]:
    def newer(entry: tuple[Any, datetime] | None) -> bool:
        """A fresh copy someone else read meanwhile (not the one already in hand)."""
        return fresh(entry) and (old is None or entry[1] != old[1])

    if cache.add(lock, 1, timeout=int(settings.TASKROUTER_TIMEOUT) + 1):
        try:
            # Another reader may have stored its answer and let go just before our lock.
            entry = key.load()
            if newer(entry):
                shared_read.send_robust(sender=__name__, result="coalesced")
                return entry
            shared_read.send_robust(sender=__name__, result="miss")
            sent = _now()  # the copy shows TaskRouter as of no earlier than this
            entry = (request("GET", path, params=params).body, sent)
            key.store(entry, keep)
            return entry
        finally:
            cache.delete(lock)
    # Someone is reading this very page now: their answer is worth a short wait, within
    # this page's own deadline.
    left = time_left()
    wait = settings.TASKROUTER_TIMEOUT if left is None else min(left, settings.TASKROUTER_TIMEOUT)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and cache.get(lock) is not None:
        time.sleep(0.02)
        entry = key.load()
        if newer(entry):
            shared_read.send_robust(sender=__name__, result="coalesced")
            return entry
    # The reader may have stored its answer and let go of the lock between two looks.
    entry = key.load()
    if newer(entry):
        shared_read.send_robust(sender=__name__, result="coalesced")
        return entry
    sent = _now()
    return request("GET", path, params=params).body, sent


def _written_key(workspace_sid: str, actor: str) -> str:
    who = hashlib.sha256(actor.strip().lower().encode()).hexdigest()[:16]
    return _key(f"wrote:{workspace_sid}:{who}")


def _entry_and_last_write(
    key: _Slot, workspace_sid: str, viewer: str | None
) -> tuple[tuple[Any, datetime] | None, datetime | None]:
    """The shared copy, and when the viewer (or the page being served) last wrote to the
    workspace: one round trip to the cache for both."""
    reads = page_reads()
    page_wrote = reads.get(f"wrote:{workspace_sid}") if reads is not None else None
    if not viewer:
        return key.load(), page_wrote
    mark = _written_key(workspace_sid, viewer)
    found = cache.get_many([key.key, mark])
    wrote = [when for when in (found.get(mark), page_wrote) if when is not None]
    return key.decode(found.get(key.key)), max(wrote) if wrote else None


def shared_with_last_write(
    key: str, workspace_sid: str, viewer: str | None
) -> tuple[Any, datetime | None]:
    """What the cache holds at ``key`` (something built from shared reads of the
    workspace), and when the viewer or the page being served last wrote to the workspace,
    in one round trip: such a thing serves the viewer only if built from reads sent after
    that write, as a shared read itself does (`_Freshness`)."""
    reads = page_reads()
    page_wrote = reads.get(f"wrote:{workspace_sid}") if reads is not None else None
    if not viewer:
        return cache.get(key), page_wrote
    mark = _written_key(workspace_sid, viewer)
    found = cache.get_many([key, mark])
    wrote = [when for when in (found.get(mark), page_wrote) if when is not None]
    return found.get(key), max(wrote) if wrote else None


def _remember_write(workspace_sid: str, actor: str) -> None:
    """Shared copies read before now no longer serve ``actor`` (on any instance) nor the
    page being served: their next read of the workspace shows what they just wrote.
    Everyone else's copies are untouched: they age out within their max_age."""
    now = _now()
    reads = page_reads()
    if reads is not None:
        reads[f"wrote:{workspace_sid}"] = now
    seconds = max(1, math.ceil(settings.TASKROUTER_SHARED_READ_SECONDS) + 1)
    cache.set(_written_key(workspace_sid, actor), now, seconds)


def iter_tasks(
    *,
    workspace_sid: str,
    query: TaskQuery = EVERY_TASK,
    page_size: int = rules.PAGE_SIZE_MAX,
    limit: int | None = None,
) -> Iterator[Task]:
    """Every matching task, page by page, following next_page_url verbatim; ``limit``
    stops early (and shrinks the page size so nothing is fetched only to be dropped)."""
    if limit is not None:
        if limit < 1:
            raise InvalidParameter("Limit must be at least 1.", param="Limit")
        page_size = min(page_size, limit)
    page = list_tasks(workspace_sid=workspace_sid, query=query, page_size=page_size)
    remaining = limit
    while True:
        for task in page.tasks:
            if remaining is not None:
                if remaining == 0:
                    return
                remaining -= 1
            yield task
        if not page.next_page_url or remaining == 0:
            return
        page = _task_page(request("GET", page.next_page_url).body)


# Reference: https://www.twilio.com/docs/taskrouter/api/task#fetch-a-task-resource
def fetch_task(*, workspace_sid: str, task_sid: str) -> Task:
    response = request("GET", _tasks_path(workspace_sid, task_sid))
    return Task.from_api(response.body, etag=response.etag)


def find_task(*, task_sid: str) -> Task:
    """A task by SID alone: TaskRouter URLs need its workspace, so try each in turn."""
    rules.validate_sid(task_sid, "WT", param="TaskSid")
    for workspace in list_workspaces():
        try:
            return fetch_task(workspace_sid=workspace.sid, task_sid=task_sid)
        except NotFound:
            continue
    raise NotFound(
        f"No workspace has a task {task_sid}. Closed tasks are removed a few minutes after "
        "they end."
    )


# --- Writing tasks ------------------------------------------------------------------------


def _write(
    operation: str,
    method: str,
    path: str,
    *,
    actor: str,
    workspace_sid: str,
    task_sid: str | None,
    data: dict[str, str],
    if_match: str | None = None,
    seen: Mapping[str, Any] | None = None,
    why: str | None = None,
    write_id: str | None = None,
) -> ApiResponse:
    """Every write to TaskRouter passes here: announced before it is sent (the intent, so
    a crash mid-call still leaves a trace) and after it ends, with its outcome."""
    if not actor or not actor.strip():
        # Every write names the person it is made for; there is no anonymous write.
        raise InvalidParameter("A write to TaskRouter needs the person making it.")
    headers = {"If-Match": if_match} if if_match is not None else None
    write_id = write_id or uuid.uuid4().hex
    details = {
        "write_id": write_id,
        "actor": actor,
        "operation": operation,
        "workspace_sid": workspace_sid,
        "task_sid": task_sid,
        "data": data,
        "if_match": if_match,
        "seen": dict(seen) if seen is not None else None,
        "why": why or None,
    }
    task_write_started.send(sender=__name__, **details)
    outcome: ApiResponse | TaskRouterError | None = None
    try:
        outcome = request(method, path, data=data, headers=headers)
        return outcome
    except TaskRouterError as error:
        outcome = error
        raise
    finally:
        _remember_write(workspace_sid, actor)
        task_written.send(sender=__name__, outcome=outcome, **details)


def _require_if_match(if_match: str | None) -> str:
    if not if_match or not str(if_match).strip():
        # Taskdeck never writes without knowing which version it is replacing.
        raise InvalidParameter(
            "Taskdeck only changes a task with the version it was read at (If-Match).",
            param="If-Match",
        )
    return str(if_match).strip()


def _now() -> datetime:
    return datetime.now(UTC)


# Reference: https://www.twilio.com/docs/taskrouter/api/task#create-a-task-resource
def create_task(
    *,
    actor: str,
    workspace_sid: str,
    attributes: dict[str, Any] | None = None,
    priority: int | None = None,
    timeout: int | None = None,
    task_channel: str | None = None,
    workflow_sid: str | None = None,
    virtual_start_time: datetime | None = None,
) -> Task:
    data: dict[str, str] = {"Attributes": rules.validate_attributes(attributes or {})}
    if priority is not None:
        data["Priority"] = str(rules.validate_priority(priority))
    if timeout is not None:
        data["Timeout"] = str(rules.validate_timeout(timeout))
    if task_channel:
        data["TaskChannel"] = task_channel
    if workflow_sid:
        data["WorkflowSid"] = rules.validate_sid(workflow_sid, "WW", param="WorkflowSid")
    if virtual_start_time is not None:
        moment = rules.validate_virtual_start_time(virtual_start_time, now=_now())
        data["VirtualStartTime"] = rules.format_datetime(moment)
    response = _write(
        "create",
        "POST",
        _tasks_path(workspace_sid),
        actor=actor,
        workspace_sid=workspace_sid,
        task_sid=None,
        data=data,
    )
    return Task.from_api(response.body, etag=response.etag)


# Reference: https://www.twilio.com/docs/taskrouter/api/task#update-a-task-resource
def update_task(
    *,
    actor: str,
    workspace_sid: str,
    task_sid: str,
    if_match: str,
    attributes: dict[str, Any] | None = None,
    assignment_status: str | None = None,
    reason: str | None = None,
    priority: int | None = None,
    task_channel: str | None = None,
    virtual_start_time: datetime | None = None,
    seen: Mapping[str, Any] | None = None,
    why: str | None = None,
    write_id: str | None = None,
) -> Task:
    """Change a task if (and only if) it is still at version ``if_match``. ``seen`` is the
    task as the person saw it, for the audit trail's "before"; ``why`` the person's reason
    when it is not sent (TaskRouter takes ``reason`` only with a cancel or complete);
    ``write_id`` names the write (32 hex digits) for a caller that must find what the
    signals recorded of it after a crash (a bulk job taken over).

    TaskRouter needs two requests to change attributes and move a task to wrapping or
    completed; callers make them (attributes first) rather than this function guessing.
    """
    if_match = _require_if_match(if_match)
    data: dict[str, str] = {}
    if attributes is not None:
        data["Attributes"] = rules.validate_attributes(attributes)
    if assignment_status is not None:
        if assignment_status not in rules.REQUESTABLE_STATUSES:
            raise InvalidParameter(
                f"AssignmentStatus can be set to {', '.join(rules.REQUESTABLE_STATUSES)} only.",
                param="AssignmentStatus",
            )
        refusal = rules.combined_update_refusal(
            assignment_status, with_attributes=attributes is not None
        )
        if refusal:
            raise InvalidParameter(refusal, param="AssignmentStatus")
        data["AssignmentStatus"] = assignment_status
    if reason:
        data["Reason"] = reason.strip()
    if priority is not None:
        data["Priority"] = str(rules.validate_priority(priority))
    if task_channel:
        data["TaskChannel"] = task_channel
    if virtual_start_time is not None:
        moment = rules.validate_virtual_start_time(virtual_start_time, now=_now())
        data["VirtualStartTime"] = rules.format_datetime(moment)
    if not data:
        raise InvalidParameter("Nothing to change.")
    response = _write(
        "update",
        "POST",
        _tasks_path(workspace_sid, task_sid),
        actor=actor,
        workspace_sid=workspace_sid,
        task_sid=task_sid,
        data=data,
        if_match=if_match,
        seen=seen,
        why=why,
        write_id=write_id,
    )
    return Task.from_api(response.body, etag=response.etag)


# Reference: https://www.twilio.com/docs/taskrouter/api/task#delete-a-task-resource
def delete_task(
    *,
    actor: str,
    workspace_sid: str,
    task_sid: str,
    if_match: str,
    seen: Mapping[str, Any] | None = None,
) -> None:
    _write(
        "delete",
        "DELETE",
        _tasks_path(workspace_sid, task_sid),
        actor=actor,
        workspace_sid=workspace_sid,
        task_sid=task_sid,
        data={},
        if_match=_require_if_match(if_match),
        seen=seen,
    )


# --- Events -------------------------------------------------------------------------------


def _event_page(body: Any) -> EventPage:
    body = body if isinstance(body, dict) else {}
    rows, meta = body.get("events"), body.get("meta")
    if not isinstance(rows, list) or not isinstance(meta, dict):
        raise TaskRouterError("TaskRouter sent an event list Taskdeck could not read.")
    return EventPage(
        events=tuple(Event.from_api(row) for row in rows), next_page_url=meta.get("next_page_url")
    )


# Reference: https://www.twilio.com/docs/taskrouter/api/event#read-multiple-event-resources
def list_events(
    *, workspace_sid: str, query: EventQuery, page_size: int = rules.PAGE_SIZE_MAX
) -> EventPage:
    """The first page of a workspace's Events matching ``query`` (never shared: whoever
    follows the feed reads it once for the fleet)."""
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    params = [*query.to_params(), ("PageSize", str(rules.validate_page_size(page_size)))]
    return _event_page(request("GET", f"/v1/Workspaces/{workspace_sid}/Events", params=params).body)


def iter_event_pages(
    *, workspace_sid: str, query: EventQuery, page_size: int = rules.PAGE_SIZE_MAX
) -> Iterator[EventPage]:
    """Every page of the Events matching ``query``, following next_page_url verbatim."""
    page = list_events(workspace_sid=workspace_sid, query=query, page_size=page_size)
    yield page
    while page.next_page_url:
        page = _event_page(request("GET", page.next_page_url).body)
        yield page


def iter_events(*, workspace_sid: str, query: EventQuery) -> Iterator[Event]:
    for page in iter_event_pages(workspace_sid=workspace_sid, query=query):
        yield from page.events


# --- The directory: workspaces, workflows, queues, channels (cached briefly) -------------


def _key(name: str) -> str:
    """A cache key of this TaskRouter account: two deployments sharing a Redis (or tests
    pointing at different sandboxes) never see each other's entries."""
    config = ClientConfig.from_settings()
    fingerprint = hashlib.sha256(f"{config.base_url}|{config.auth[0]}".encode()).hexdigest()[:16]
    return f"taskrouter:{fingerprint}:{name}"


def _cached(key: str, load: Callable[[], T], *, along: tuple[str, ...] = ()) -> T:
    """Directory lists change rarely; every instance shares them through the cache, and a
    page reads each from it once. ``along``: keys a page will most likely want next,
    fetched in the same call (one round trip to Redis instead of several)."""
    reads = page_reads()
    if reads is not None and key in reads:
        return reads[key]
    wanted = {key: _key(key)}
    if reads is not None:  # outside a page nothing is kept, so nothing is fetched ahead
        wanted |= {k: _key(k) for k in along if k not in reads}
    found = cache.get_many(list(wanted.values())) if len(wanted) > 1 else {}
    value = found.get(wanted[key]) if len(wanted) > 1 else cache.get(wanted[key])
    if value is None:
        value = load()
        cache.set(wanted[key], value, settings.TASKROUTER_DIRECTORY_TTL)
    if reads is not None:
        reads[key] = value
        reads.update({k: found[full] for k, full in wanted.items() if found.get(full) is not None})
    return value


def _list_all(path: str, key: str, params: list[tuple[str, str]] | None = None) -> list[dict]:
    rows: list[dict] = []
    url: str | None = path
    first = True
    while url:
        response = request(
            "GET", url, params=[*(params or []), ("PageSize", "1000")] if first else None
        )
        first = False
        body = response.body if isinstance(response.body, dict) else {}
        page_rows, meta = body.get(key), body.get("meta") or {}
        if not isinstance(page_rows, list):
            raise TaskRouterError(f"TaskRouter sent a {key} list Taskdeck could not read.")
        rows += page_rows
        url = meta.get("next_page_url")
    return rows


# Reference: https://www.twilio.com/docs/taskrouter/api/workspace#read-multiple-workspace-resources
def list_workspaces() -> tuple[Workspace, ...]:
    return _cached(
        "workspaces",
        lambda: tuple(Workspace.from_api(r) for r in _list_all("/v1/Workspaces", "workspaces")),
    )


def resolve_workspace(reference: str) -> Workspace:
    """A workspace named in a URL: its SID, or its friendly name (case-insensitive)."""
    reference = (reference or "").strip()
    workspaces = list_workspaces()
    for workspace in workspaces:
        if workspace.sid == reference:
            return workspace
    folded = reference.casefold()
    for workspace in workspaces:
        if workspace.friendly_name.casefold() == folded:
            return workspace
    raise NotFound(f"There is no workspace called {reference!r}.")


def default_workspace() -> Workspace:
    """TASKROUTER_DEFAULT_WORKSPACE when set, else the first workspace TaskRouter lists."""
    if settings.TASKROUTER_DEFAULT_WORKSPACE:
        return resolve_workspace(settings.TASKROUTER_DEFAULT_WORKSPACE)
    workspaces = list_workspaces()
    if not workspaces:
        raise NotFound("This TaskRouter account has no workspaces yet.")
    return workspaces[0]


def _workspace_list(
    workspace_sid: str, resource: str, key: str, build: Callable[[dict], T]
) -> tuple[T, ...]:
    """One of a workspace's directory lists (all pages), shared through the cache."""
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    path = f"/v1/Workspaces/{workspace_sid}/{resource}"
    # A page that needs one of a workspace's lists usually needs the others too.
    siblings = tuple(f"{other}:{workspace_sid}" for other in _WORKSPACE_LISTS if other != resource)
    return _cached(
        f"{resource}:{workspace_sid}",
        lambda: tuple(build(r) for r in _list_all(path, key)),
        along=siblings,
    )


_WORKSPACE_LISTS = ("Workflows", "TaskQueues", "TaskChannels")


# Reference: https://www.twilio.com/docs/taskrouter/api/workflow#read-multiple-workflow-resources
def list_workflows(*, workspace_sid: str) -> tuple[Workflow, ...]:
    return _workspace_list(workspace_sid, "Workflows", "workflows", Workflow.from_api)


# Reference: https://www.twilio.com/docs/taskrouter/api/task-queue#read-multiple-taskqueue-resources
def list_task_queues(*, workspace_sid: str) -> tuple[TaskQueue, ...]:
    return _workspace_list(workspace_sid, "TaskQueues", "task_queues", TaskQueue.from_api)


# Reference: https://www.twilio.com/docs/taskrouter/api/task-channel#read-multiple-taskchannel-resources
def list_task_channels(*, workspace_sid: str) -> tuple[TaskChannel, ...]:
    # The list key is "channels", not "task_channels" (docs/taskrouter.md, "Directory
    # resources").
    return _workspace_list(workspace_sid, "TaskChannels", "channels", TaskChannel.from_api)


# --- The workforce: workers and their activities (never cached: the index's follower reads
# them once for the fleet, and pages read the index) -----------------------------------


# Reference: https://www.twilio.com/docs/taskrouter/api/activity#read-multiple-activity-resources
def list_activities(*, workspace_sid: str) -> tuple[Activity, ...]:
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    path = f"/v1/Workspaces/{workspace_sid}/Activities"
    return tuple(Activity.from_api(r) for r in _list_all(path, "activities"))


# Reference: https://www.twilio.com/docs/taskrouter/api/worker#read-multiple-worker-resources
def list_workers(*, workspace_sid: str) -> tuple[Worker, ...]:
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    path = f"/v1/Workspaces/{workspace_sid}/Workers"
    return tuple(Worker.from_api(r) for r in _list_all(path, "workers"))


# --- Statistics ---------------------------------------------------------------------------
# The counts a table page shows: read from TaskRouter's statistics resources (never by
# listing tasks), and shared by everyone viewing the workspace for a few seconds, so a
# room full of supervisors costs TaskRouter one read of each per interval.
STATISTICS_MAX_AGE = 10


# Reference: https://www.twilio.com/docs/taskrouter/api/workspace-statistics
def workspace_statistics(*, workspace_sid: str, viewer: str | None = None) -> WorkspaceStatistics:
    """Tasks by status and the longest-waiting task of a workspace (shared like a task
    list: see `list_tasks` for ``viewer``)."""
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    path = f"/v1/Workspaces/{workspace_sid}/RealTimeStatistics"
    body, read_at, _stale = _shared_read(
        path, [], workspace_sid=workspace_sid, max_age=STATISTICS_MAX_AGE, viewer=viewer
    )
    return WorkspaceStatistics.from_api(body, read_at=read_at)


# Reference: https://www.twilio.com/docs/taskrouter/api/taskqueue-statistics
def queue_statistics(
    *,
    workspace_sid: str,
    viewer: str | None = None,
    start_date: datetime | None = None,
    split_by_wait_time: tuple[int, ...] = (),
    task_channel: str | None = None,
) -> tuple[TaskQueueStatistics, ...]:
    """Every queue's figures, in one read of TaskQueues/Statistics (shared like a task
    list: see `list_tasks` for ``viewer``). ``start_date``: the cumulative figures count
    from then to now (else TaskRouter's last 15 minutes); ``split_by_wait_time``: the
    thresholds (seconds) each queue's accepted and canceled tasks are split at;
    ``task_channel``: only that channel's tasks (a unique name or TC SID)."""
    rules.validate_sid(workspace_sid, "WS", param="WorkspaceSid")
    path = f"/v1/Workspaces/{workspace_sid}/TaskQueues/Statistics"
    params = [("PageSize", str(rules.PAGE_SIZE_MAX))]
    if start_date is not None:
        params.append(("StartDate", rules.format_datetime(start_date)))
    if split_by_wait_time:
        text = ",".join(str(int(seconds)) for seconds in split_by_wait_time)
        params.append(("SplitByWaitTime", ",".join(map(str, rules.parse_split_by_wait_time(text)))))
    if task_channel:
        params.append(("TaskChannel", task_channel))
    body, read_at, _stale = _shared_read(
        path, params, workspace_sid=workspace_sid, max_age=STATISTICS_MAX_AGE, viewer=viewer
    )
    items = body.get("task_queues_statistics") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise TaskRouterError("TaskRouter sent queue statistics Taskdeck could not read.")
    next_url = (body.get("meta") or {}).get("next_page_url")
    if next_url:  # more than a thousand queues: the rest, unshared
        items = items + _list_all(next_url, "task_queues_statistics")
    return tuple(TaskQueueStatistics.from_api(item, read_at=read_at) for item in items)
