"""TaskRouter's own clock: TTL expiry and the purge of closed tasks, with no simulator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tasks_app import embedded_sandbox
from tasks_app.sandbox import Housekeeper
from tasks_app.sandbox import store as store_module
from tasks_app.sandbox.housekeeping import PURGE_AFTER_RANGE, TTL_REASON, purge_delay
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.errors import NotFound
from tests.conftest import wait_until
from tests.sandbox.helpers import SALES, clocked, task_in_status

US = 1_000_000
SALES_TASKS = f"/Workspaces/{SALES}/Tasks"


def _closed_tasks(api, count: int) -> list[str]:
    sids = []
    for _ in range(count):
        task = api.post(SALES_TASKS, {"Attributes": '{"type": "inquiry"}'}).json()
        api.post(task["url"], {"AssignmentStatus": "canceled", "Reason": "duplicate"})
        sids.append(task["sid"])
    return sids


def _present(api, sids) -> set[str]:
    return {sid for sid in sids if api.get(f"{SALES_TASKS}/{sid}").status_code == 200}


def _task_events(api, sid, clock) -> list[dict]:
    start = (clock.moment - timedelta(hours=1)).isoformat()
    params = {"TaskSid": sid, "StartDate": start, "PageSize": 1000}
    return api.get(f"/Workspaces/{SALES}/Events", params).json()["events"]


def test_closed_tasks_are_purged_5_to_8_minutes_after_closing_each_at_its_own_moment(tr, clock):
    sids = _closed_tasks(tr, 20)
    delays = {sid: purge_delay(sid) / US for sid in sids}
    assert all(300 <= d <= 480 for d in delays.values())
    assert len(set(delays.values())) > 1  # spread over the range, not all at once
    clock.advance(299)
    assert _present(tr, sids) == set(sids)
    middle = (min(delays.values()) + max(delays.values())) / 2
    clock.advance(middle - 299)
    assert _present(tr, sids) == {sid for sid, d in delays.items() if d > middle}
    clock.advance(481 - middle)
    assert _present(tr, sids) == set()
    # The same task always gets the same delay: a test can predict it.
    assert {sid: purge_delay(sid) / US for sid in sids} == delays


def test_a_purge_records_task_system_deleted_and_keeps_the_tasks_events(tr, clock):
    (sid,) = _closed_tasks(tr, 1)
    clock.advance(PURGE_AFTER_RANGE[1] + 1)
    assert tr.get(f"{SALES_TASKS}/{sid}").status_code == 404
    found = _task_events(tr, sid, clock)
    assert [e["event_type"] for e in found][-2:] == ["task.canceled", "task.system-deleted"]
    purged = found[-1]
    assert (purged["actor_type"], purged["actor_sid"], purged["source"]) == (
        "workspace",
        SALES,
        "twilio",
    )
    assert purged["description"] == f"Task {sid} deleted by TaskRouter"
    assert purged["event_data"]["task_canceled_reason"] == "duplicate"


def test_purge_after_replaces_the_delay_for_every_task(store, clock):
    api = clocked(store, clock, housekeeper=Housekeeper(store, purge_after=2))
    sids = _closed_tasks(api, 3)
    clock.advance(1.5)
    assert _present(api, sids) == set(sids)
    clock.advance(1)
    assert _present(api, sids) == set()


def test_a_task_past_its_ttl_is_canceled_as_task_ttl_exceeded(tr, clock):
    task = tr.post(SALES_TASKS, {"Timeout": "60"}).json()
    clock.advance(59)
    assert tr.get(task["url"]).json()["assignment_status"] == "pending"
    clock.advance(2)
    expired = tr.get(task["url"])
    assert expired.json()["assignment_status"] == "canceled"
    assert expired.json()["reason"] == TTL_REASON
    assert expired.headers["ETag"] == "1"
    canceled = _task_events(tr, task["sid"], clock)[-1]
    assert canceled["event_type"] == "task.canceled"
    assert canceled["description"] == "Task TTL Exceeded"
    assert canceled["event_data"]["task_canceled_reason"] == "Task TTL Exceeded"
    assert canceled["actor_type"] == "workspace"
    clock.advance(PURGE_AFTER_RANGE[1])
    assert tr.get(task["url"]).status_code == 404


def test_reserved_tasks_expire_too_and_assigned_ones_do_not(tr, store, clock):
    reserved = task_in_status(store, "reserved", SALES)
    assigned = task_in_status(store, "assigned", SALES)
    with store.write() as conn:
        for sid in (reserved, assigned):
            store_module.update_task(conn, sid, {"expires_at": clock.us - US})
    statuses = {
        sid: tr.get(f"{SALES_TASKS}/{sid}").json()["assignment_status"]
        for sid in (reserved, assigned)
    }
    assert statuses == {reserved: "canceled", assigned: "assigned"}


def test_housekeeping_runs_at_most_once_a_second_by_its_clock(store, clock):
    housekeeper = Housekeeper(store)
    assert housekeeper.maybe_run(clock.us) is not None
    assert housekeeper.maybe_run(clock.us + US // 2) is None
    assert housekeeper.maybe_run(clock.us + US) is not None


def test_nothing_is_written_while_nothing_is_due(store, clock):
    with store.read() as conn:
        before = conn.execute("SELECT COUNT(*), MAX(seq) FROM events").fetchone()
    outcome = Housekeeper(store).run(clock.us)
    assert (outcome.expired, outcome.purged) == ([], [])
    with store.read() as conn:
        assert tuple(conn.execute("SELECT COUNT(*), MAX(seq) FROM events").fetchone()) == tuple(
            before
        )


def test_page_tokens_naming_purged_tasks_keep_working(tr, clock):
    (sid,) = _closed_tasks(tr, 1)
    event = _task_events(tr, sid, clock)[0]
    clock.advance(PURGE_AFTER_RANGE[1] + 1)
    assert tr.get(f"{SALES_TASKS}/{sid}").status_code == 404
    assert tr.get(SALES_TASKS, {"PageToken": f"PA{sid}"}).status_code == 200
    events_page = tr.get(f"/Workspaces/{SALES}/Events", {"PageToken": f"PB{event['sid']}"})
    assert events_page.status_code == 200


def test_events_are_kept_30_days_and_tombstones_a_day(store, clock):
    housekeeper = Housekeeper(store)
    purged_at = clock.us + (PURGE_AFTER_RANGE[1] + 1) * US
    housekeeper.run(purged_at)  # purges the seed's closed tasks, leaving their tombstones
    tombstones = "SELECT COUNT(*) FROM task_tombstones WHERE deleted_at = ?"
    with store.read() as conn:
        assert conn.execute(tombstones, (purged_at,)).fetchone()[0] > 0
        oldest = conn.execute("SELECT MIN(event_date_ms) FROM events").fetchone()[0]
    housekeeper.run(purged_at + 86_400 * US)
    with store.read() as conn:
        assert conn.execute(tombstones, (purged_at,)).fetchone()[0] > 0  # a day: kept
    housekeeper.run(purged_at + 86_401 * US)
    with store.read() as conn:
        assert conn.execute(tombstones, (purged_at,)).fetchone()[0] == 0
        assert conn.execute("SELECT MIN(event_date_ms) FROM events").fetchone()[0] == oldest
    month = oldest * 1000 + int(timedelta(days=30).total_seconds()) * US
    housekeeper.run(month + 1000)
    with store.read() as conn:
        assert conn.execute("SELECT MIN(event_date_ms) FROM events").fetchone()[0] > oldest


@pytest.mark.django_db
def test_the_embedded_sandbox_purges_closed_tasks_with_no_simulator(sandbox, settings):
    settings.SANDBOX_PURGE_AFTER = 1
    embedded_sandbox.reset()
    workspace = sandbox.workspace_sid()
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, assignment_status="canceled", reason="Customer hung up")

    def purged() -> bool:
        try:
            taskrouter.fetch_task(workspace_sid=workspace, task_sid=sid)
        except NotFound:
            return True
        return False

    wait_until(purged, timeout=30)
    with sandbox.store.read() as conn:
        recorded = [
            json.loads(row["event_data"])["task_assignment_status"]
            for row in conn.execute(
                "SELECT event_data FROM events WHERE task_sid = ? ORDER BY seq", (sid,)
            )
        ]
        types = [
            row[0]
            for row in conn.execute(
                "SELECT event_type FROM events WHERE task_sid = ? ORDER BY seq", (sid,)
            )
        ]
    assert types[-2:] == ["task.canceled", "task.system-deleted"]
    assert recorded[-1] == "canceled"
