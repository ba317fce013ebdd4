"""What happened in one write: the record statistics are computed from.

Every change the sandbox makes to tasks, reservations and workers goes through one function
of :mod:`.assignment` or :mod:`.workforce`, and each of those says what happened with
:meth:`Context.record`, under the name of the TaskRouter event it is (``task.created``,
``reservation.accepted``, ``worker.activity.update``...; docs/taskrouter.md, "Events").
``record`` is the one place a happening is written down:

* its TaskRouter Events are recorded (:mod:`.events`), acted by ``Context.actor`` (a REST
  client, a worker, or TaskRouter itself), unless the caller records them itself
  (``emit=False``: the REST task operations, whose task events :mod:`.events` decides from
  the task before and after);
* the kinds that statistics count go to the ``ledger`` table, with the task's wait at that
  moment (from its creation, and from entering its queue), so CumulativeStatistics are
  aggregate queries over a window of it, whatever became of the task since (TaskRouter
  purges closed tasks minutes after they close; their statistics stay for 30 days);
* every happening is kept on the context (``Context.happened``), in order, for the caller:
  the simulator reports them, tests read them.

DECISIONS:
    * The ledger keeps 30 days (TaskRouter's statistics history); older rows are pruned
      by the sandbox's clock (:func:`prune`).
    * Waits are kept in microseconds and reported in whole seconds, rounded down, like a
      Task's ``age``.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasks_app.taskrouter.routing import Route

from . import events

__all__ = ["LEDGER_KINDS", "Context", "Happening", "prune"]

US = 1_000_000
HISTORY_US = 30 * 86_400 * US

# The happenings statistics count (CumulativeStatistics), by TaskRouter event type.
LEDGER_KINDS: frozenset[str] = frozenset(
    {
        "task.created",
        "task.canceled",
        "task.completed",
        "task.deleted",
        "task-queue.entered",
        "task-queue.moved",
        "workflow.timeout",
        "workflow.skipped",
        "reservation.created",
        "reservation.accepted",
        "reservation.rejected",
        "reservation.timeout",
        "reservation.canceled",
        "reservation.rescinded",
    }
)


@dataclass(frozen=True, slots=True)
class Happening:
    """One TaskRouter event's worth of change: its type, the resources it concerns as
    they were right after it, and what the event's data needs beyond them."""

    kind: str
    workspace_sid: str
    at: int  # microseconds since the epoch
    task: Mapping[str, Any] | None = None
    reservation: Mapping[str, Any] | None = None
    worker: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Context:
    """One write transaction: its connection, its moment (``now``, microseconds), where new
    SIDs come from, and what happened in it.

    ``sids`` is ``prefix -> SID``; the seed passes a deterministic one."""

    conn: sqlite3.Connection
    now: int
    sids: Callable[[str], str] = _new_sid
    happened: list[Happening] = field(default_factory=list)
    # Parsed workflow configurations and queue rows, read once per transaction.
    cache: dict[Any, Any] = field(default_factory=dict)
    # Who acts, in the Events: a REST client, a worker; None is TaskRouter itself.
    actor: events.Actor | None = None

    def new_sid(self, prefix: str) -> str:
        return self.sids(prefix)

    def record(
        self,
        kind: str,
        *,
        workspace_sid: str,
        task: Mapping[str, Any] | None = None,
        reservation: Mapping[str, Any] | None = None,
        worker: Mapping[str, Any] | None = None,
        task_queue_sid: str | None = None,
        emit: bool = True,
        route: Route | None = None,
        **extra: Any,
    ) -> Happening:
        """Write down that ``kind`` happened now. ``task_queue_sid`` overrides the task's
        queue (a move is counted for the queue the task left); ``route`` names the filter a
        workflow.target-matched event shows."""
        happening = Happening(
            kind=kind,
            workspace_sid=workspace_sid,
            at=self.now,
            task=dict(task) if task is not None else None,
            reservation=dict(reservation) if reservation is not None else None,
            worker=dict(worker) if worker is not None else None,
            extra=extra,
        )
        self.happened.append(happening)
        if emit:
            self._emit(happening, route)
        if kind in LEDGER_KINDS:
            self._ledger(happening, task_queue_sid)
        return happening

    def names(self, workspace_sid: str) -> events.Names:
        key = ("names", workspace_sid)
        if key not in self.cache:
            self.cache[key] = events.Names.read(self.conn, workspace_sid)
        return self.cache[key]

    def _emit(self, happening: Happening, route: Route | None) -> None:
        kind, ws = happening.kind, happening.workspace_sid
        names = self.names(ws)
        found: list[events.Event] = []
        if kind.startswith("reservation.") and happening.task and happening.reservation:
            reservation, worker = happening.reservation, happening.worker
            found.append(
                events.reservation_event(kind, happening.task, reservation, worker, names, self.now)
            )
        elif kind.startswith("worker.") and happening.worker:
            found.append(events.worker_event(kind, happening.worker, names, happening.extra))
        elif kind.startswith("activity."):
            found.append(events.activity_event(kind, happening.extra["activity"], names))
        elif happening.task is not None:
            found += events.moved_task_events(
                kind, happening.task, names, self.now, happening.extra, route
            )
        actor = self.actor or events.system(ws)
        events.emit(self.conn, ws, actor, found, now=self.now)

    def _ledger(self, happening: Happening, task_queue_sid: str | None) -> None:
        task = happening.task or {}
        reservation = happening.reservation or {}
        wait = queue_wait = None
        if task.get("date_created") is not None:
            wait = max(0, self.now - task["date_created"])
        if task.get("task_queue_entered_date") is not None:
            queue_wait = max(0, self.now - task["task_queue_entered_date"])
        self.conn.execute(
            "INSERT INTO ledger (workspace_sid, at, kind, task_sid, task_queue_sid, "
            "workflow_sid, task_channel_sid, worker_sid, wait, queue_wait) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                happening.workspace_sid,
                self.now,
                happening.kind,
                task.get("sid") or reservation.get("task_sid"),
                task_queue_sid or task.get("task_queue_sid") or reservation.get("task_queue_sid"),
                task.get("workflow_sid") or reservation.get("workflow_sid"),
                task.get("task_channel_sid") or reservation.get("task_channel_sid"),
                reservation.get("worker_sid") or (happening.worker or {}).get("sid"),
                wait,
                queue_wait,
            ),
        )

    def kinds(self) -> list[str]:
        return [h.kind for h in self.happened]


def prune(conn: sqlite3.Connection, now: int) -> int:
    """Forget ledger rows and closed activity spans older than TaskRouter's 30 days (per
    workspace: each one range scan of an index)."""
    before = now - HISTORY_US
    removed = 0
    for (workspace_sid,) in conn.execute("SELECT sid FROM workspaces").fetchall():
        removed += conn.execute(
            "DELETE FROM ledger WHERE workspace_sid = ? AND at < ?", (workspace_sid, before)
        ).rowcount
        removed += conn.execute(
            "DELETE FROM activity_spans WHERE workspace_sid = ? AND ended < ?",
            (workspace_sid, before),
        ).rowcount
    return removed
