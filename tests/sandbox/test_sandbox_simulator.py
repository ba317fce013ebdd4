"""The lifecycle simulator: TaskRouter's own transitions (TTL expiry and purging are
housekeeping's, tested in test_sandbox_housekeeping.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from tasks_app.sandbox import Simulator
from tests.conftest import wait_until
from tests.sandbox.helpers import SUPPORT

US = 1_000_000


def _snapshot(store) -> dict[str, tuple[str, int]]:
    with store.read() as conn:
        rows = conn.execute("SELECT sid, assignment_status, version FROM tasks").fetchall()
    return {r["sid"]: (r["assignment_status"], r["version"]) for r in rows}


def test_without_a_simulator_nothing_changes_until_housekeeping_is_due(api, store):
    # A fresh seed's earliest purge is minutes away, its earliest TTL further still.
    before = _snapshot(store)
    for _ in range(3):
        api.get(f"/Workspaces/{SUPPORT}/Tasks", {"PageSize": 100})
    time.sleep(0.1)
    assert _snapshot(store) == before


def test_steps_move_tasks_along_the_lifecycle_and_bump_versions(store):
    before = _snapshot(store)
    simulator = Simulator(store, seed=3)
    kinds: Counter[str] = Counter()
    for _ in range(200):
        for event in simulator.step():
            kinds[event.kind] += event.count
    after = _snapshot(store)
    assert {"create", "reserve", "accept", "wrap", "complete"} <= set(kinds)
    lawful = {
        ("pending", "reserved"),
        ("reserved", "assigned"),
        ("reserved", "pending"),
        ("assigned", "wrapping"),
        ("wrapping", "completed"),
    }
    for sid, (status, version) in after.items():
        if sid not in before:
            assert version <= 4  # created during the run
            continue
        old_status, old_version = before[sid]
        if (old_status, old_version) != (status, version):
            assert version > old_version
        if status != old_status:
            assert (old_status, status) in lawful or version - old_version > 1
    assert len(after) == len(before) + kinds["create"] - kinds["purge"]


def test_new_tasks_are_routed_through_their_workflow(store):
    simulator = Simulator(store, seed=5)
    created = []
    for _ in range(40):
        created += [e.task_sid for e in simulator.step() if e.kind == "create"]
    assert created
    with store.read() as conn:
        for sid in created:
            row = conn.execute("SELECT * FROM tasks WHERE sid = ?", (sid,)).fetchone()
            if row is None:
                continue  # already moved on and purged: impossible within 40 steps, but harmless
            assert row["task_queue_sid"].startswith("WQ")
            assert row["workflow_sid"].startswith("WW")


def test_run_steps_until_stopped(store):
    before = _snapshot(store)
    stop = threading.Event()
    thread = threading.Thread(target=Simulator(store, rate=200, seed=9).run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: _snapshot(store) != before, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
