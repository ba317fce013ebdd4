"""Bulk actions: cancel, complete or reprioritise many tasks, each safely, in the background.

A job is recorded from a selection (or everything matching a filter) and handed to a
worker (django-tasks: the database worker by default, RQ on Redis in a fleet). The worker
reads every task once, so the preview shows what will change and what cannot, and keeps
each task's version. Running writes each task with its own If-Match, a few at a time and
within a rate; no browser needs to stay open. A task changed since the preview is a
conflict, never an overwrite; results stay on the job.

Surviving a worker that dies (SIGKILL, a lost machine, a database outage mid-job) without
writing anything twice:
- before an item's write, its state (RUNNING, with the claim's time and the write's id)
  is committed, and its version as read at preview has been in the database since the
  preview;
- the fleet's duty "bulk-takeover" (`hand_over_stalled`, run by one worker of the fleet at
  a time) finds every job whose worker has shown no progress for
  TASKDECK_BULK_STALE_SECONDS and enqueues it again; the next worker takes over the
  abandoned RUNNING items. No scheduler and no lock of the dead worker is involved;
- an item whose earlier write may have landed is never simply written again: see
  `_settle_earlier_write`, which also completes that write's audit record;
- a worker only slow (not dead) may lose items to a takeover too: it renews its claim as
  each write starts and saves a result only while the claim is still its own
  (`_write_claimed`), so the taker's write and verdict stand, never a second one.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from tasks_app import audit, editing, metrics, route_preview, titles
from tasks_app.fleet import leases
from tasks_app.models import AuditRecord, BulkItem, BulkJob
from tasks_app.taskrouter import budget, rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage import breach as triage_breach
from tasks_app.triage import targets as triage_targets

State = BulkItem.State
Action = BulkJob.Action
Outcome = AuditRecord.Outcome

log = logging.getLogger(__name__)

TARGET_STATUS = {Action.CANCEL: rules.CANCELED, Action.COMPLETE: rules.COMPLETED}
# The states a job's items end in; the rest are still to come or under way.
FINAL_STATES = (
    State.SKIPPED,
    State.DONE,
    State.KEPT,
    State.CONFLICT,
    State.INVALID,
    State.FAILED,
)
# How many tasks one preview step reads before saving them (the page fills in by these).
READ_BATCH = 20


@dataclass(frozen=True)
class Selection:
    """Which tasks: explicit SIDs, or everything matching a filter (up to the cap)."""

    sids: tuple[str, ...] = ()
    query: taskrouter.TaskQuery | None = None
    description: str = ""
    # Of the tasks matching ``query``, only those breaching now or soon (the table's
    # ``breach`` filter, tasks_app.triage.breach): decided when the worker reads them.
    breach: str | None = None


# How a job's filter keeps the breach filter beside TaskRouter's parameters (never sent).
BREACH_PARAM = "Taskdeck.Breach"


def _limit() -> int:
    return settings.TASKDECK_BULK_MAX_TASKS


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.TASKDECK_BULK_STALE_SECONDS)


def _paced(items: Sequence) -> Iterator[tuple[float, object]]:
    """Each item with the time to wait before starting it: one start every 1/rate s."""
    interval = 1.0 / settings.TASKDECK_BULK_RATE
    lock = threading.Lock()
    next_start = [time.monotonic()]

    def delay() -> float:
        with lock:
            now = time.monotonic()
            wait = max(0.0, next_start[0] - now)
            next_start[0] = max(now, next_start[0]) + interval
        return wait

    for item in items:
        yield delay, item


def _map_bounded(function: Callable, items: Sequence) -> Iterator[tuple[object, object]]:
    """(item, function(item)) as each finishes, a few at a time, no faster than the
    configured rate. Only TaskRouter calls happen in the threads; the caller saves each
    result on its own thread as it arrives, so a crash loses only the writes in flight."""
    if not items:
        return

    def paced(delay, item):
        try:
            wait = delay()
            if wait:
                time.sleep(wait)
            return function(item)
        finally:
            _let_go_of_connections()

    with ThreadPoolExecutor(max_workers=settings.TASKDECK_BULK_CONCURRENCY) as pool:
        # Each thread runs in a copy of the caller's context (the budget's patience).
        futures = {
            pool.submit(contextvars.copy_context().run, paced, delay, item): item
            for delay, item in _paced(items)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()


def _let_go_of_connections() -> None:
    """A thread outside a request must give its database connection back itself (to the
    pool, DATABASE_POOL_MAX, or closed): else each write's thread would keep one until
    the pool ran dry. A connection lent by another thread (tests share theirs) or inside
    a transaction is its owner's to close."""
    for conn in connections.all(initialized_only=True):
        if not conn.allow_thread_sharing and not conn.in_atomic_block:
            conn.close()


def _refusal(action: str, task: taskrouter.Task) -> str | None:
    if task.assignment_status in rules.CLOSED_STATUSES:
        return f"It is already {task.assignment_status}."
    if action == Action.SEND and task.assignment_status != rules.PENDING:
        return (
            f"Only a pending task is routed again by its workflow (it is {task.assignment_status})."
        )
    if action == Action.FRONT and task.assignment_status != rules.PENDING:
        # Only a pending task waits in its queue's order; a reserved one is being offered.
        return f"Only a pending task has a place in its queue (it is {task.assignment_status})."
    target = TARGET_STATUS.get(action)
    if target is None:
        return None
    refusal = rules.transition_refusal(task.assignment_status, target)
    if refusal is None:
        return None
    return f"Cannot {rules.ACTION_VERBS[target]}: {refusal} (it is {task.assignment_status})."


# --- Queueing --------------------------------------------------------------------------


class QueueUnavailable(Exception):
    """The job queue (RQ's Redis, or the database) did not take the work: nothing was
    started, and the person is told so where they asked."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def _queue_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DatabaseError]
    try:
        from redis.exceptions import RedisError
    except ImportError:  # RQ is an optional extra; without it the queue is the database
        pass
    else:
        errors.append(RedisError)
    return tuple(errors)


def _enqueue(name: str, job: BulkJob) -> None:
    """Hand the job to a worker; QueueUnavailable when the queue cannot be reached."""
    from tasks_app import tasks  # the task functions import this module

    try:
        getattr(tasks, name).enqueue(job.pk)
    except _queue_errors() as error:
        log.warning("bulk job %s: the job queue did not take %s: %s", job.pk, name, error)
        raise QueueUnavailable(
            "The job queue is not answering, so no worker could be given this bulk action."
        ) from error


def create(
    *,
    actor: str,
    owner: str,
    workspace_sid: str,
    action: str,
    reason: str,
    priority: int | None,
    selection: Selection,
    queue_sid: str = "",
) -> BulkJob:
    """Record the job and have a worker read the tasks for its preview (returns at once)."""
    job = BulkJob.objects.create(
        actor=actor,
        owner=owner,
        workspace_sid=workspace_sid,
        action=action,
        reason=reason,
        priority=priority,
        queue_sid=queue_sid,
        selection=selection.description,
        chosen_sids=list(selection.sids),
        query_params=None
        if selection.query is None
        else [
            *selection.query.to_params(),
            *([(BREACH_PARAM, selection.breach)] if selection.breach else []),
        ],
        heartbeat=timezone.now(),
    )
    try:
        _enqueue("prepare_bulk_job", job)
    except QueueUnavailable:
        job.delete()  # no job without a worker to read it: nothing half-made stays behind
        raise
    job.refresh_from_db()  # a worker may have read it all already
    return job


def _query(job: BulkJob) -> taskrouter.TaskQuery:
    pairs = [tuple(pair) for pair in job.query_params or []]

    def values(name: str) -> list[str]:
        return [value for key, value in pairs if key == name and value != ""]

    def first(name: str) -> str | None:
        found = values(name)
        return found[0] if found else None

    return taskrouter.TaskQuery.from_params(first, values)


def prepare(job: BulkJob) -> None:
    """Read every selected task once and record the preview (nothing is written). Run
    again after an interruption, it reads only the tasks not yet recorded. Reads wait for
    the fleet's rate budget as long as they must (a worker has no page to answer)."""
    if job.prepared is None:
        with budget.patience(settings.TASKDECK_BULK_STALE_SECONDS / 2):
            _prepare(job)


def _prepare(job: BulkJob) -> None:
    try:
        truncated = False
        sids = list(job.chosen_sids)
        if job.query_params is not None:
            state = next((v for k, v in job.query_params if k == BREACH_PARAM), None)
            # The breach filter is Taskdeck's: it covers the oldest matching tasks, as the
            # table does (tasks_app.triage.table).
            limit = triage_breach.READ_LIMIT if state else _limit() + 1
            found = list(
                taskrouter.iter_tasks(
                    workspace_sid=job.workspace_sid, query=_query(job), limit=limit
                )
            )
            if state:
                found = triage_breach.matching(
                    found, triage_targets.load(job.workspace_sid), timezone.now(), state
                )
            sids = [task.sid for task in found]
        if len(sids) > _limit():
            sids, truncated = sids[: _limit()], True
    except taskrouter.TaskRouterError as error:
        BulkJob.objects.filter(pk=job.pk).update(
            problem=error.user_message, prepared=timezone.now()
        )
        return

    _read_all(job, sids)
    BulkJob.objects.filter(pk=job.pk).update(truncated=truncated, prepared=timezone.now())


def _read_all(job: BulkJob, sids: list[str]) -> None:
    def read(sid: str) -> taskrouter.Task | taskrouter.TaskRouterError:
        try:
            return taskrouter.fetch_task(workspace_sid=job.workspace_sid, task_sid=sid)
        except taskrouter.TaskRouterError as error:
            return error

    known = set(job.items.values_list("task_sid", flat=True))
    positions = {sid: position for position, sid in enumerate(sids)}
    todo = [sid for sid in sids if sid not in known]
    for start in range(0, len(todo), READ_BATCH):
        batch = todo[start : start + READ_BATCH]
        items = []
        for sid, read_result in _map_bounded(read, batch):
            item = BulkItem(job=job, position=positions[sid], task_sid=sid)
            if isinstance(read_result, taskrouter.TaskRouterError):
                item.state = State.SKIPPED
                item.message = read_result.user_message
            else:
                item.etag = read_result.etag or ""
                item.status_seen = read_result.assignment_status
                item.priority_seen = read_result.priority
                item.queue_seen = read_result.task_queue_friendly_name or ""
                item.title_seen = titles.task_title(read_result)
                item.attributes_digest = _digest(read_result)
                refusal = _refusal(job.action, read_result)
                if refusal:
                    item.state, item.message = State.SKIPPED, refusal
                elif job.action == Action.SEND:
                    _plan_send(job, item, read_result)
                elif job.action == Action.PRIORITY:
                    _plan_priority(job, item, read_result)
            items.append(item)
        BulkItem.objects.bulk_create(items, ignore_conflicts=True)
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())


def _plan_priority(job: BulkJob, item: BulkItem, task: taskrouter.Task) -> None:
    """A task whose workflow target sets its priority keeps that priority whatever is
    written: the preview says so beside it, rather than the result surprising anyone (it
    is still written, and reported as kept by the workflow)."""
    route = editing.priority_kept_by_workflow(
        workspace_sid=job.workspace_sid,
        workflow_sid=task.workflow_sid or "",
        attributes=task.attributes or {},
    )
    if route is not None and route.priority != job.priority:
        item.message = (
            f"{editing.priority_kept_text(route, subject='Its workflow')} whatever is written."
        )


def _plan_send(job: BulkJob, item: BulkItem, task: taskrouter.Task) -> None:
    """Where the task's workflow routes it once the change that reaches the job's queue is
    made (the preview names it), and the attributes to write; skipped, with the reason,
    when no simple change reaches the queue."""
    seen = editing.snapshot(task)
    if seen["attributes_unreadable"]:
        item.state = State.SKIPPED
        item.message = "Its attributes are not valid JSON; fix them on its page first."
        return
    options = route_preview.send_options(workspace_sid=job.workspace_sid, seen=seen)
    option = next((o for o in options if o.queue_sid == job.queue_sid), None)
    if option is None:
        item.state = State.SKIPPED
        item.message = "Its workflow does not route tasks to that queue."
        return
    if option.already:
        item.state, item.message = State.SKIPPED, f"Already routed to {option.queue_name}."
        item.destination = f"Stays in {option.queue_name}"
        return
    attributes = route_preview.sent(seen["attributes"], option)
    if attributes is None:
        item.state, item.message = State.SKIPPED, option.reason
        return
    where = route_preview.preview(workspace_sid=job.workspace_sid, seen=seen, attributes=attributes)
    item.attributes_after = attributes
    item.destination = (
        f"{option.queue_name}: filter “{option.filter_name}” ({option.filter_expression}); "
        f"sets {option.change_text}. {where.priority_line}"
    )


def start(job: BulkJob) -> None:
    """Queue every previewed write and hand the job to a worker. When the queue cannot
    take it, the job is back as it was (previewed, nothing written) and QueueUnavailable
    says why."""
    with transaction.atomic():
        queued = list(job.items.filter(state=State.PREVIEW).values_list("pk", flat=True))
        job.items.filter(pk__in=queued).update(state=State.QUEUED)
        job.started = job.heartbeat = timezone.now()
        job.save(update_fields=["started", "heartbeat"])
    try:
        _enqueue("run_bulk_job", job)
    except QueueUnavailable:
        with transaction.atomic():
            job.items.filter(pk__in=queued, state=State.QUEUED).update(state=State.PREVIEW)
            job.started = None
            job.save(update_fields=["started"])
        raise


def retry_failed(job: BulkJob) -> int:
    """Queue the failed writes again. An item whose earlier write may have landed (its
    answer was lost) is re-read first and judged by its version, like a takeover."""
    failed = list(job.items.filter(state=State.FAILED).values_list("pk", flat=True))
    count = job.items.filter(pk__in=failed).update(state=State.QUEUED, message="")
    if count:
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())
        try:
            _enqueue("run_bulk_job", job)
        except QueueUnavailable:
            job.items.filter(pk__in=failed, state=State.QUEUED).update(state=State.FAILED)
            raise
    return count


# --- Undo of a priority job -------------------------------------------------------------


def undo_until(job: BulkJob) -> datetime | None:
    """Until when "Undo" is offered for a finished priority job (TASKDECK_UNDO_SECONDS
    after its last write); None when it is not undoable at all."""
    if job.action != Action.PRIORITY or job.started is None or job.heartbeat is None:
        return None
    if BulkJob.objects.filter(undoes=job).exists():
        return None
    if job.items.filter(state__in=(State.QUEUED, State.RUNNING)).exists():
        return None
    if not job.items.filter(state=State.DONE).exists():
        return None
    return job.heartbeat + timedelta(seconds=settings.TASKDECK_UNDO_SECONDS)


def create_undo(job: BulkJob, *, actor: str, owner: str) -> BulkJob:
    """A job writing back, task by task, the priority ``job`` replaced, each with If-Match
    on the version ``job``'s own write produced (its audit record's ``version_after``):
    a task anyone changed since is a conflict, never overwritten. Started at once (the
    click on Undo is the confirmation); the writes are audited as the person's."""
    records = {
        r.write_id: r
        for r in AuditRecord.objects.filter(
            write_id__in=job.items.filter(state=State.DONE).values("write_id"),
            outcome=Outcome.DONE,
        ).exclude(version_after="")
    }
    with transaction.atomic():
        undo = BulkJob.objects.create(
            actor=actor,
            owner=owner,
            workspace_sid=job.workspace_sid,
            action=Action.UNDO,
            reason=f"Undo of the bulk priority change to {job.priority} by {job.actor}",
            selection="undo",
            prepared=timezone.now(),
            undoes=job,
            heartbeat=timezone.now(),
        )
        items = []
        for item in job.items.filter(state=State.DONE):
            record = records.get(item.write_id)
            if record is None or item.priority_seen is None:
                continue  # no version to write at: not undone (nothing is written blind)
            items.append(
                BulkItem(
                    job=undo,
                    position=item.position,
                    task_sid=item.task_sid,
                    etag=record.version_after,
                    status_seen=item.status_seen,
                    priority_seen=job.priority,
                    queue_seen=item.queue_seen,
                    title_seen=item.title_seen,
                    attributes_digest=item.attributes_digest,
                    priority_target=item.priority_seen,
                )
            )
        BulkItem.objects.bulk_create(items)
    start(undo)
    return undo


# --- Taking over stalled jobs (a fleet duty) ---------------------------------------------


def takeover_every() -> float:
    """How often the fleet looks for stalled jobs: a few times per stale period, at most
    every 5 s (one query when nothing is stalled)."""
    return min(5.0, max(0.5, settings.TASKDECK_BULK_STALE_SECONDS / 4))


def stalled_jobs():
    """Jobs whose worker has shown no sign of life for TASKDECK_BULK_STALE_SECONDS while
    they still have work: a preview not read yet, or writes queued or under way."""
    unfinished = BulkItem.objects.filter(
        job=OuterRef("pk"), state__in=(State.QUEUED, State.RUNNING)
    )
    return BulkJob.objects.filter(
        Q(heartbeat__isnull=True) | Q(heartbeat__lt=timezone.now() - _stale_after())
    ).filter(Q(prepared__isnull=True) | Q(Exists(unfinished), started__isnull=False))


def hand_over_stalled(key: str | None, held: leases.Held) -> None:
    """One round of the fleet duty: every stalled job is enqueued again, for whichever
    live worker takes it (claims are atomic, so a job enqueued twice writes nothing twice).
    The heartbeat moves first, in one conditional UPDATE, so two rounds overlapping (a
    paused duty holder and its successor) hand a job over once."""
    for job in stalled_jobs().only("pk", "heartbeat", "prepared"):
        if not held.still_held():
            return
        claimed = BulkJob.objects.filter(pk=job.pk, heartbeat=job.heartbeat)
        if job.heartbeat is None:
            claimed = BulkJob.objects.filter(pk=job.pk, heartbeat__isnull=True)
        if not claimed.update(heartbeat=timezone.now()):
            continue  # another round took it, or its worker showed life just now
        work = "prepare_bulk_job" if job.prepared is None else "run_bulk_job"
        try:
            _enqueue(work, job)
        except QueueUnavailable:
            continue  # tried again once the job is stale anew; the queue's outage is logged
        log.warning("bulk job %s: no progress for %gs, handed to a live worker (%s)",
                    job.pk, settings.TASKDECK_BULK_STALE_SECONDS, work)  # fmt: skip


# --- Writing ---------------------------------------------------------------------------


def _claim(job: BulkJob, count: int, *, stale_before) -> list[BulkItem]:
    candidates = job.items.filter(
        Q(state=State.QUEUED) | Q(state=State.RUNNING, claimed_at__lt=stale_before)
    ).values_list("pk", "state", "write_id", "claimed_at")[:count]
    claimed, earlier = [], set()
    for pk, state, write_id, claimed_at in candidates:
        # One UPDATE per item is the claim, conditional on the state and claim time read:
        # two workers racing get it once between them. It commits before the write starts,
        # so a crash leaves the item RUNNING with the id its write's audit record will
        # carry. An item that has a write id already was tried before (a worker died
        # mid-write, or its answer was lost): it keeps that id until the task is re-read
        # and that write judged.
        if job.items.filter(pk=pk, state=state, claimed_at=claimed_at).update(
            state=State.RUNNING,
            claimed_at=timezone.now(),
            write_id=write_id or uuid.uuid4().hex,
        ):
            claimed.append(pk)
            if write_id:
                earlier.add(pk)
    items = list(BulkItem.objects.filter(pk__in=claimed))
    for item in items:
        item.earlier_write = item.pk in earlier  # type: ignore[attr-defined]
    return items


def _changes(job: BulkJob, item: BulkItem) -> dict:
    if job.action == Action.FRONT:
        return {"why": job.reason}  # the moment is the item's own (`_front_of_queue`)
    if job.action in _PRIORITY_ACTIONS:
        return {"priority": _target_priority(job, item), "why": job.reason}
    if job.action == Action.SEND:
        return {"attributes": item.attributes_after, "why": job.reason or None}
    return {"assignment_status": TARGET_STATUS[job.action], "reason": job.reason}


# Actions that write a priority (and nothing else): a change, and the undo of one.
_PRIORITY_ACTIONS = (Action.PRIORITY, Action.UNDO)


def _target_priority(job: BulkJob, item: BulkItem) -> int | None:
    """The priority an item's write sends: the job's, or for an undo the item's own."""
    return item.priority_target if job.action == Action.UNDO else job.priority


def _seen(item: BulkItem) -> dict:
    """What the person saw of the task in the preview (the audit record's "before")."""
    return {
        "assignment_status": item.status_seen,
        "priority": item.priority_seen,
        "task_queue": item.queue_seen,
        "title": item.title_seen,
    }


def _digest(task: taskrouter.Task) -> str:
    text = json.dumps(task.attributes, sort_keys=True) if task.attributes is not None else ""
    return hashlib.sha256((text or task.attributes_json or "").encode()).hexdigest()


def _digest_of(attributes: dict | None) -> str:
    return hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()


def _written_outcome(job: BulkJob, item: BulkItem, task: taskrouter.Task) -> tuple[str, str]:
    if job.action in _PRIORITY_ACTIONS and task.priority != _target_priority(job, item):
        return State.KEPT, f"TaskRouter kept priority {task.priority}: its workflow sets it."
    if job.action == Action.SEND and task.task_queue_sid != job.queue_sid:
        where = task.task_queue_friendly_name or task.task_queue_sid or "no queue"
        return State.DONE, f"Attributes saved; TaskRouter routed it to {where}."
    return State.DONE, _DONE[job.action].format(task=task)


_DONE = {
    Action.CANCEL: "Canceled.",
    Action.COMPLETE: "Completed.",
    Action.PRIORITY: "Priority now {task.priority}.",
    Action.SEND: "Routed to {task.task_queue_friendly_name}.",
    Action.FRONT: "Moved to the front of its queue.",
    Action.UNDO: "Priority back to {task.priority}.",
}


def _front_of_queue(job: BulkJob, item: BulkItem) -> datetime | None:
    """A virtual start time ahead of every other pending task of the item's queue, as the
    task page's "Move to the front" picks it, as of now; None when it is first already."""
    task = taskrouter.fetch_task(workspace_sid=job.workspace_sid, task_sid=item.task_sid)
    return editing.front_of_queue_time(task)


def _write(job: BulkJob, item: BulkItem) -> tuple[str, str]:
    earlier = item.write_id if getattr(item, "earlier_write", False) else None
    if earlier:
        settled = _settle_earlier_write(job, item)
        if settled is not None:
            return settled
        # Still at the preview's version: written now, as a write of its own.
        item.write_id = uuid.uuid4().hex
        BulkItem.objects.filter(pk=item.pk).update(write_id=item.write_id)
    changes = _changes(job, item)
    try:
        if job.action == Action.FRONT:
            moment = _front_of_queue(job, item)
            if moment is None:
                return State.DONE, "Already first in its queue: nothing written."
            changes["virtual_start_time"] = moment
        task = taskrouter.update_task(
            actor=job.actor,
            workspace_sid=job.workspace_sid,
            task_sid=item.task_sid,
            if_match=item.etag,
            seen=_seen(item),
            write_id=item.write_id,
            **changes,
        )
    except taskrouter.PreconditionFailed:
        if earlier:
            # The earlier write was still on its way when the task was re-read, and has
            # landed since (or someone else wrote): judge it again, now it has moved.
            return _reread_and_judge(job, item, earlier)
        if job.action == Action.UNDO:
            return State.CONFLICT, (
                "Changed since the bulk change; not undone, not overwritten. "
                "Open it to see who changed it."
            )
        return State.CONFLICT, "Changed since the preview; not overwritten. Open it to review."
    except (taskrouter.NotFound, taskrouter.Rejected, taskrouter.InvalidParameter) as error:
        return State.INVALID, error.user_message
    except taskrouter.TaskRouterError as error:
        return State.FAILED, error.user_message
    if earlier:  # this write landed at the preview's version: the earlier one never did
        audit.settle(
            earlier,
            outcome=Outcome.FAILED,
            message="Not applied: a later write of the same change landed at the version "
            "this one was sent with.",
        )
    return _written_outcome(job, item, task)


_VERSION = re.compile(r'^(?:W/)?"?(\d+)"?$')


def _versions_after(before: str, after: str | None) -> int | None:
    """How many changes lie between two versions of a task (TaskRouter's version is a
    counter: 0 on create, one more per change); None when either is not a counter."""
    first, second = _VERSION.match(before or ""), _VERSION.match(after or "")
    if first is None or second is None:
        return None
    return int(second.group(1)) - int(first.group(1))


def _ours(job: BulkJob, item: BulkItem, task: taskrouter.Task) -> str | None:
    """DONE or KEPT when the task, one change after the preview, is exactly what this
    job's write leaves (by the workflow's rule for a priority); None when it is not."""
    if job.action == Action.SEND:
        # Its write changes the attributes to exactly these; TaskRouter may then have
        # offered the task to an agent, which is its own change, not someone else's.
        return State.DONE if _digest(task) == _digest_of(item.attributes_after) else None
    if job.action == Action.FRONT:
        # Its write changes only the virtual start time: status and attributes as seen.
        same = task.assignment_status == item.status_seen and (
            not item.attributes_digest or _digest(task) == item.attributes_digest
        )
        return State.DONE if same else None
    if job.action not in _PRIORITY_ACTIONS:
        wanted = TARGET_STATUS[job.action]
        same = task.assignment_status == wanted and (task.reason or "") == job.reason
        return State.DONE if same else None
    if task.assignment_status != item.status_seen or (
        item.attributes_digest and _digest(task) != item.attributes_digest
    ):
        return None  # a priority write changes neither: that change was someone else's
    if task.priority == _target_priority(job, item):
        return State.DONE
    route = editing.priority_kept_by_workflow(
        workspace_sid=job.workspace_sid,
        workflow_sid=task.workflow_sid or "",
        attributes=task.attributes or {},
    )
    return State.KEPT if route is not None and route.priority == task.priority else None


def _settle_earlier_write(job: BulkJob, item: BulkItem) -> tuple[str, str] | None:
    """An item whose earlier write may have reached TaskRouter (its worker died mid-write,
    or the answer was lost): re-read the task and judge by its version, never write blind.
    None when the task is still at the preview's version: that write has not landed, and
    the item is written again (If-Match still the preview's version, so if the earlier
    write lands after all, the new one is refused and the earlier one judged then)."""
    try:
        task = taskrouter.fetch_task(workspace_sid=job.workspace_sid, task_sid=item.task_sid)
    except taskrouter.NotFound as error:
        audit.settle(item.write_id, outcome=Outcome.UNKNOWN, message=error.user_message)
        return State.INVALID, error.user_message
    except taskrouter.TaskRouterError as error:
        return State.FAILED, error.user_message  # judged on the next try
    if task.etag == item.etag or _versions_after(item.etag, task.etag) == 0:
        return None
    return _judge(job, item, task, item.write_id)


def _reread_and_judge(job: BulkJob, item: BulkItem, write_id: str) -> tuple[str, str]:
    try:
        task = taskrouter.fetch_task(workspace_sid=job.workspace_sid, task_sid=item.task_sid)
    except taskrouter.TaskRouterError as error:
        return State.FAILED, error.user_message
    return _judge(job, item, task, write_id)


def _judge(job: BulkJob, item: BulkItem, task: taskrouter.Task, write_id: str) -> tuple[str, str]:
    """The write ``write_id`` of an item, now that the task has moved past the preview's
    version, and the outcome its audit record is completed with (once, audit.settle):

    - one change later, and the task is what this job asked for (for a priority, the job's
      or the one its workflow keeps): that change was our write; done (or kept by
      workflow), and so is the record;
    - one change later but something else: someone else wrote first, so ours was refused
      (If-Match); a conflict, and so is the record;
    - more changes: a conflict for the item; the record says it cannot be told whether
      our write was among them.
    """
    apart = _versions_after(item.etag, task.etag)
    state = _ours(job, item, task) if apart in (1, None) else None
    if state is not None:
        audit.settle(
            write_id,
            outcome=Outcome.DONE,
            message=f"Confirmed on re-reading: version {task.etag}, this write's result.",
            version_after=task.etag or "",
        )
        if state == State.KEPT:
            return State.KEPT, (
                f"Written before its worker stopped; TaskRouter kept priority {task.priority}: "
                "its workflow sets it."
            )
        return State.DONE, "Written before its worker stopped; TaskRouter shows it done."
    if apart == 1:
        audit.settle(
            write_id,
            outcome=Outcome.CONFLICT,
            message=f"Someone else changed the task first (now version {task.etag}).",
        )
    else:
        audit.settle(
            write_id,
            outcome=Outcome.UNKNOWN,
            message=(
                f"Re-read at version {task.etag}, changed more than once since the preview: "
                "whether this write was one of the changes cannot be told."
            ),
        )
    return (
        State.CONFLICT,
        "Changed since the preview while its write was interrupted; not written again. "
        "Open it to review.",
    )


def run_chunk(job: BulkJob, *, seconds: float | None = None) -> int:
    """Write the next few queued tasks, saving each result as it arrives; returns how many."""
    seconds = seconds if seconds is not None else settings.TASKDECK_BULK_CHUNK_SECONDS
    count = max(1, int(settings.TASKDECK_BULK_RATE * seconds))
    items = _claim(job, count, stale_before=timezone.now() - _stale_after())
    _write_claimed(job, items)
    return len(items)


def _write_claimed(job: BulkJob, items: list[BulkItem]) -> None:
    """Write items this worker claimed, saving each result as it arrives, as long as the
    item is still this worker's: a worker slow enough to look dead (its claim older than
    TASKDECK_BULK_STALE_SECONDS) may have had it taken over, and then the taker's write
    and judgement stand, never this worker's second write or its stale verdict."""

    def write(item: BulkItem) -> tuple[str, str] | None:
        return _write(job, item) if _renew_claim(item) else None

    for item, result in _map_bounded(write, items):
        if result is None:
            continue
        state, message = result
        if not BulkItem.objects.filter(pk=item.pk, claimed_at=item.claimed_at).update(
            state=state, message=message
        ):
            continue  # taken over while writing: the taker judges this write by version
        item.state, item.message = state, message
        metrics.BULK_ITEMS.labels(outcome=state).inc()
        # A sign of life with every result, so a slow chunk is never taken for a dead one.
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())


def _renew_claim(item: BulkItem) -> bool:
    """Claim the item afresh as its write starts (it may have waited in the chunk behind
    slow writes or the rate budget); False when another worker has taken it over since.
    The claim's time is its owner's token: a takeover sets a new one."""
    now = timezone.now()
    renewed = BulkItem.objects.filter(
        pk=item.pk, state=State.RUNNING, claimed_at=item.claimed_at
    ).update(claimed_at=now)
    if renewed:
        item.claimed_at = now
    return bool(renewed)


def run(job: BulkJob) -> None:
    """Write chunk after chunk until nothing is left that this worker may take. Writes
    wait for the fleet's rate budget as long as they must: a busy account slows a bulk
    job down rather than failing its writes."""
    BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())  # taken up: alive
    with budget.patience(settings.TASKDECK_BULK_STALE_SECONDS / 2):
        while run_chunk(job):
            pass


# --- Reading a job's state ----------------------------------------------------------


def counts(job: BulkJob) -> dict[str, int]:
    totals = dict(job.items.values_list("state").annotate(n=Count("pk")))
    return {state: totals.get(state, 0) for state in State.values}


def is_reading(job: BulkJob) -> bool:
    return job.prepared is None


def is_running(job: BulkJob, numbers: dict[str, int]) -> bool:
    """Started, with writes still waiting or under way (``numbers`` from `counts`)."""
    return job.started is not None and bool(numbers[State.QUEUED] + numbers[State.RUNNING])


def queue_depth() -> int:
    """Writes waiting or under way across every job (for the metrics page)."""
    return BulkItem.objects.filter(state__in=(State.QUEUED, State.RUNNING)).count()


def summary(numbers: dict[str, int]) -> str:
    """In words ("19 done, 1 conflict"), for the page and the live region."""
    words = {
        State.PREVIEW: "to change",
        State.QUEUED: "waiting",
        State.RUNNING: "writing",
        State.DONE: "done",
        State.KEPT: "kept by workflow",
        State.CONFLICT: "conflict",
        State.INVALID: "invalid state",
        State.FAILED: "failed",
        State.SKIPPED: "skipped",
    }
    parts = [
        f"{numbers[state]} {word}{'s' if state == State.CONFLICT and numbers[state] != 1 else ''}"
        for state, word in words.items()
        if numbers[state]
    ]
    return ", ".join(parts) or "nothing selected"
