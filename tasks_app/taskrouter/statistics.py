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
class TaskQueueStatistics:
    """The real-time part of one item of TaskQueues/Statistics."""

    task_queue_sid: str
    tasks_by_status: Mapping[str, int]
    total_tasks: int
    longest_task_waiting_age: int
    longest_task_waiting_sid: str | None

    @classmethod
    def from_api(cls, payload: Any) -> TaskQueueStatistics:
        if not isinstance(payload, Mapping) or not _sid(payload.get("task_queue_sid")):
            raise _malformed()
        realtime = payload.get("realtime") or {}
        if not isinstance(realtime, Mapping):
            raise _malformed()
        return cls(
            task_queue_sid=payload["task_queue_sid"],
            tasks_by_status=_counts(realtime.get("tasks_by_status")),
            total_tasks=_count(realtime.get("total_tasks") or 0),
            longest_task_waiting_age=_count(realtime.get("longest_task_waiting_age") or 0),
            longest_task_waiting_sid=_sid(realtime.get("longest_task_waiting_sid")),
        )
