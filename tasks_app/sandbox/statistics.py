"""The sandbox's statistics resources, computed from its own tasks.

    GET /v1/Workspaces/{WS}/RealTimeStatistics     (schema workspace_real_time_statistics)
    GET /v1/Workspaces/{WS}/TaskQueues/Statistics  (a list of task_queues_statistics)

Both follow Twilio's OpenAPI spec of TaskRouter v1: the properties of its schemas, in the key
order of its examples, the list envelope with ``meta`` (key ``task_queues_statistics``).

DECISIONS where the spec leaves room:
    * A task is *waiting* while pending or reserved; ``longest_task_waiting_age`` is the age
      (seconds since it was created, as a Task's ``age``) of the oldest waiting task, 0 and a
      null SID when none waits.
    * ``tasks_by_status`` holds integers: the workspace's every status TaskRouter has, a
      queue's the four open ones (closed tasks are in no queue's real-time picture), as the
      examples show. ``tasks_by_priority`` maps each priority (as a string) to its count.
    * The sandbox has no workers or reservations: worker and reservation figures are 0,
      activity lists empty, ``avg_task_acceptance_time`` 0.0.
    * Cumulative figures cover ``Minutes`` (default 15) up to now, or ``StartDate`` to
      ``EndDate``; ``tasks_entered`` counts tasks that entered the queue in that window,
      ``tasks_canceled`` those of them canceled by its end; moves and deletions are not
      tracked (0). ``SplitByWaitTime`` is accepted and not computed.
    * ``TaskChannel`` (a SID or a unique name) restricts every count to that channel.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter

from . import store

OPEN_STATUSES = ("assigned", "pending", "reserved", "wrapping")  # the example's key order
DEFAULT_MINUTES = 15


def channel_sid(conn: sqlite3.Connection, workspace_sid: str, value: str | None) -> str | None:
    if not value:
        return None
    row = store.fetch_task_channel(conn, workspace_sid, value)
    if row is None:
        raise InvalidParameter(f"TaskChannel {value[:40]!r} was not found.", param="TaskChannel")
    return row["sid"]


def _waiting(rows: list[sqlite3.Row], now: int) -> dict[str | None, tuple[int, str | None]]:
    waiting: dict[str | None, tuple[int, str | None]] = {}
    for row in rows:
        if row["sid"] is None:
            continue
        age = max(0, (now - row["date_created"]) // 1_000_000)
        waiting[row["key"]] = (age, row["sid"])
    return waiting


def workspace_real_time(
    conn: sqlite3.Connection,
    *,
    workspace_sid: str,
    account_sid: str,
    url: str,
    now: datetime,
    channel: str | None,
) -> dict[str, Any]:
    by_status = dict.fromkeys(rules.STATUSES, 0)
    by_priority: dict[str, int] = defaultdict(int)
    for row in store.count_tasks_by(conn, workspace_sid, "priority", channel):
        by_status[row["assignment_status"]] = (
            by_status.get(row["assignment_status"], 0) + (row["tasks"])
        )
        by_priority[str(row["key"])] += row["tasks"]
    age, sid = _waiting(store.longest_waiting(conn, workspace_sid, channel), store.to_us(now)).get(
        None, (0, None)
    )
    return {
        "url": url,
        "tasks_by_priority": dict(by_priority),
        "activity_statistics": [],
        "workspace_sid": workspace_sid,
        "longest_task_waiting_age": age,
        "longest_task_waiting_sid": sid,
        "total_workers": 0,
        "total_tasks": sum(by_status.values()),
        "account_sid": account_sid,
        "tasks_by_status": by_status,
    }


def window(first, now: datetime) -> tuple[datetime, datetime]:
    """The cumulative window from Minutes, or StartDate/EndDate, of the request."""
    end = now
    if (value := first("EndDate")) is not None:
        end = rules.parse_datetime(value, param="EndDate")
    if (value := first("StartDate")) is not None:
        start = rules.parse_datetime(value, param="StartDate")
    else:
        minutes = DEFAULT_MINUTES
        if (value := first("Minutes")) is not None:
            minutes = rules.parse_int(value, param="Minutes")
            if minutes < 1:
                raise InvalidParameter("Minutes must be 1 or more.", param="Minutes")
        start = end - timedelta(minutes=minutes)
    if start > end:
        raise InvalidParameter("StartDate must be before EndDate.", param="StartDate")
    return start, end


def task_queue_statistics(
    conn: sqlite3.Connection,
    *,
    workspace_sid: str,
    account_sid: str,
    now: datetime,
    start: datetime,
    end: datetime,
    channel: str | None,
):
    """A renderer for each queue row: its statistics item."""
    by_status: dict[str | None, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(OPEN_STATUSES, 0)
    )
    for row in store.count_tasks_by(conn, workspace_sid, "task_queue_sid", channel):
        if row["assignment_status"] in OPEN_STATUSES:
            by_status[row["key"]][row["assignment_status"]] += row["tasks"]
    waiting = _waiting(store.longest_waiting(conn, workspace_sid, channel), store.to_us(now))
    entered = store.tasks_entered(
        conn, workspace_sid, store.to_us(start), store.to_us(end), channel
    )
    start_text, end_text = rules.format_datetime(start), rules.format_datetime(end)

    def render(request, queue: sqlite3.Row) -> dict[str, Any]:
        sid = queue["sid"]
        statuses = dict(by_status[sid])
        age, longest = waiting.get(sid, (0, None))
        counts = entered.get(sid, {"entered": 0, "canceled": 0})
        return {
            "account_sid": account_sid,
            "cumulative": {
                "avg_task_acceptance_time": 0.0,
                "end_time": end_text,
                "reservations_accepted": 0,
                "reservations_canceled": 0,
                "reservations_created": 0,
                "reservations_rejected": 0,
                "reservations_rescinded": 0,
                "reservations_timed_out": 0,
                "start_time": start_text,
                "tasks_canceled": counts["canceled"],
                "tasks_deleted": 0,
                "tasks_entered": counts["entered"],
                "tasks_moved": 0,
            },
            "realtime": {
                "activity_statistics": [],
                "longest_task_waiting_age": age,
                "longest_task_waiting_sid": longest,
                "tasks_by_status": statuses,
                "total_available_workers": 0,
                "total_eligible_workers": 0,
                "total_tasks": sum(statuses.values()),
            },
            "task_queue_sid": sid,
            "workspace_sid": workspace_sid,
        }

    return render
