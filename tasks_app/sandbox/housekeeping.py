"""TaskRouter's own clock in the sandbox: what happens to tasks while nobody acts on them.

* A pending or reserved task past its TTL (``date_created + timeout``) is canceled with
  reason "Task TTL Exceeded" ([OAI] CreateTask ``Timeout``): ``task.canceled``.
* A canceled or completed task is deleted 5 to 8 minutes after it closed ([TaskDoc]; the
  docs also say five and fifteen): ``task.system-deleted``, its Events kept. The delay is
  spread over that range and fixed per task (from its SID), so a test can predict it;
  ``purge_after`` (``runsandbox --purge-after``, ``SANDBOX_PURGE_AFTER``) replaces it with
  one delay for every task.
* Reservations and workflow targets time out (:func:`.assignment.run_clock`): a reservation
  nobody answered within its workflow's ``task_reservation_timeout`` times out and its
  worker moves to the timeout activity; a pending task whose target timed out (by its age)
  moves on along its workflow, or leaves it.
* Page-token tombstones of deleted tasks are kept a day, Events and the statistics' ledger
  30 days.

It runs wherever the sandbox runs, with or without the simulator: the app before answering
a request (at most once a second by the app's clock, so tests with an injected clock stay
deterministic), ``runsandbox`` every second in a thread, the simulator before each step.
A run that finds nothing due is one read transaction; otherwise one write transaction that
reads again what is due, so several processes on one file never apply a change twice.
Each change records its Events in that transaction (:mod:`.events`), acted by the
workspace.

DECISION: the clock is the sandbox's, not TaskRouter's: a sandbox nobody asks anything does
nothing until asked (the in-process one runs on Taskdeck's requests); a change that was due
meanwhile happens, with its events, at the next run.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tasks_app.taskrouter import rules

from . import assignment, events, store
from .ledger import Context, prune

__all__ = ["PURGE_AFTER_RANGE", "TTL_REASON", "Housekeeper", "Outcome", "purge_delay"]

US = 1_000_000
PURGE_AFTER_RANGE = (300, 480)  # seconds after closing: "5 to 8 minutes"
TOMBSTONE_SECONDS = 86_400
TTL_REASON = events.TTL_DESCRIPTION
_COLUMNS = ", ".join(store.TASK_COLUMNS)


def purge_delay(sid: str, purge_after: float | None = None) -> int:
    """Microseconds between a task's closing and its purge: ``purge_after`` seconds when
    given, else 5 to 8 minutes, the same for the same SID every time."""
    if purge_after is not None:
        return int(purge_after * US)
    low, high = PURGE_AFTER_RANGE
    spread = int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big") % (high - low + 1)
    return (low + spread) * US


@dataclass
class Outcome:
    expired: list[str] = field(default_factory=list)  # canceled: TTL exceeded
    purged: list[str] = field(default_factory=list)
    timed_out: int = 0  # reservations and workflow targets


class Housekeeper:
    """``Housekeeper(store).run(now)`` applies whatever is due at ``now`` (microseconds)."""

    def __init__(
        self,
        task_store: store.SandboxStore,
        *,
        purge_after: float | None = None,
        interval: float = 1.0,
    ) -> None:
        if purge_after is not None and purge_after < 0:
            raise ValueError("purge_after must be 0 seconds or more")
        self.store = task_store
        self.purge_after = purge_after
        self._interval = int(interval * US)
        self._lock = threading.Lock()
        self._last: int | None = None

    def __repr__(self) -> str:
        return f"Housekeeper({self.store!r}, purge_after={self.purge_after})"

    def maybe_run(self, now: int) -> Outcome | None:
        """Run unless a run started less than ``interval`` before ``now`` (by this clock)."""
        with self._lock:
            if self._last is not None and 0 <= now - self._last < self._interval:
                return None
            self._last = now
        return self.run(now)

    def run_forever(self, stop: threading.Event, clock: Callable[[], int] = store.now_us) -> None:
        """Run every ``interval`` until ``stop`` is set (runsandbox's clock thread)."""
        while not stop.is_set():
            self.maybe_run(clock())
            stop.wait(self._interval / US)

    def run(self, now: int) -> Outcome:
        with self.store.read() as conn:
            if not self._anything_due(conn, now):
                return Outcome()
        outcome = Outcome()
        with self.store.write() as conn:
            ctx = Context(conn, now)  # TaskRouter itself acts: the workspace
            # Timeouts first: a task whose reservation times out may yet expire below.
            outcome.timed_out = assignment.run_clock(ctx)
            for row in self._expired(conn, now):
                # Canceled with its reservations; task.canceled says "Task TTL Exceeded".
                assignment.cancel_task(ctx, row["sid"], reason=TTL_REASON)
                outcome.expired.append(row["sid"])
            for row in self._closed_due(conn, now):
                ws = row["workspace_sid"]
                assignment.task_deleted(ctx, dict(row), by_api=False)
                store.delete_task(conn, row, now)
                events.task_deleted(
                    conn, row, actor=events.system(ws), now=now, by_system=True,
                    names=ctx.names(ws),
                )  # fmt: skip
                outcome.purged.append(row["sid"])
            store.prune_tombstones(conn, now - TOMBSTONE_SECONDS * US)
            events.prune(conn, _retention_ms(now))
            prune(conn, now)
        return outcome

    # What is due -------------------------------------------------------------------------

    def _anything_due(self, conn: sqlite3.Connection, now: int) -> bool:
        due = assignment.next_due(conn)
        return bool(
            (due is not None and due <= now)
            or self._expired(conn, now, limit=1)
            or self._closed_due(conn, now)
            or conn.execute(
                "SELECT 1 FROM task_tombstones WHERE deleted_at < ? LIMIT 1",
                (now - TOMBSTONE_SECONDS * US,),
            ).fetchone()
            or events.prunable(conn, _retention_ms(now))
        )

    @staticmethod
    def _expired(conn: sqlite3.Connection, now: int, limit: int = -1) -> list[sqlite3.Row]:
        return conn.execute(
            f"SELECT {_COLUMNS} FROM tasks "  # noqa: S608 - fixed names
            "WHERE assignment_status IN ('pending', 'reserved') AND expires_at <= ? LIMIT ?",
            (now, limit),
        ).fetchall()

    def _closed_due(self, conn: sqlite3.Connection, now: int) -> list[sqlite3.Row]:
        """Closed tasks past their purge delay: those closed longer ago than the shortest
        delay (few: the purge keeps them few), then each against its own delay."""
        shortest = PURGE_AFTER_RANGE[0] * US
        if self.purge_after is not None:
            shortest = purge_delay("", self.purge_after)
        candidates = conn.execute(
            f"SELECT {_COLUMNS} FROM tasks "  # noqa: S608 - fixed names
            "WHERE assignment_status IN ('canceled', 'completed') AND date_updated <= ?",
            (now - shortest,),
        ).fetchall()
        return [
            row
            for row in candidates
            if row["date_updated"] + purge_delay(row["sid"], self.purge_after) <= now
        ]


def _retention_ms(now: int) -> int:
    """Events before this moment (milliseconds) are past TaskRouter's 30 days."""
    return (now - int(rules.EVENTS_RETENTION.total_seconds()) * US) // 1000
