"""Bulk actions: cancel, complete or reprioritise many tasks, each safely.

A job is prepared from a selection (or everything matching a filter): every task is read
once, so the preview shows what will change and what cannot, and each task's version is
kept. Running writes each task with its own If-Match, a few at a time and within a rate,
in short chunks that any instance can carry on (the state lives in the database). A task
changed since the preview is a conflict, never an overwrite; results stay on the job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from tasks_app.models import BulkItem, BulkJob
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter

State = BulkItem.State
Action = BulkJob.Action

TARGET_STATUS = {Action.CANCEL: rules.CANCELED, Action.COMPLETE: rules.COMPLETED}
# A RUNNING claim older than this was abandoned by a request that died; If-Match makes
# writing it again safe (a write that did land moved the version: the retry conflicts).
ABANDONED_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Selection:
    """Which tasks: explicit SIDs, or everything matching a filter (up to the cap)."""

    sids: tuple[str, ...] = ()
    query: taskrouter.TaskQuery | None = None
    description: str = ""


def _limit() -> int:
    return settings.TASKDECK_BULK_MAX_TASKS


def _map_bounded(function: Callable, items: Sequence) -> list:
    """``function`` over ``items``, a few at a time, no faster than the configured rate.
    Only TaskRouter calls happen in the threads; the database stays on this one."""
    if not items:
        return []
    interval = 1.0 / settings.TASKDECK_BULK_RATE
    lock = threading.Lock()
    next_start = [time.monotonic()]

    def paced(item):
        with lock:  # one start every `interval`, spread evenly
            now = time.monotonic()
            wait = max(0.0, next_start[0] - now)
            next_start[0] = max(now, next_start[0]) + interval
        if wait:
            time.sleep(wait)
        return function(item)

    with ThreadPoolExecutor(max_workers=settings.TASKDECK_BULK_CONCURRENCY) as pool:
        return list(pool.map(paced, items))


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


def prepare(
    *,
    actor: str,
    owner: str,
    workspace_sid: str,
    action: str,
    reason: str,
    priority: int | None,
    selection: Selection,
) -> BulkJob:
    """Read every selected task once and record the preview (nothing is written)."""
    truncated = False
    sids = list(selection.sids)
    if selection.query is not None:
        found = taskrouter.iter_tasks(
            workspace_sid=workspace_sid, query=selection.query, limit=_limit() + 1
        )
        sids = [task.sid for task in found]
    if len(sids) > _limit():
        sids, truncated = sids[: _limit()], True

    def read(sid: str) -> taskrouter.Task | taskrouter.TaskRouterError:
        try:
            return taskrouter.fetch_task(workspace_sid=workspace_sid, task_sid=sid)
        except taskrouter.TaskRouterError as error:
            return error

    with transaction.atomic():
        job = BulkJob.objects.create(
            actor=actor,
            owner=owner,
            workspace_sid=workspace_sid,
            action=action,
            reason=reason,
            priority=priority,
            selection=selection.description,
            truncated=truncated,
        )
        items = []
        for position, (sid, read_result) in enumerate(
            zip(sids, _map_bounded(read, sids), strict=True)
        ):
            item = BulkItem(job=job, position=position, task_sid=sid)
            if isinstance(read_result, taskrouter.TaskRouterError):
                item.state = State.SKIPPED
                item.message = read_result.user_message
            else:
                item.etag = read_result.etag or ""
                item.status_seen = read_result.assignment_status
                item.priority_seen = read_result.priority
                item.queue_seen = read_result.task_queue_friendly_name or ""
                refusal = _refusal(action, read_result)
                if refusal:
                    item.state, item.message = State.SKIPPED, refusal
            items.append(item)
        BulkItem.objects.bulk_create(items)
    return job


def start(job: BulkJob) -> None:
    with transaction.atomic():
        job.items.filter(state=State.PREVIEW).update(state=State.QUEUED)
        job.started = timezone.now()
        job.save(update_fields=["started"])


def retry_failed(job: BulkJob) -> int:
    """Queue the failed writes again, at the version seen at preview: if a failed write
    did land after all, the version moved and the retry reports a conflict."""
    return job.items.filter(state=State.FAILED).update(state=State.QUEUED, message="")


def _claim(job: BulkJob, count: int) -> list[BulkItem]:
    stale = timezone.now() - ABANDONED_AFTER
    candidates = job.items.filter(
        Q(state=State.QUEUED) | Q(state=State.RUNNING, claimed_at__lt=stale)
    ).values_list("pk", "state")[:count]
    claimed = []
    for pk, state in candidates:
        # One UPDATE per item is the claim: two requests racing get it once between them.
        if job.items.filter(pk=pk, state=state).update(
            state=State.RUNNING, claimed_at=timezone.now()
        ):
            claimed.append(pk)
    return list(BulkItem.objects.filter(pk__in=claimed))


def _write(job: BulkJob, item: BulkItem) -> tuple[str, str]:
    kwargs: dict = {}
    if job.action == Action.PRIORITY:
        kwargs["priority"] = job.priority
    else:
        kwargs["assignment_status"] = TARGET_STATUS[job.action]
        kwargs["reason"] = job.reason
    try:
        task = taskrouter.update_task(
            actor=job.actor,
            workspace_sid=job.workspace_sid,
            task_sid=item.task_sid,
            if_match=item.etag,
            **kwargs,
        )
    except taskrouter.PreconditionFailed:
        return State.CONFLICT, "Changed since the preview; not overwritten. Open it to review."
    except taskrouter.NotFound as error:
        return State.INVALID, error.user_message
    except (taskrouter.Rejected, taskrouter.InvalidParameter) as error:
        return State.INVALID, error.user_message
    except taskrouter.TaskRouterError as error:
        return State.FAILED, error.user_message
    if job.action == Action.PRIORITY and task.priority != job.priority:
        return State.DONE, f"TaskRouter kept priority {task.priority}: its workflow sets it."
    return State.DONE, f"Now version {task.etag}."


def run_chunk(job: BulkJob, *, seconds: float | None = None) -> int:
    """Write the next few queued tasks; returns how many. Called again and again (by the
    progress view) until nothing is left, so no request runs longer than a few seconds."""
    seconds = seconds if seconds is not None else settings.TASKDECK_BULK_CHUNK_SECONDS
    count = max(1, int(settings.TASKDECK_BULK_RATE * seconds))
    items = _claim(job, count)
    results = _map_bounded(lambda item: _write(job, item), items)
    for item, (state, message) in zip(items, results, strict=True):
        item.state, item.message = state, message
    BulkItem.objects.bulk_update(items, ["state", "message"])
    return len(items)


def counts(job: BulkJob) -> dict[str, int]:
    totals = dict(job.items.values_list("state").annotate(n=Count("pk")))
    return {state: totals.get(state, 0) for state in State.values}


def is_running(job: BulkJob, numbers: dict[str, int]) -> bool:
    """Started, with writes still waiting or under way (``numbers`` from `counts`)."""
    return job.started is not None and bool(numbers[State.QUEUED] + numbers[State.RUNNING])


def summary(numbers: dict[str, int]) -> str:
    """In words ("19 done, 1 conflict"), for the page and the live region."""
    words = {
        State.PREVIEW: "to change",
        State.QUEUED: "waiting",
        State.RUNNING: "writing",
        State.DONE: "done",
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
