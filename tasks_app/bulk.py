"""Bulk actions: cancel, complete or reprioritise many tasks, each safely, in the background.

A job is recorded from a selection (or everything matching a filter) and handed to a
worker (django-tasks: the database worker by default, RQ on Redis in a fleet). The worker
reads every task once, so the preview shows what will change and what cannot, and keeps
each task's version. Running writes each task with its own If-Match, a few at a time and
within a rate; no browser needs to stay open. A task changed since the preview is a
conflict, never an overwrite; results stay on the job.

Surviving a worker that dies (SIGKILL, a lost machine) without writing anything twice:
- before an item's write, its state (RUNNING, with the claim's time) is committed, and
  its version as read at preview has been in the database since the preview;
- a watchdog task, deferred, notices a job whose worker stopped showing progress and
  enqueues it again; the next worker takes over the abandoned RUNNING items;
- an abandoned RUNNING item is never simply written again: see `_write_abandoned`.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from tasks_app import metrics, titles
from tasks_app.models import BulkItem, BulkJob
from tasks_app.taskrouter import budget, rules
from tasks_app.taskrouter import service as taskrouter

State = BulkItem.State
Action = BulkJob.Action

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
        wait = delay()
        if wait:
            time.sleep(wait)
        return function(item)

    with ThreadPoolExecutor(max_workers=settings.TASKDECK_BULK_CONCURRENCY) as pool:
        # Each thread runs in a copy of the caller's context (the budget's patience).
        futures = {
            pool.submit(contextvars.copy_context().run, paced, delay, item): item
            for delay, item in _paced(items)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()


def _refusal(action: str, task: taskrouter.Task) -> str | None:
    if task.assignment_status in rules.CLOSED_STATUSES:
        return f"It is already {task.assignment_status}."
    target = TARGET_STATUS.get(action)
    if target is None:
        return None
    refusal = rules.transition_refusal(task.assignment_status, target)
    if refusal is None:
        return None
    return f"Cannot {rules.ACTION_VERBS[target]}: {refusal} (it is {task.assignment_status})."


# --- Queueing --------------------------------------------------------------------------


def _enqueue(name: str, job: BulkJob, *, after: timedelta | None = None) -> None:
    from tasks_app import tasks  # the task functions import this module

    task = getattr(tasks, name)
    if after is not None:
        if not task.get_backend().supports_defer:
            return  # an immediate backend (tests) finishes the job before this matters
        task = task.using(run_after=timezone.now() + after)
    task.enqueue(job.pk)


def _watch(job: BulkJob) -> None:
    _enqueue("watch_bulk_job", job, after=_stale_after())


def create(
    *,
    actor: str,
    owner: str,
    workspace_sid: str,
    action: str,
    reason: str,
    priority: int | None,
    selection: Selection,
) -> BulkJob:
    """Record the job and have a worker read the tasks for its preview (returns at once)."""
    job = BulkJob.objects.create(
        actor=actor,
        owner=owner,
        workspace_sid=workspace_sid,
        action=action,
        reason=reason,
        priority=priority,
        selection=selection.description,
        chosen_sids=list(selection.sids),
        query_params=None if selection.query is None else selection.query.to_params(),
        heartbeat=timezone.now(),
    )
    _enqueue("prepare_bulk_job", job)
    _watch(job)
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
            found = taskrouter.iter_tasks(
                workspace_sid=job.workspace_sid, query=_query(job), limit=_limit() + 1
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
                refusal = _refusal(job.action, read_result)
                if refusal:
                    item.state, item.message = State.SKIPPED, refusal
            items.append(item)
        BulkItem.objects.bulk_create(items, ignore_conflicts=True)
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())


def start(job: BulkJob) -> None:
    """Queue every previewed write and hand the job to a worker."""
    with transaction.atomic():
        job.items.filter(state=State.PREVIEW).update(state=State.QUEUED)
        job.started = job.heartbeat = timezone.now()
        job.save(update_fields=["started", "heartbeat"])
    _enqueue("run_bulk_job", job)
    _watch(job)


def retry_failed(job: BulkJob) -> int:
    """Queue the failed writes again, at the version seen at preview: if a failed write
    did land after all, the version moved and the retry reports a conflict."""
    count = job.items.filter(state=State.FAILED).update(state=State.QUEUED, message="")
    if count:
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())
        _enqueue("run_bulk_job", job)
        _watch(job)
    return count


def watch(job: BulkJob) -> None:
    """The watchdog: while a job is unfinished, check on it every stale period; when its
    worker has shown no progress for that long, hand the job to another worker."""
    if job.prepared is None:
        unfinished, work = True, "prepare_bulk_job"
    else:
        unfinished = (
            job.started is not None
            and job.items.filter(state__in=(State.QUEUED, State.RUNNING)).exists()
        )
        work = "run_bulk_job"
    if not unfinished:
        return
    if job.heartbeat is None or timezone.now() - job.heartbeat >= _stale_after():
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())
        _enqueue(work, job)
    _watch(job)


# --- Writing ---------------------------------------------------------------------------


def _claim(job: BulkJob, count: int, *, stale_before) -> list[BulkItem]:
    candidates = job.items.filter(
        Q(state=State.QUEUED) | Q(state=State.RUNNING, claimed_at__lt=stale_before)
    ).values_list("pk", "state")[:count]
    claimed = []
    for pk, state in candidates:
        # One UPDATE per item is the claim: two workers racing get it once between them.
        # It commits before the write starts, so a crash leaves the item RUNNING.
        if job.items.filter(pk=pk, state=state).update(
            state=State.RUNNING, claimed_at=timezone.now()
        ):
            claimed.append((pk, state))
    abandoned = {pk for pk, state in claimed if state == State.RUNNING}
    items = list(BulkItem.objects.filter(pk__in=[pk for pk, _ in claimed]))
    for item in items:
        item.abandoned = item.pk in abandoned  # type: ignore[attr-defined]
    return items


def _changes(job: BulkJob) -> dict:
    if job.action == Action.PRIORITY:
        return {"priority": job.priority}
    return {"assignment_status": TARGET_STATUS[job.action], "reason": job.reason}


def _written_outcome(job: BulkJob, task: taskrouter.Task) -> tuple[str, str]:
    if job.action == Action.PRIORITY and task.priority != job.priority:
        return State.KEPT, f"TaskRouter kept priority {task.priority}: its workflow sets it."
    return State.DONE, _DONE[job.action].format(task=task)


_DONE = {
    Action.CANCEL: "Canceled.",
    Action.COMPLETE: "Completed.",
    Action.PRIORITY: "Priority now {task.priority}.",
}


def _write(job: BulkJob, item: BulkItem) -> tuple[str, str]:
    if getattr(item, "abandoned", False):
        return _write_abandoned(job, item)
    try:
        task = taskrouter.update_task(
            actor=job.actor,
            workspace_sid=job.workspace_sid,
            task_sid=item.task_sid,
            if_match=item.etag,
            # What the preview showed, for the audit trail's "before" (and its title).
            seen={
                "assignment_status": item.status_seen,
                "priority": item.priority_seen,
                "title": item.title_seen,
            },
            **_changes(job),
        )
    except taskrouter.PreconditionFailed:
        return State.CONFLICT, "Changed since the preview; not overwritten. Open it to review."
    except (taskrouter.NotFound, taskrouter.Rejected, taskrouter.InvalidParameter) as error:
        return State.INVALID, error.user_message
    except taskrouter.TaskRouterError as error:
        return State.FAILED, error.user_message
    return _written_outcome(job, task)


def _write_abandoned(job: BulkJob, item: BulkItem) -> tuple[str, str]:
    """An item a dead worker left RUNNING: its write may or may not have reached TaskRouter.

    The rule: re-read the task first. If its version is still the one read at preview,
    the earlier write never landed, so write now (with that version as If-Match, as
    always). If the version moved past it, never write again: when the task now shows
    exactly what this job asked for, the interrupted write landed and the item is done;
    otherwise someone (or something) else changed it and it is a conflict. Blindly
    writing again would be refused by If-Match anyway, but it would report our own
    landed write as a conflict; the re-read keeps the result honest.
    """
    try:
        task = taskrouter.fetch_task(workspace_sid=job.workspace_sid, task_sid=item.task_sid)
    except taskrouter.NotFound as error:
        return State.INVALID, error.user_message
    except taskrouter.TaskRouterError as error:
        return State.FAILED, error.user_message
    if task.etag == item.etag:
        item.abandoned = False  # type: ignore[attr-defined]
        return _write(job, item)
    wanted = _changes(job)
    landed = (
        task.priority == wanted["priority"]
        if job.action == Action.PRIORITY
        else task.assignment_status == wanted["assignment_status"]
        and (task.reason or "") == wanted["reason"]
    )
    if landed:
        return State.DONE, "Written before its worker stopped; TaskRouter shows it done."
    return (
        State.CONFLICT,
        "Changed since the preview while its worker was stopped; not written again. "
        "Open it to review.",
    )


def run_chunk(job: BulkJob, *, seconds: float | None = None) -> int:
    """Write the next few queued tasks, saving each result as it arrives; returns how many."""
    seconds = seconds if seconds is not None else settings.TASKDECK_BULK_CHUNK_SECONDS
    count = max(1, int(settings.TASKDECK_BULK_RATE * seconds))
    items = _claim(job, count, stale_before=timezone.now() - _stale_after())
    for item, (state, message) in _map_bounded(lambda item: _write(job, item), items):
        item.state, item.message = state, message
        item.save(update_fields=["state", "message"])
        metrics.BULK_ITEMS.labels(outcome=state).inc()
    if items:
        BulkJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now())
    return len(items)


def run(job: BulkJob) -> None:
    """Write chunk after chunk until nothing is left that this worker may take. Writes
    wait for the fleet's rate budget as long as they must: a busy account slows a bulk
    job down rather than failing its writes."""
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
