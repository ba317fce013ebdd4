"""TaskRouter's statistics resources, as Taskdeck reads them.

``GET /v1/Workspaces/{WS}/RealTimeStatistics`` gives a workspace's tasks by status and its
longest-waiting task; ``GET /v1/Workspaces/{WS}/TaskQueues/Statistics`` every queue's
real-time figures in one list. The spec describes the counts as objects such as
``{"pending": "1", "reserved": "3"}`` while its examples carry integers: both are read.

Pure Python, no Django: importable anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import TaskRouterError


def _malformed() -> TaskRouterError:
    return TaskRouterError("TaskRouter sent statistics Taskdeck could not read.")


def _count(value: Any) -> int:
    if isinstance(value, bool):
        raise _malformed()
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _malformed() from None
    if number < 0:
        raise _malformed()
    return number


def _counts(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _malformed()
    return {str(key): _count(number) for key, number in value.items()}


def _sid(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class WorkspaceStatistics:
    """RealTimeStatistics of a workspace."""

    tasks_by_status: Mapping[str, int]
    total_tasks: int
    longest_task_waiting_age: int
    longest_task_waiting_sid: str | None
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_api(cls, payload: Any, *, read_at: datetime) -> WorkspaceStatistics:
        if not isinstance(payload, Mapping):
            raise _malformed()
        return cls(
            tasks_by_status=_counts(payload.get("tasks_by_status")),
            total_tasks=_count(payload.get("total_tasks") or 0),
            longest_task_waiting_age=_count(payload.get("longest_task_waiting_age") or 0),
            longest_task_waiting_sid=_sid(payload.get("longest_task_waiting_sid")),
            read_at=read_at,
        )


@dataclass(frozen=True, slots=True)
class WaitSplit:
    """One threshold of ``split_by_wait_time``: reservations accepted and tasks canceled
    with a wait (from the task's creation) at or below it, and above it."""

    accepted_below: int = 0
    accepted_above: int = 0
    canceled_below: int = 0
    canceled_above: int = 0


def _splits(value: Any) -> dict[int, WaitSplit]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _malformed()
    found: dict[int, WaitSplit] = {}
    for threshold, sides in value.items():
        if not isinstance(sides, Mapping):
            raise _malformed()
        below, above = sides.get("below") or {}, sides.get("above") or {}
        if not isinstance(below, Mapping) or not isinstance(above, Mapping):
            raise _malformed()
        found[_count(threshold)] = WaitSplit(
            accepted_below=_count(below.get("reservations_accepted") or 0),
            accepted_above=_count(above.get("reservations_accepted") or 0),
            canceled_below=_count(below.get("tasks_canceled") or 0),
            canceled_above=_count(above.get("tasks_canceled") or 0),
        )
    return found


@dataclass(frozen=True, slots=True)
class TaskQueueStatistics:
    """One item of TaskQueues/Statistics: the real-time figures, and the cumulative ones
    of the window asked for (``split_by_wait_time`` only when SplitByWaitTime was sent)."""

    task_queue_sid: str
    tasks_by_status: Mapping[str, int]
    total_tasks: int
    longest_task_waiting_age: int
    longest_task_waiting_sid: str | None
    longest_relative_task_age_in_queue: int = 0
    total_available_workers: int = 0
    total_eligible_workers: int = 0
    reservations_accepted: int = 0
    tasks_canceled: int = 0
    split_by_wait_time: Mapping[int, WaitSplit] = field(default_factory=dict)
    # When the read these figures came from was sent (None: not known), so what is built
    # from them can be kept no longer than the read itself.
    read_at: datetime | None = field(default=None, compare=False)

    @classmethod
    def from_api(cls, payload: Any, *, read_at: datetime | None = None) -> TaskQueueStatistics:
        if not isinstance(payload, Mapping) or not _sid(payload.get("task_queue_sid")):
            raise _malformed()
        realtime = payload.get("realtime") or {}
        cumulative = payload.get("cumulative") or {}
        if not isinstance(realtime, Mapping) or not isinstance(cumulative, Mapping):
            raise _malformed()
        return cls(
            task_queue_sid=payload["task_queue_sid"],
            tasks_by_status=_counts(realtime.get("tasks_by_status")),
            total_tasks=_count(realtime.get("total_tasks") or 0),
            longest_task_waiting_age=_count(realtime.get("longest_task_waiting_age") or 0),
            longest_task_waiting_sid=_sid(realtime.get("longest_task_waiting_sid")),
            longest_relative_task_age_in_queue=_count(
                realtime.get("longest_relative_task_age_in_queue") or 0
            ),
            total_available_workers=_count(realtime.get("total_available_workers") or 0),
            total_eligible_workers=_count(realtime.get("total_eligible_workers") or 0),
            reservations_accepted=_count(cumulative.get("reservations_accepted") or 0),
            tasks_canceled=_count(cumulative.get("tasks_canceled") or 0),
            split_by_wait_time=_splits(cumulative.get("split_by_wait_time")),
            read_at=read_at,
        )
