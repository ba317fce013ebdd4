"""The sandbox's statistics resources, computed from its own state.

    GET  /v1/Workspaces/{WS}/Statistics, /RealTimeStatistics, /CumulativeStatistics
    GET  /v1/Workspaces/{WS}/TaskQueues/Statistics                 (a list, one per queue)
    GET  /v1/Workspaces/{WS}/TaskQueues/{WQ}/Statistics, /RealTimeStatistics,
         /CumulativeStatistics
    POST /v1/Workspaces/{WS}/TaskQueues/RealTimeStatistics         (QueueSids, 1 to 50)
    GET  /v1/Workspaces/{WS}/Workflows/{WW}/Statistics, /RealTimeStatistics,
         /CumulativeStatistics
    GET  /v1/Workspaces/{WS}/Workers/Statistics, /RealTimeStatistics, /CumulativeStatistics
    GET  /v1/Workspaces/{WS}/Workers/{WK}/Statistics

Each answer has its schema's properties in the key order of the spec's example (figures the
example leaves out follow them). Real-time figures come from the tasks and workers as they
are; cumulative figures from the ledger (:mod:`.ledger`), the record of every task and
reservation happening kept 30 days, so they outlive purged tasks and move the moment a
task is accepted or canceled. Parameters ([OAI], [WSStat], [TQStat], docs/taskrouter.md,
"Statistics"): ``Minutes`` (default 15) or ``StartDate``/``EndDate`` (not both kinds),
``TaskChannel`` (SID or unique name), ``SplitByWaitTime`` (``5,30``: for each threshold, the
tasks canceled and reservations accepted below and above it).

What the figures mean:
    * A task is *waiting* while pending or reserved. ``longest_task_waiting_age`` is the
      age (seconds since created) of the oldest one; ``longest_relative_task_age_in_queue``
      the longest time one has been in its current queue.
    * ``total_eligible_workers``: the queue's workers (``target_workers``) in any activity;
      ``total_available_workers``: those of them in an available activity.
      ``activity_statistics``: workers per activity (every activity of the workspace, in
      the order they were created; a queue's counts only its own workers).
    * ``wait_duration_until_accepted``: the waits (creation to acceptance) of the
      reservations accepted in the window; ``..._until_canceled``: of the tasks canceled in
      it; ``wait_duration_in_queue_until_accepted``: from entering the queue to acceptance.
      ``avg_task_acceptance_time`` is the first's average.
    * A queue's ``tasks_moved`` counts the tasks that moved out of it to another queue;
      ``tasks_entered`` those that entered it (new, or moved in).

DECISIONS where the spec leaves room:
    * Waits are whole seconds, rounded down like a Task's age, and averages are whole
      seconds too (the schema's type is integer). An empty figure is 0.
    * SplitByWaitTime: a wait exactly at a threshold counts **below** it ("answered within
      30 s" includes 30 s, as a service level means it): below is ``wait <= threshold``,
      above ``wait > threshold``. Thresholds are whole seconds; each is computed on at most
      the 10,000 most recent reservations or cancellations of its figure ([OAI]'s cap).
      Without SplitByWaitTime, ``split_by_wait_time`` is null.
    * ``tasks_timed_out_in_workflow`` counts ``workflow.timeout`` only (skips are not
      timeouts); such a task also counts as canceled.
    * A window reaching into the future counts up to now and reports the end as given.
    * ``tasks_by_status`` has the workspace's every status, a queue's and a workflow's the
      four open ones (closed tasks are in no queue's picture), as the examples show;
      ``tasks_by_priority`` maps each priority (as a string) to its count.
    * ``TaskChannel`` restricts every task and reservation figure to that channel; worker
      counts and activity durations are not per channel.
    * The bulk POST reads ``QueueSids`` from the form (repeated, or comma-separated) or
      from a JSON body ``{"QueueSids": [...]}`` (the spec's body is an untyped JSON object;
      Twilio's SDK sends JSON). A SID of no queue here gets zeros, as [TQStat] says of
      another account's.
    * Activity durations: per activity, each worker's time in it within the window; avg,
      min, max and total across the workers who spent time in it.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter

from . import store

__all__ = ["Query", "channel_sid", "parse_query"]

US = 1_000_000
OPEN_STATUSES = ("assigned", "pending", "reserved", "wrapping")  # the examples' key order
WAITING = (rules.PENDING, rules.RESERVED)
SPLIT_CAP = 10_000
RESERVATION_FIGURES = (
    ("reservations_created", "reservation.created"),
    ("reservations_accepted", "reservation.accepted"),
    ("reservations_rejected", "reservation.rejected"),
    ("reservations_timed_out", "reservation.timeout"),
    ("reservations_canceled", "reservation.canceled"),
    ("reservations_rescinded", "reservation.rescinded"),
)

# Key orders of the spec's examples.
WORKSPACE_CUMULATIVE = (
    "reservations_accepted", "tasks_completed", "start_time", "reservations_rescinded",
    "tasks_timed_out_in_workflow", "end_time", "avg_task_acceptance_time", "tasks_canceled",
    "url", "tasks_moved", "tasks_deleted", "tasks_created", "reservations_canceled",
    "reservations_timed_out", "wait_duration_until_canceled", "wait_duration_until_accepted",
    "split_by_wait_time", "reservations_created", "reservations_rejected", "workspace_sid",
    "account_sid",
)  # fmt: skip
QUEUE_CUMULATIVE = (
    "reservations_created", "account_sid", "reservations_rejected", "tasks_completed",
    "end_time", "tasks_entered", "tasks_canceled", "reservations_accepted", "task_queue_sid",
    "reservations_timed_out", "url", "wait_duration_until_canceled",
    "wait_duration_until_accepted", "wait_duration_in_queue_until_accepted",
    "split_by_wait_time", "start_time", "tasks_moved", "reservations_canceled",
    "workspace_sid", "tasks_deleted", "reservations_rescinded", "avg_task_acceptance_time",
)  # fmt: skip
WORKFLOW_CUMULATIVE = (
    "avg_task_acceptance_time", "tasks_canceled", "start_time", "account_sid", "tasks_moved",
    "tasks_entered", "wait_duration_until_canceled", "wait_duration_until_accepted",
    "split_by_wait_time", "reservations_canceled", "end_time", "workflow_sid",
    "reservations_created", "reservations_accepted", "reservations_rescinded",
    "workspace_sid", "reservations_rejected", "url", "tasks_deleted",
    "tasks_timed_out_in_workflow", "tasks_completed", "reservations_timed_out",
)  # fmt: skip
# The nested "cumulative" objects of the /Statistics resources.
NESTED_CUMULATIVE = (
    "avg_task_acceptance_time", "start_time", "end_time", "reservations_accepted",
    "reservations_canceled", "reservations_created", "reservations_rejected",
    "reservations_rescinded", "reservations_timed_out", "tasks_canceled", "tasks_created",
    "tasks_deleted", "tasks_entered", "tasks_moved", "tasks_timed_out_in_workflow",
    "tasks_completed", "wait_duration_until_accepted", "wait_duration_until_canceled",
    "wait_duration_in_queue_until_accepted", "split_by_wait_time",
)  # fmt: skip
QUEUE_REALTIME = (
    "longest_task_waiting_age", "longest_task_waiting_sid",
    "longest_relative_task_age_in_queue", "longest_relative_task_sid_in_queue",
    "task_queue_sid", "tasks_by_status", "total_eligible_workers", "activity_statistics",
    "tasks_by_priority", "total_tasks", "account_sid", "workspace_sid",
    "total_available_workers", "url",
)  # fmt: skip
BULK_ITEM = (
    "task_queue_sid", "longest_task_waiting_age", "longest_task_waiting_sid", "total_tasks",
    "total_eligible_workers", "total_available_workers", "tasks_by_status",
    "tasks_by_priority", "activity_statistics", "longest_relative_task_age_in_queue",
    "longest_relative_task_sid_in_queue",
)  # fmt: skip


def _ordered(values: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """``values`` in the example's key order; keys the example lacks follow, as built."""
    result = {key: values[key] for key in order if key in values}
    result.update((key, value) for key, value in values.items() if key not in result)
    return result


# --- Parameters -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """What one statistics request asks for."""

    start: datetime
    end: datetime
    channel: str | None
    thresholds: tuple[int, ...] | None  # None: SplitByWaitTime not given

    @property
    def start_us(self) -> int:
        return store.to_us(self.start)

    @property
    def end_us(self) -> int:
        return store.to_us(self.end)


def channel_sid(conn: sqlite3.Connection, workspace_sid: str, value: str | None) -> str | None:
    if not value:
        return None
    row = store.fetch_task_channel(conn, workspace_sid, value)
    if row is None:
        raise InvalidParameter(f"TaskChannel {value[:40]!r} was not found.", param="TaskChannel")
    return row["sid"]


def parse_query(
    conn: sqlite3.Connection,
    workspace_sid: str,
    first: Callable[[str], str | None],
    now: datetime,
    *,
    split: bool = True,
) -> Query:
    start, end = rules.statistics_window(
        minutes=first("Minutes"), start=first("StartDate"), end=first("EndDate"), now=now
    )
    thresholds = None
    if split and (text := first("SplitByWaitTime")) is not None:
        thresholds = rules.parse_split_by_wait_time(text)
    return Query(start, end, channel_sid(conn, workspace_sid, first("TaskChannel")), thresholds)


# --- Cumulative figures, from the ledger ---------------------------------------------------------


@dataclass
class _Figure:
    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None
    queue_total: int = 0
    queue_low: int | None = None
    queue_high: int | None = None


def _ledger_where(
    workspace_sid: str, query: Query, filters: Mapping[str, str | None]
) -> tuple[str, list[Any]]:
    where = "workspace_sid = ? AND at >= ? AND at <= ?"
    params: list[Any] = [workspace_sid, query.start_us, query.end_us]
    for column, value in filters.items():
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    if query.channel:
        where += " AND task_channel_sid = ?"
        params.append(query.channel)
    return where, params


def _figures(
    conn: sqlite3.Connection,
    workspace_sid: str,
    query: Query,
    *,
    group: str | None = None,
    filters: Mapping[str, str | None] | None = None,
) -> dict[str | None, dict[str, _Figure]]:
    """Counts and waits of each ledger kind in the window, per ``group`` column value."""
    if group not in (None, "task_queue_sid", "workflow_sid", "worker_sid"):
        raise ValueError(group)
    where, params = _ledger_where(workspace_sid, query, filters or {})
    key = group or "NULL"
    rows = conn.execute(
        f"SELECT {key} AS key, kind, COUNT(*) AS n, SUM(wait) AS total, MIN(wait) AS low, "  # noqa: S608
        "MAX(wait) AS high, SUM(queue_wait) AS qtotal, MIN(queue_wait) AS qlow, "
        f"MAX(queue_wait) AS qhigh FROM ledger WHERE {where} GROUP BY {key}, kind",
        params,
    ).fetchall()
    found: dict[str | None, dict[str, _Figure]] = defaultdict(lambda: defaultdict(_Figure))
    for row in rows:
        found[row["key"]][row["kind"]] = _Figure(
            row["n"], row["total"] or 0, row["low"], row["high"],
            row["qtotal"] or 0, row["qlow"], row["qhigh"],
        )  # fmt: skip
    return found


def _splits(
    conn: sqlite3.Connection,
    workspace_sid: str,
    query: Query,
    *,
    group: str | None = None,
    filters: Mapping[str, str | None] | None = None,
) -> dict[str | None, dict[str, Any]] | None:
    """split_by_wait_time per group: {threshold: {above: {...}, below: {...}}}."""
    if query.thresholds is None:
        return None
    where, params = _ledger_where(workspace_sid, query, filters or {})
    key = group or "NULL"
    found: dict[str | None, dict[str, Any]] = defaultdict(dict)
    for threshold in query.thresholds:
        # Waits are whole seconds: "wait <= threshold" is "below threshold + 1 s" in µs.
        edge = (threshold + 1) * US
        rows = conn.execute(
            f"SELECT key, kind, SUM(wait < ?) AS below, SUM(wait >= ?) AS above FROM ("  # noqa: S608
            f"SELECT {key} AS key, kind, wait, ROW_NUMBER() OVER "
            f"(PARTITION BY {key}, kind ORDER BY at DESC) AS recent FROM ledger "
            f"WHERE {where} AND kind IN ('reservation.accepted', 'task.canceled')"
            ") WHERE recent <= ? GROUP BY key, kind",
            [edge, edge, *params, SPLIT_CAP],
        ).fetchall()
        counts: dict[str | None, dict[str, dict[str, int]]] = defaultdict(
            lambda: {
                "above": {"tasks_canceled": 0, "reservations_accepted": 0},
                "below": {"tasks_canceled": 0, "reservations_accepted": 0},
            }
        )
        for row in rows:
            name = "tasks_canceled" if row["kind"] == "task.canceled" else "reservations_accepted"
            counts[row["key"]]["above"][name] = row["above"] or 0
            counts[row["key"]]["below"][name] = row["below"] or 0
        for group_key, value in counts.items():
            found[group_key][str(threshold)] = value
        found.setdefault(None, {})
    return found


def _empty_split(thresholds: Iterable[int]) -> dict[str, Any]:
    return {
        str(t): {
            "above": {"tasks_canceled": 0, "reservations_accepted": 0},
            "below": {"tasks_canceled": 0, "reservations_accepted": 0},
        }
        for t in thresholds
    }


def _durations(figure: _Figure, *, in_queue: bool = False) -> dict[str, int]:
    total = figure.queue_total if in_queue else figure.total
    low = figure.queue_low if in_queue else figure.low
    high = figure.queue_high if in_queue else figure.high
    if not figure.count:
        return {"avg": 0, "min": 0, "max": 0, "total": 0}
    return {
        "avg": total // figure.count // US,
        "min": (low or 0) // US,
        "max": (high or 0) // US,
        "total": total // US,
    }


def _cumulative_figures(
    figures: Mapping[str, _Figure],
    split: Mapping[str, Any] | None,
    query: Query,
    *,
    scope: str,
) -> dict[str, Any]:
    """The cumulative figures of a workspace, a queue or a workflow (``scope``)."""

    def count(kind: str) -> int:
        return figures[kind].count if kind in figures else 0

    accepted = figures.get("reservation.accepted", _Figure())
    values: dict[str, Any] = {
        "avg_task_acceptance_time": _durations(accepted)["avg"],
        "start_time": rules.format_datetime(query.start),
        "end_time": rules.format_datetime(query.end),
    }
    for name, kind in RESERVATION_FIGURES:
        values[name] = count(kind)
    values["tasks_canceled"] = count("task.canceled")
    values["tasks_completed"] = count("task.completed")
    values["tasks_deleted"] = count("task.deleted")
    values["tasks_moved"] = count("task-queue.moved")
    if scope == "workspace":
        values["tasks_created"] = count("task.created")
    elif scope == "queue":
        values["tasks_entered"] = count("task-queue.entered")
    else:
        values["tasks_entered"] = count("task.created")
    if scope != "queue":
        values["tasks_timed_out_in_workflow"] = count("workflow.timeout")
    values["wait_duration_until_accepted"] = _durations(accepted)
    values["wait_duration_until_canceled"] = _durations(figures.get("task.canceled", _Figure()))
    if scope == "queue":
        values["wait_duration_in_queue_until_accepted"] = _durations(accepted, in_queue=True)
    if query.thresholds is None:
        values["split_by_wait_time"] = None
    else:
        values["split_by_wait_time"] = {**_empty_split(query.thresholds), **(split or {})}
    return values


# --- Real-time figures, from the tasks and workers ------------------------------------------------


def _task_counts(
    conn: sqlite3.Connection, workspace_sid: str, column: str, channel: str | None
) -> dict[str | None, dict[str, Any]]:
    """Per queue or workflow (``column``), and for the workspace (key None): tasks by status,
    by priority (all, and open ones), and the longest waiting (by age, by time in queue)."""
    if column not in ("task_queue_sid", "workflow_sid"):
        raise ValueError(column)
    channel_sql, params = (" AND task_channel_sid = ?", [channel]) if channel else ("", [])
    result: dict[str | None, dict[str, Any]] = defaultdict(_empty_counts)
    rows = conn.execute(
        f"SELECT {column} AS key, assignment_status, priority, COUNT(*) AS n FROM tasks "  # noqa: S608
        f"WHERE workspace_sid = ?{channel_sql} GROUP BY {column}, assignment_status, priority",
        [workspace_sid, *params],
    ).fetchall()
    for row in rows:
        for key in (row["key"], None):
            entry = result[key]
            entry["by_status"][row["assignment_status"]] += row["n"]
            entry["by_priority"][str(row["priority"])] += row["n"]
            if row["assignment_status"] in OPEN_STATUSES:
                entry["open_by_priority"][str(row["priority"])] += row["n"]
    waiting = f"workspace_sid = ? AND assignment_status IN (?, ?){channel_sql}"
    args = [workspace_sid, *WAITING, *params]
    for moment, slot in (("date_created", "waiting"), ("task_queue_entered_date", "in_queue")):
        # SQLite returns the bare column's row alongside MIN() (documented behaviour).
        for row in conn.execute(
            f"SELECT {column} AS key, sid, MIN({moment}) AS moment FROM tasks "  # noqa: S608
            f"WHERE {waiting} AND {moment} IS NOT NULL GROUP BY {column} "
            f"UNION ALL SELECT NULL, sid, MIN({moment}) FROM tasks "
            f"WHERE {waiting} AND {moment} IS NOT NULL",
            [*args, *args],
        ):
            if row["sid"] is not None:
                result[row["key"]][slot] = (row["moment"], row["sid"])
    return result


def _empty_counts() -> dict[str, Any]:
    return {
        "by_status": defaultdict(int),
        "by_priority": defaultdict(int),
        "open_by_priority": defaultdict(int),
        "waiting": (0, None),
        "in_queue": (0, None),
    }


def _age(moment: tuple[int, str | None], now: int) -> tuple[int, str | None]:
    at, sid = moment
    if sid is None:
        return 0, None
    return max(0, (now - at) // US), sid


def _activities(conn: sqlite3.Connection, workspace_sid: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT sid, friendly_name FROM activities WHERE workspace_sid = ? "
        "ORDER BY date_created, sid",
        (workspace_sid,),
    ).fetchall()


def _activity_statistics(
    activities: Sequence[sqlite3.Row], counts: Mapping[str, int], *, workers_last: bool
) -> list[dict[str, Any]]:
    items = []
    for activity in activities:
        workers = counts.get(activity["sid"], 0)
        if workers_last:
            items.append({"friendly_name": activity["friendly_name"], "sid": activity["sid"],
                          "workers": workers})  # fmt: skip
        else:
            items.append({"friendly_name": activity["friendly_name"], "workers": workers,
                          "sid": activity["sid"]})  # fmt: skip
    return items


def _workers_by_activity(
    conn: sqlite3.Connection, workspace_sid: str, worker_sids: Iterable[str] | None = None
) -> dict[str, int]:
    if worker_sids is None:
        rows = conn.execute(
            "SELECT activity_sid, COUNT(*) AS n FROM workers WHERE workspace_sid = ? "
            "GROUP BY activity_sid",
            (workspace_sid,),
        ).fetchall()
        return {r["activity_sid"]: r["n"] for r in rows}
    counts: dict[str, int] = defaultdict(int)
    for row in store.rows_in(
        conn,
        "SELECT activity_sid, COUNT(*) AS n FROM workers WHERE sid IN ({marks}) "
        "GROUP BY activity_sid",
        list(worker_sids),
    ):
        counts[row["activity_sid"]] += row["n"]
    return counts


def _queue_workers(conn: sqlite3.Connection, workspace_sid: str) -> dict[str, dict[str, Any]]:
    """Per queue: eligible and available workers, and its workers by activity."""
    result: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"eligible": 0, "available": 0, "by_activity": defaultdict(int)}
    )
    for row in conn.execute(
        "SELECT m.task_queue_sid AS queue, w.activity_sid, w.available, COUNT(*) AS n "
        "FROM task_queues q JOIN queue_members m ON m.task_queue_sid = q.sid "
        "JOIN workers w ON w.sid = m.worker_sid WHERE q.workspace_sid = ? "
        "GROUP BY m.task_queue_sid, w.activity_sid, w.available",
        (workspace_sid,),
    ):
        entry = result[row["queue"]]
        entry["eligible"] += row["n"]
        if row["available"]:
            entry["available"] += row["n"]
        entry["by_activity"][row["activity_sid"]] += row["n"]
    return result


# --- Resources ----------------------------------------------------------------------------------


@dataclass
class Scope:
    """What every statistics answer shares: who asks, when, and how URLs are built."""

    conn: sqlite3.Connection
    workspace_sid: str
    account_sid: str
    now: datetime
    url: str  # this resource's own URL

    @property
    def now_us(self) -> int:
        return store.to_us(self.now)


def workspace_real_time(scope: Scope, channel: str | None, *, nested: bool = False) -> dict:
    counts = _task_counts(scope.conn, scope.workspace_sid, "task_queue_sid", channel)[None]
    by_status = dict.fromkeys(rules.STATUSES, 0)
    by_status.update(counts["by_status"])
    age, sid = _age(counts["waiting"], scope.now_us)
    by_activity = _workers_by_activity(scope.conn, scope.workspace_sid)
    activities = _activity_statistics(
        _activities(scope.conn, scope.workspace_sid), by_activity, workers_last=nested
    )
    values = {
        "url": scope.url,
        "tasks_by_priority": dict(counts["by_priority"]),
        "activity_statistics": activities,
        "workspace_sid": scope.workspace_sid,
        "longest_task_waiting_age": age,
        "longest_task_waiting_sid": sid,
        "total_workers": sum(by_activity.values()),
        "total_tasks": sum(by_status.values()),
        "account_sid": scope.account_sid,
        "tasks_by_status": by_status,
    }
    if nested:
        for key in ("url", "workspace_sid", "account_sid"):
            del values[key]
    return values


def workspace_cumulative(scope: Scope, query: Query, *, nested: bool = False) -> dict:
    values = _cumulative_of(scope, query, "workspace", {})
    if nested:
        return _ordered(values, NESTED_CUMULATIVE)
    values.update(url=scope.url, workspace_sid=scope.workspace_sid, account_sid=scope.account_sid)
    return _ordered(values, WORKSPACE_CUMULATIVE)


def workspace_statistics(scope: Scope, query: Query) -> dict:
    return {
        "account_sid": scope.account_sid,
        "url": scope.url,
        "cumulative": workspace_cumulative(scope, query, nested=True),
        "realtime": workspace_real_time(scope, query.channel, nested=True),
        "workspace_sid": scope.workspace_sid,
    }


class QueueFigures:
    """Everything the queue statistics of one workspace need, read once for all its queues."""

    def __init__(self, scope: Scope, query: Query | None, channel: str | None) -> None:
        self.scope = scope
        self.query = query
        self.tasks = _task_counts(scope.conn, scope.workspace_sid, "task_queue_sid", channel)
        self.workers = _queue_workers(scope.conn, scope.workspace_sid)
        self.activities = _activities(scope.conn, scope.workspace_sid)
        self.figures: dict[str | None, dict[str, _Figure]] = {}
        self.splits: dict[str | None, dict[str, Any]] | None = None
        if query is not None:
            self.figures = _figures(scope.conn, scope.workspace_sid, query, group="task_queue_sid")
            self.splits = _splits(scope.conn, scope.workspace_sid, query, group="task_queue_sid")

    def real_time(self, queue_sid: str | None, *, workers_last: bool) -> dict[str, Any]:
        tasks = self.tasks[queue_sid] if queue_sid in self.tasks else _empty_counts()
        workers = self.workers.get(queue_sid) if queue_sid else None
        by_status = {s: tasks["by_status"].get(s, 0) for s in OPEN_STATUSES}
        age, sid = _age(tasks["waiting"], self.scope.now_us)
        relative, relative_sid = _age(tasks["in_queue"], self.scope.now_us)
        return {
            "activity_statistics": _activity_statistics(
                self.activities,
                workers["by_activity"] if workers else {},
                workers_last=workers_last,
            ),
            "longest_task_waiting_age": age,
            "longest_task_waiting_sid": sid,
            "longest_relative_task_age_in_queue": relative,
            "longest_relative_task_sid_in_queue": relative_sid,
            "tasks_by_priority": dict(tasks["open_by_priority"]),
            "tasks_by_status": by_status,
            "total_available_workers": workers["available"] if workers else 0,
            "total_eligible_workers": workers["eligible"] if workers else 0,
            "total_tasks": sum(by_status.values()),
        }

    def cumulative(self, queue_sid: str) -> dict[str, Any]:
        assert self.query is not None
        figures = self.figures.get(queue_sid, {})
        split = self.splits.get(queue_sid) if self.splits is not None else None
        return _cumulative_figures(figures, split, self.query, scope="queue")

    def list_item(self, queue_sid: str) -> dict[str, Any]:
        """One item of TaskQueues/Statistics (also TaskQueues/{WQ}/Statistics, with url)."""
        return {
            "account_sid": self.scope.account_sid,
            "cumulative": _ordered(self.cumulative(queue_sid), NESTED_CUMULATIVE),
            "realtime": self.real_time(queue_sid, workers_last=True),
            "task_queue_sid": queue_sid,
            "workspace_sid": self.scope.workspace_sid,
        }


def task_queue_statistics(scope: Scope, query: Query, queue_sid: str) -> dict[str, Any]:
    item = QueueFigures(scope, query, query.channel).list_item(queue_sid)
    return {"account_sid": item.pop("account_sid"), "url": scope.url, **item}


def task_queue_real_time(scope: Scope, channel: str | None, queue_sid: str) -> dict[str, Any]:
    values = QueueFigures(scope, None, channel).real_time(queue_sid, workers_last=False)
    values.update(
        task_queue_sid=queue_sid,
        account_sid=scope.account_sid,
        workspace_sid=scope.workspace_sid,
        url=scope.url,
    )
    return _ordered(values, QUEUE_REALTIME)


def _cumulative_of(scope: Scope, query: Query, kind: str, filters: Mapping[str, str]) -> dict:
    """The cumulative figures of the ledger rows ``filters`` selects (one queue, one
    workflow, or the workspace with none), as a ``kind`` ("workspace", "queue", "workflow")
    counts them."""
    figures = _figures(scope.conn, scope.workspace_sid, query, filters=filters)
    splits = _splits(scope.conn, scope.workspace_sid, query, filters=filters)
    return _cumulative_figures(
        figures.get(None, {}), splits.get(None) if splits else None, query, scope=kind
    )


def task_queue_cumulative(scope: Scope, query: Query, queue_sid: str) -> dict[str, Any]:
    values = _cumulative_of(scope, query, "queue", {"task_queue_sid": queue_sid})
    values.update(
        account_sid=scope.account_sid,
        task_queue_sid=queue_sid,
        url=scope.url,
        workspace_sid=scope.workspace_sid,
    )
    return _ordered(values, QUEUE_CUMULATIVE)


def bulk_queue_sids(form: Sequence[tuple[str, str]], body: bytes, content_type: str) -> tuple:
    """The QueueSids of a bulk RealTimeStatistics request, from JSON or a form."""
    values: list[str] = []
    if "json" in content_type.lower():
        try:
            document = json.loads(body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameter("The body is not valid JSON.", param="QueueSids") from None
        raw = document.get("QueueSids") if isinstance(document, dict) else None
        if isinstance(raw, str):
            values = [raw]
        elif isinstance(raw, list):
            values = [str(v) for v in raw]
    else:
        values = [v for k, v in form if k == "QueueSids"]
    return rules.validate_queue_sids(values)


def task_queues_bulk_real_time(
    scope: Scope, channel: str | None, queue_sids: Sequence[str]
) -> dict[str, Any]:
    figures = QueueFigures(scope, None, channel)
    known = {
        r["sid"]
        for r in scope.conn.execute(
            "SELECT sid FROM task_queues WHERE workspace_sid = ?", (scope.workspace_sid,)
        )
    }
    data = []
    for sid in queue_sids:
        values = figures.real_time(sid, workers_last=False)
        if sid not in known:
            values["activity_statistics"] = []
        values["task_queue_sid"] = sid
        data.append(_ordered(values, BULK_ITEM))
    return {
        "account_sid": scope.account_sid,
        "workspace_sid": scope.workspace_sid,
        "url": scope.url,
        "task_queue_data": data,
        "task_queue_response_count": len(data),
    }


# --- Workflows ------------------------------------------------------------------------------------


def workflow_real_time(
    scope: Scope, channel: str | None, workflow_sid: str, *, nested: bool = False
) -> dict[str, Any]:
    counts = _task_counts(scope.conn, scope.workspace_sid, "workflow_sid", channel)
    tasks = counts[workflow_sid] if workflow_sid in counts else _empty_counts()
    by_status = {s: tasks["by_status"].get(s, 0) for s in OPEN_STATUSES}
    age, sid = _age(tasks["waiting"], scope.now_us)
    if nested:
        return {
            "longest_task_waiting_age": age,
            "longest_task_waiting_sid": sid,
            "tasks_by_priority": dict(tasks["open_by_priority"]),
            "tasks_by_status": by_status,
            "total_tasks": sum(by_status.values()),
        }
    return {
        "longest_task_waiting_age": age,
        "longest_task_waiting_sid": sid,
        "url": scope.url,
        "tasks_by_priority": dict(tasks["open_by_priority"]),
        "workspace_sid": scope.workspace_sid,
        "tasks_by_status": by_status,
        "workflow_sid": workflow_sid,
        "total_tasks": sum(by_status.values()),
        "account_sid": scope.account_sid,
    }


def workflow_cumulative(
    scope: Scope, query: Query, workflow_sid: str, *, nested: bool = False
) -> dict[str, Any]:
    values = _cumulative_of(scope, query, "workflow", {"workflow_sid": workflow_sid})
    if nested:
        return _ordered(values, NESTED_CUMULATIVE)
    values.update(
        account_sid=scope.account_sid,
        workflow_sid=workflow_sid,
        workspace_sid=scope.workspace_sid,
        url=scope.url,
    )
    return _ordered(values, WORKFLOW_CUMULATIVE)


def workflow_statistics(scope: Scope, query: Query, workflow_sid: str) -> dict[str, Any]:
    return {
        "account_sid": scope.account_sid,
        "url": scope.url,
        "cumulative": workflow_cumulative(scope, query, workflow_sid, nested=True),
        "realtime": workflow_real_time(scope, query.channel, workflow_sid, nested=True),
        "workflow_sid": workflow_sid,
        "workspace_sid": scope.workspace_sid,
    }


# --- Workers --------------------------------------------------------------------------------------


def _activity_durations(
    scope: Scope, query: Query, worker_sids: Sequence[str] | None
) -> list[dict[str, Any]]:
    start, end = query.start_us, min(query.end_us, scope.now_us)
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = scope.conn.execute(
        "SELECT worker_sid, activity_sid, started, ended FROM activity_spans "
        "WHERE workspace_sid = ? AND started < ? AND (ended IS NULL OR ended > ?)",
        (scope.workspace_sid, end, start),
    ).fetchall()
    wanted = set(worker_sids) if worker_sids is not None else None
    for row in rows:
        if wanted is not None and row["worker_sid"] not in wanted:
            continue
        spent = min(row["ended"] or end, end) - max(row["started"], start)
        if spent > 0:
            per[row["activity_sid"]][row["worker_sid"]] += spent
    items = []
    for activity in _activities(scope.conn, scope.workspace_sid):
        times = list(per.get(activity["sid"], {}).values())
        total = sum(times)
        items.append(
            {
                "max": max(times) // US if times else 0,
                "min": min(times) // US if times else 0,
                "sid": activity["sid"],
                "friendly_name": activity["friendly_name"],
                "avg": total // len(times) // US if times else 0,
                "total": total // US,
            }
        )
    return items


def _reservation_counts(
    scope: Scope, query: Query, worker_sids: Sequence[str] | None
) -> dict[str, int]:
    figures = _figures(scope.conn, scope.workspace_sid, query, group="worker_sid")
    wanted = set(worker_sids) if worker_sids is not None else None
    counts = {name: 0 for name, _ in RESERVATION_FIGURES}
    for worker_sid, kinds in figures.items():
        if worker_sid is None or (wanted is not None and worker_sid not in wanted):
            continue
        for name, kind in RESERVATION_FIGURES:
            if kind in kinds:
                counts[name] += kinds[kind].count
    return counts


def workers_selection(
    conn: sqlite3.Connection, workspace_sid: str, first: Callable[[str], str | None]
) -> list[str] | None:
    """The workers a Workers/Statistics request is about (TaskQueueSid, TaskQueueName,
    FriendlyName), or None for all."""
    sql = "SELECT w.sid FROM workers w WHERE w.workspace_sid = ?"
    params: list[Any] = [workspace_sid]
    narrowed = False
    if (value := first("TaskQueueSid")) is not None:
        rules.validate_sid(value, "WQ", param="TaskQueueSid")
        sql += " AND w.sid IN (SELECT worker_sid FROM queue_members WHERE task_queue_sid = ?)"
        params.append(value.strip())
        narrowed = True
    if (value := first("TaskQueueName")) is not None:
        sql += (
            " AND w.sid IN (SELECT m.worker_sid FROM queue_members m JOIN task_queues q "
            "ON q.sid = m.task_queue_sid WHERE q.workspace_sid = ? AND q.friendly_name = ?)"
        )
        params += [workspace_sid, value]
        narrowed = True
    if (value := first("FriendlyName")) is not None:
        sql += " AND casefold(w.friendly_name) = casefold(?)"
        params.append(value)
        narrowed = True
    if not narrowed:
        return None
    return [r[0] for r in conn.execute(sql, params)]


def workers_real_time(
    scope: Scope, worker_sids: Sequence[str] | None, *, nested: bool = False
) -> dict[str, Any]:
    by_activity = _workers_by_activity(scope.conn, scope.workspace_sid, worker_sids)
    activities = _activity_statistics(
        _activities(scope.conn, scope.workspace_sid), by_activity, workers_last=False
    )
    if nested:
        return {"total_workers": sum(by_activity.values()), "activity_statistics": activities}
    return {
        "account_sid": scope.account_sid,
        "workspace_sid": scope.workspace_sid,
        "url": scope.url,
        "total_workers": sum(by_activity.values()),
        "activity_statistics": activities,
    }


def workers_cumulative(
    scope: Scope, query: Query, worker_sids: Sequence[str] | None, *, nested: bool = False
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not nested:
        values.update(
            account_sid=scope.account_sid, workspace_sid=scope.workspace_sid, url=scope.url
        )
    values.update(_reservation_counts(scope, query, worker_sids))
    values["activity_durations"] = _activity_durations(scope, query, worker_sids)
    values["start_time"] = rules.format_datetime(query.start)
    values["end_time"] = rules.format_datetime(query.end)
    return values


def workers_statistics(scope: Scope, query: Query, worker_sids: Sequence[str] | None) -> dict:
    return {
        "cumulative": workers_cumulative(scope, query, worker_sids, nested=True),
        "realtime": workers_real_time(scope, worker_sids, nested=True),
        "workspace_sid": scope.workspace_sid,
        "account_sid": scope.account_sid,
        "url": scope.url,
    }


def worker_statistics(scope: Scope, query: Query, worker_sid: str) -> dict[str, Any]:
    return {
        "cumulative": workers_cumulative(scope, query, [worker_sid], nested=True),
        "account_sid": scope.account_sid,
        "workspace_sid": scope.workspace_sid,
        "worker_sid": worker_sid,
        "url": scope.url,
    }
