"""TaskRouter's assignment clock: reservations and workflow targets that time out.

A pending reservation times out when its workflow's ``task_reservation_timeout`` has passed
(its worker moves to the workspace's timeout activity, the task to the next worker); a
pending task's target times out when the task's age reaches it (the task moves to its next
target, or leaves its workflow). :func:`.assignment.run_clock` does both; this runs it:

* before a request, at most once a second by the app's clock (so a test's injected clock
  decides), and only when something is due: one cheap read otherwise;
* every second in ``runsandbox`` (a thread), and before each step of the simulator.

Several processes on one file: the due check is a read, the run a write transaction that
reads again what is due, so nothing times out twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import assignment, store
from .ledger import Context, prune

__all__ = ["AssignmentClock"]

US = 1_000_000
PRUNE_EVERY = 3_600 * US


class AssignmentClock:
    """``AssignmentClock(store).maybe_run(now)`` times out whatever is due at ``now`` (µs)."""

    def __init__(self, task_store: store.SandboxStore, *, interval: float = 1.0) -> None:
        self.store = task_store
        self._interval = int(interval * US)
        self._lock = threading.Lock()
        self._last: int | None = None
        self._pruned: int | None = None

    def __repr__(self) -> str:
        return f"AssignmentClock({self.store!r})"

    def maybe_run(self, now: int) -> int:
        """Run unless a run started less than the interval before ``now`` (by this clock)."""
        with self._lock:
            if self._last is not None and 0 <= now - self._last < self._interval:
                return 0
            self._last = now
        return self.run(now)

    def run(self, now: int) -> int:
        """Apply what is due at ``now``; returns how many things timed out."""
        with self.store.read() as conn:
            due = assignment.next_due(conn)
        prune_due = self._pruned is None or now - self._pruned >= PRUNE_EVERY
        if (due is None or due > now) and not prune_due:
            return 0
        with self.store.write() as conn:
            done = assignment.run_clock(Context(conn, now))
            if prune_due:
                prune(conn, now)
                self._pruned = now
        return done

    def run_forever(self, stop: threading.Event, clock: Callable[[], int] = store.now_us) -> None:
        """Run every interval until ``stop`` is set (runsandbox's clock thread)."""
        while not stop.is_set():
            self.maybe_run(clock())
            stop.wait(self._interval / US)
