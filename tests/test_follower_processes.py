"""The follower in real worker processes: killed with SIGKILL and restarted while
TaskRouter keeps changing, it loses no event and applies none twice, on SQLite and on
PostgreSQL. The index is compared with TaskRouter's own Events list."""

from __future__ import annotations

import itertools
import threading

import pytest

from tests.conftest import wait_until
from tests.workers import WorkerSite, sites

pytestmark = pytest.mark.django_db(transaction=True)

FOLLOWING = {"TASKDECK_FOLLOW_SECONDS": "0.3"}


class Changes(threading.Thread):
    """Someone changing tasks' priorities all along (one task.updated event each)."""

    def __init__(self, sandbox, sids: list[str]) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.sids = sandbox, sids
        self.stop = threading.Event()
        self.made = 0
        self.last: set[str] = set()

    def run(self) -> None:
        for priority, sid in zip(itertools.count(1), itertools.cycle(self.sids)):
            if self.stop.wait(0.05):
                return
            self.sandbox.change(sid, priority=priority)
            self.made += 1
            self.last.add(sid)


def indexed(site: WorkerSite, *columns: str, table: str = "index_taskevent") -> set[tuple]:
    return {tuple(row) for row in site.query(f"SELECT {', '.join(columns)} FROM {table}")}  # noqa: S608


def taskrouters_events(sandbox) -> set[str]:
    with sandbox.store.read() as conn:
        return {row["sid"] for row in conn.execute("SELECT sid FROM events")}


@sites("sqlite-db", "postgresql-db")
def test_no_event_is_lost_or_applied_twice_across_sigkills_and_restarts(
    sandbox, loopback_sandbox, worker_site
):
    if worker_site.database.startswith("postgres://"):
        worker_site.query("DELETE FROM index_taskevent")
        worker_site.query("DELETE FROM index_indexedtask")
        worker_site.query("DELETE FROM index_followcursor")
        worker_site.query("DELETE FROM fleet_lease")
    changes = Changes(sandbox, sandbox.task_sids("pending", limit=12))
    worker = worker_site.worker(**FOLLOWING)
    changes.start()
    try:
        for _ in range(3):  # each time mid-stream: some applied, some not yet read
            seen = len(indexed(worker_site, "sid"))
            wait_until(lambda seen=seen: len(indexed(worker_site, "sid")) > seen + 20, timeout=120)
            worker.kill()
            worker = worker_site.worker(**FOLLOWING)
    finally:
        changes.stop.set()
        changes.join(10)
    assert changes.made > 60

    expected = taskrouters_events(sandbox)
    wait_until(lambda: {s for (s,) in indexed(worker_site, "sid")} >= expected, timeout=120)
    rows = [sid for (sid,) in worker_site.query("SELECT sid FROM index_taskevent")]
    assert len(rows) == len(set(rows)) == len(expected)  # none twice, none missing
    priorities = dict(indexed(worker_site, "sid", "priority", table="index_indexedtask"))
    # Each changed task as TaskRouter has it now (its workflow may keep a priority).
    assert {sid: priorities[sid] for sid in changes.last} == {
        sid: sandbox.fetch(sid).priority for sid in changes.last
    }
