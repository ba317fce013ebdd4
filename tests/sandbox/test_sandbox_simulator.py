"""The simulated shift: agents sign in, answer, handle, wrap up and take breaks through the
engine the API uses; what TaskRouter's clock does to reservations; waits that follow
staffing. (TTL expiry and purging in general are housekeeping's, tested in
test_sandbox_housekeeping.py.)"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tasks_app.sandbox import Housekeeper, Simulator
from tasks_app.sandbox import store as store_module
from tasks_app.sandbox.housekeeping import TTL_REASON
from tasks_app.taskrouter import rules
from tests.conftest import wait_until
from tests.sandbox.helpers import SUPPORT, TRAINING, clocked, task_in_status

US = 1_000_000


def _snapshot(store) -> dict[str, tuple[str, int]]:
    with store.read() as conn:
        rows = conn.execute("SELECT sid, assignment_status, version FROM tasks").fetchall()
    return {r["sid"]: (r["assignment_status"], r["version"]) for r in rows}


def _consistent(store) -> None:
    """What TaskRouter's bookkeeping guarantees, whatever happened."""
    with store.read() as conn:
        assert not conn.execute(
            "SELECT sid FROM worker_channels wc WHERE held != (SELECT COUNT(*) FROM "
            "reservations r WHERE r.worker_sid = wc.worker_sid AND r.task_channel_sid = "
            "wc.task_channel_sid AND r.reservation_status IN ('pending', 'accepted', 'wrapping'))"
        ).fetchall()
        assert not conn.execute(
            "SELECT sid FROM tasks t WHERE assignment_status = 'reserved' AND NOT EXISTS "
            "(SELECT 1 FROM reservations r WHERE r.task_sid = t.sid "
            "AND r.reservation_status = 'pending')"
        ).fetchall()
        assert not conn.execute(
            "SELECT sid FROM tasks t WHERE assignment_status IN ('assigned', 'wrapping') "
            "AND NOT EXISTS (SELECT 1 FROM reservations r WHERE r.task_sid = t.sid "
            "AND r.reservation_status IN ('accepted', 'wrapping'))"
        ).fetchall()


def test_without_a_simulator_nothing_changes_until_housekeeping_is_due(api, store):
    # A fresh seed's first reservation times out two minutes after seeding; its earliest
    # purge is minutes away, its earliest TTL further still.
    before = _snapshot(store)
    for _ in range(3):
        api.get(f"/Workspaces/{SUPPORT}/Tasks", {"PageSize": 100})
    time.sleep(0.1)
    assert _snapshot(store) == before


@pytest.mark.parametrize("static", [False, True])
def test_seeded_reservations_time_out_on_the_sandboxs_clock_unless_it_is_stopped(
    store, clock, static
):
    client = clocked(store, clock, static=static)
    reserved = task_in_status(store, "reserved")
    clock.advance(150)  # past every seeded reservation's two minutes
    status = client.get(f"/Workspaces/{SUPPORT}/Tasks/{reserved}").json()["assignment_status"]
    assert (status == "reserved") is static
    _consistent(store)


def test_a_simulated_shift_moves_tasks_through_their_lifecycle(store):
    before = _snapshot(store)
    simulator = Simulator(store, rate=0.5, seed=3)
    start = store_module.now_us()
    kinds: Counter[str] = Counter()
    for step in range(120):  # ten minutes, a step every five seconds
        for event in simulator.step(start + step * 5 * US):
            kinds[event.kind] += event.count
    assert {"create", "accept", "wrap", "complete", "sign-in"} <= set(kinds)
    after = _snapshot(store)
    lawful = {
        ("pending", "reserved"),
        ("reserved", "assigned"),
        ("reserved", "pending"),
        ("assigned", "wrapping"),
        ("wrapping", "completed"),
    }
    for sid, (status, version) in after.items():
        if sid not in before:
            continue
        old_status, old_version = before[sid]
        if (old_status, old_version) != (status, version):
            assert version > old_version
        if status != old_status:
            assert (old_status, status) in lawful or version - old_version > 1
    assert len(after) == len(before) + kinds["create"] - kinds["purge"]
    _consistent(store)


def test_agents_sign_out_when_off_shift_and_stop_taking_work(store):
    simulator = Simulator(store, seed=4, staffing=0.0, workspaces=(SUPPORT,))
    simulator.step(store_module.now_us())
    with store.read() as conn:
        available = conn.execute(
            "SELECT COUNT(*) FROM workers WHERE workspace_sid = ? AND available = 1", (SUPPORT,)
        ).fetchone()[0]
        rejected = conn.execute(
            "SELECT COUNT(*) FROM reservations WHERE workspace_sid = ? "
            "AND reservation_status = 'rejected' AND date_updated >= ?",
            (SUPPORT, store_module.now_us() - 60 * US),
        ).fetchone()[0]
    assert available == 0
    assert rejected > 0  # they rejected their pending reservations as they left
    _consistent(store)


def _simulated_hour(store, staffing: float) -> tuple[float, int]:
    """An hour in Training, a step every 10 s: average wait (s) until accepted, and the
    tasks still waiting at the end."""
    simulator = Simulator(store, rate=45 / 3600, seed=11, staffing=staffing, workspaces=(TRAINING,))
    start = store_module.now_us()
    for step in range(360):
        simulator.step(start + step * 10 * US)
    end = start + 3600 * US
    with store.read() as conn:
        waits = conn.execute(
            "SELECT AVG(wait) FROM ledger WHERE workspace_sid = ? "
            "AND kind = 'reservation.accepted' AND at BETWEEN ? AND ?",
            (TRAINING, start, end),
        ).fetchone()[0]
        waiting = conn.execute(
            "SELECT COUNT(*) FROM tasks WHERE workspace_sid = ? "
            "AND assignment_status IN ('pending', 'reserved')",
            (TRAINING,),
        ).fetchone()[0]
    _consistent(store)
    return (waits or 0) / US, waiting


def test_in_a_simulated_hour_waits_are_longer_with_fewer_agents(store, tmp_path, seeded_template):
    import shutil

    from tasks_app.sandbox import SandboxStore

    other_path = tmp_path / "short-staffed.sqlite3"
    shutil.copyfile(seeded_template, other_path)
    short_staffed = SandboxStore(other_path)
    try:
        full_wait, full_waiting = _simulated_hour(store, staffing=1.0)  # all five trainees
        short_wait, short_waiting = _simulated_hour(short_staffed, staffing=0.2)  # one
    finally:
        short_staffed.close()
    assert full_wait > 0
    assert short_wait > 2 * full_wait
    assert short_waiting > full_waiting


def test_a_task_past_its_ttl_is_canceled_with_its_reservations(store):
    reserved = task_in_status(store, "reserved")
    now = store_module.now_us()
    with store.write() as conn:
        store_module.update_task(conn, reserved, {"expires_at": now - US})
    outcome = Housekeeper(store).run(now)
    assert reserved in outcome.expired
    with store.read() as conn:
        row = store_module.fetch_task(conn, SUPPORT, reserved)
        assert row["assignment_status"] == rules.CANCELED
        assert row["reason"] == TTL_REASON
        statuses = conn.execute(
            "SELECT reservation_status FROM reservations WHERE task_sid = ?", (reserved,)
        ).fetchall()
    assert "canceled" in {r[0] for r in statuses}
    _consistent(store)


def test_a_purged_task_takes_its_reservations_with_it(store):
    completed = task_in_status(store, "completed")
    with store.read() as conn:
        assert conn.execute(
            "SELECT 1 FROM reservations WHERE task_sid = ?", (completed,)
        ).fetchall()
    Housekeeper(store, purge_after=0).run(store_module.now_us())
    with store.read() as conn:
        assert store_module.fetch_task(conn, SUPPORT, completed) is None
        assert not conn.execute(
            "SELECT 1 FROM reservations WHERE task_sid = ?", (completed,)
        ).fetchall()


def test_run_steps_until_stopped(store):
    before = _snapshot(store)
    stop = threading.Event()
    thread = threading.Thread(
        target=Simulator(store, rate=50, seed=9).run, args=(stop,), kwargs={"tick": 0.05}
    )
    thread.start()
    try:
        wait_until(lambda: _snapshot(store) != before, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=120)  # the step under way ends first (a wide margin under load)
    assert not thread.is_alive()
