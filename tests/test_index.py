"""The task index: TaskRouter's Events followed into Taskdeck's own tables, each once."""

from __future__ import annotations

import pytest

from tasks_app.fleet import leases
from tasks_app.fleet.duties import DutyRunner, registered
from tasks_app.index import follower
from tasks_app.index.apply import apply_events
from tasks_app.index.models import FollowCursor, IndexedTask, TaskEvent
from tasks_app.index.text import fold, searchable_text
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import unless_locked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(sandbox):
    """The follow lease of the Support workspace, as a worker would hold it."""
    ws = sandbox.workspace_sid()
    lease = leases.acquire(f"follow:{ws}", holder="test-worker", seconds=600)
    assert lease is not None
    return lease


def follow_once(sandbox, held) -> FollowCursor:
    ws = sandbox.workspace_sid()
    follower.follow_round(ws, held)
    return FollowCursor.objects.get(pk=ws)


def every_event(ws: str) -> list[taskrouter.Event]:
    query = taskrouter.EventQuery(minutes=30 * 24 * 60 - 1)
    return list(taskrouter.iter_events(workspace_sid=ws, query=query))


def test_the_first_round_indexes_every_task_taskrouter_lists(sandbox, held):
    cursor = follow_once(sandbox, held)
    ws = sandbox.workspace_sid()

    listed = {t.sid: t for t in taskrouter.iter_tasks(workspace_sid=ws)}
    indexed = {row.sid: row for row in IndexedTask.objects.filter(workspace_sid=ws)}
    assert set(indexed) == set(listed)
    for sid, task in listed.items():
        row = indexed[sid]
        assert (row.status, row.priority, row.queue_sid) == (
            task.assignment_status,
            task.priority,
            task.task_queue_sid or "",
        )
        assert row.attributes == (task.attributes or {})
        assert row.deleted_at is None
    assert cursor.caught_up_at is not None and cursor.problem == ""
    # Every event TaskRouter still lists is kept, once.
    listed_events = {e.sid for e in every_event(ws)}
    assert listed_events <= set(TaskEvent.objects.values_list("sid", flat=True))


def test_a_colleagues_change_reaches_the_index_with_who_made_it(sandbox, held):
    follow_once(sandbox, held)
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, priority=77, attributes={"customer": {"name": "Zoë Ångström"}})

    follow_once(sandbox, held)

    row = IndexedTask.objects.get(sid=sid)
    assert row.priority == 77
    assert row.attributes == {"customer": {"name": "Zoë Ångström"}}
    assert "zoe angstrom" in row.search_text
    assert row.version == sandbox.fetch(sid).etag.strip('"')
    updated = TaskEvent.objects.filter(task_sid=sid, event_type="task.updated").last()
    assert updated.actor_type == "account"


def test_events_applied_twice_or_out_of_order_give_the_same_index(sandbox, held):
    follow_once(sandbox, held)
    ws = sandbox.workspace_sid()
    sid = sandbox.task_sid("pending")
    for priority in (5, 6, 7):
        sandbox.change(sid, priority=priority)
    events = [e for e in every_event(ws) if e.task_sid == sid]
    follow_once(sandbox, held)
    before = IndexedTask.objects.get(sid=sid)

    assert apply_events(ws, events) == 0  # nothing new: each event is applied once
    TaskEvent.objects.filter(task_sid=sid).delete()
    IndexedTask.objects.filter(sid=sid).delete()
    assert apply_events(ws, list(reversed(events))) == len(events)

    after = IndexedTask.objects.get(sid=sid)
    assert (after.priority, after.status, after.version) == (7, before.status, before.version)


def test_a_deleted_task_stays_in_the_index_marked_deleted_with_its_events(sandbox, held):
    follow_once(sandbox, held)
    ws = sandbox.workspace_sid()
    sid = sandbox.task_sid("canceled")
    task = sandbox.fetch(sid)
    taskrouter.delete_task(
        actor="colleague@example.com", workspace_sid=ws, task_sid=sid, if_match=task.etag
    )

    follow_once(sandbox, held)

    row = IndexedTask.objects.get(sid=sid)
    assert row.deleted_at is not None and row.status == "canceled"
    kinds = list(TaskEvent.objects.filter(task_sid=sid).values_list("event_type", flat=True))
    assert kinds[-1] == "task.deleted" and "task.created" in kinds


def test_a_task_gone_without_an_event_is_marked_deleted_by_the_next_full_read(
    sandbox, held, settings
):
    follow_once(sandbox, held)
    sid = sandbox.task_sid("completed")
    with sandbox.store.write() as conn:  # TaskRouter forgets it and says nothing
        conn.execute("DELETE FROM tasks WHERE sid = ?", (sid,))
    settings.TASKDECK_INDEX_RECONCILE_SECONDS = 0.001

    follow_once(sandbox, held)

    assert IndexedTask.objects.get(sid=sid).deleted_at is not None


def test_a_taskrouter_outage_is_noted_and_the_cursor_waits(sandbox, held, loopback_sandbox):
    cursor = follow_once(sandbox, held)
    loopback_sandbox.faults.set("503;path=/Events")

    after = follow_once(sandbox, held)

    assert after.start_ms == cursor.start_ms
    assert "503" in after.problem or "unavailable" in after.problem.lower()


def test_the_followers_reads_stay_out_of_the_info_log_unless_they_fail(
    sandbox, held, loopback_sandbox, caplog
):
    """Every workspace's Events every 2 s would be most of a worker's log at INFO."""
    caplog.set_level("DEBUG", logger="tasks_app.taskrouter.client")
    follow_once(sandbox, held)
    reads = [r for r in caplog.records if r.name == "tasks_app.taskrouter.client"]
    assert reads and all(r.levelname == "DEBUG" for r in reads)

    caplog.clear()
    loopback_sandbox.faults.set("503;path=/Events")
    follow_once(sandbox, held)
    failed = [r for r in caplog.records if r.levelno >= 20 and "503" in r.getMessage()]
    assert failed, [r.getMessage() for r in caplog.records]

    # A page's reads are logged at INFO, as before.
    caplog.clear()
    taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sandbox.task_sid())
    assert [r.levelname for r in caplog.records if "taskrouter GET" in r.getMessage()] == ["INFO"]


def test_the_worker_follows_every_workspace_without_being_asked(sandbox):
    assert "follow" in {duty.name for duty in registered()}
    follow = [duty for duty in registered() if duty.name == "follow"]
    runner = DutyRunner(follow, holder="test-worker", seconds=5, tick=0.05)
    runner.start()
    try:
        workspaces = set(follower.workspace_keys())
        # Each workspace has its follower (it keeps a cursor from its first round on)...
        wait_until(
            unless_locked(
                lambda: set(FollowCursor.objects.values_list("pk", flat=True)) == workspaces
            ),
            timeout=240,  # a busy machine may take long over five first reads
        )
        # ... and a change reaches the index with nobody asking.
        ws = sandbox.workspace_sid()
        wait_until(
            unless_locked(
                lambda: FollowCursor.objects.filter(pk=ws, caught_up_at__isnull=False).exists()
            ),
            timeout=240,
        )
        sid = sandbox.task_sid("pending")
        # Someone changes it (its audit record shares the test database with the worker's
        # thread, so a locked table means "again").
        wait_until(unless_locked(lambda: sandbox.change(sid, priority=42)), timeout=60)
        wait_until(
            unless_locked(lambda: IndexedTask.objects.get(sid=sid).priority == 42), timeout=120
        )
    finally:
        runner.stop()


def test_search_text_ignores_case_accents_and_phone_formats():
    text = searchable_text(
        {"customer": {"name": "José Núñez", "phone": "+1 (415) 555-0100"}, "ticket": 48213}
    )
    assert fold("JOSÉ núñez") in text
    assert "14155550100" in text and "48213" in text


def test_metrics_say_how_far_behind_the_index_is_and_how_late_events_arrive(sandbox, held):
    from django.test import Client

    from tests.test_metrics import sample

    before = Client().get("/metrics").content.decode()
    follow_once(sandbox, held)

    text = Client().get("/metrics").content.decode()
    ws = sandbox.workspace_sid()
    assert f'taskdeck_index_behind_seconds{{workspace="{ws}"}}' in text
    assert 0 <= sample(text, "taskdeck_index_behind_seconds", workspace=ws) < 600
    applied = sample(text, "taskdeck_index_lag_seconds_count")
    assert applied > sample(before, "taskdeck_index_lag_seconds_count")
