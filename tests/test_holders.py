"""Who holds each task: the table's Agent cells, the task page's reservations and the agent
filters, all from the index (workers, activities and reservation events followed into it).

Assignment is driven through the sandbox's API in the Training workspace (no tasks, its
trainees Offline), with workers each test hires; `follow_now()` then brings the index up
to date as the worker's follower would."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks_app.index.holders import Holder, held_tasks, holders_of, reservations_of
from tasks_app.index.models import IndexedTask, IndexedWorker, TaskEvent
from tasks_app.live import encode_keys, row_key
from tasks_app.tables import row_version
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import htmx_headers, wait_until
from tests.index_helpers import follow_now
from tests.sandbox.helpers import (
    TRAINING,
    activity_sids,
    add_workflow,
    answer,
    clocked,
    hire,
    new_task,
    reservations,
)

pytestmark = pytest.mark.django_db(transaction=True)

TRAINING_TABLE = "/w/Training/tasks/"


@pytest.fixture
def tr(sandbox):
    """TaskRouter's API on the test's own sandbox (the one Taskdeck reads): agents answer,
    sign in and go to lunch through it. On the machine's clock, as Taskdeck's own reads
    are (TaskRouter's Events list ends at now)."""
    return clocked(sandbox.store, lambda: datetime.now(UTC))


@pytest.fixture
def activities(tr) -> dict[str, str]:
    return activity_sids(tr, TRAINING)


def agent_cells(html: str) -> dict[str, str]:
    """Each row's Agent cell text, by task SID."""
    rows = re.findall(r'<tr id="row-(WT[0-9a-f]{32})".*?</tr>', html, re.S)
    cells = {}
    for match in re.finditer(r'<tr id="row-(WT[0-9a-f]{32})"(.*?)</tr>', html, re.S):
        cell = re.search(r'<td class="col-agent[^"]*"[^>]*>(.*?)</td>', match.group(2))
        # The text as read (the duration is a span of its own, so it never breaks).
        cells[match.group(1)] = re.sub(r"<[^>]+>", "", cell.group(1)) if cell else None
    assert len(cells) == len(rows)
    return cells


def row_sids(html: str) -> list[str]:
    return re.findall(r'<tr id="row-(WT[0-9a-f]{32})"', html)


def test_a_reserved_row_shows_its_agent_their_activity_and_how_long(client, tr, activities):
    ana = hire(tr, "Ana López", activities["Available"])
    task = new_task(tr, customer="Acme")
    idle = new_task(tr, customer="Nobody free")
    assert task["assignment_status"] == "reserved"
    follow_now()

    html = client.get(TRAINING_TABLE + "?status=reserved,pending").content.decode()

    cells = agent_cells(html)
    assert cells[task["sid"]].startswith("Ana López · Available · ")
    assert cells[idle["sid"]] == ""  # pending: nobody holds it
    holder = holders_of([task["sid"]])[task["sid"]]
    assert holder.worker_sid == ana["sid"]


def test_an_agent_gone_to_lunch_is_marked_and_found_by_the_lunch_filter(client, tr, activities):
    ana = hire(tr, "Ana López", activities["Available"])
    held = new_task(tr, customer="Held at lunch")
    bo = hire(tr, "Bo Chen", activities["Available"])
    working = new_task(tr, customer="Held by someone working")
    assert reservations(tr, working)[0]["worker_sid"] == bo["sid"]
    # Ana goes to lunch keeping her reservation (TaskRouter keeps it without
    # RejectPendingReservations).
    tr.post(ana["url"], {"ActivitySid": activities["Lunch"]})
    follow_now()

    assert IndexedWorker.objects.get(sid=ana["sid"]).available is False
    table = client.get(TRAINING_TABLE + "?status=reserved").content.decode()
    assert "Ana López · Lunch (away) · " in agent_cells(table)[held["sid"]]
    assert 'class="col-agent agent-away"' in table

    lunch = client.get(TRAINING_TABLE + "?holder=unavailable")

    assert lunch.status_code == 200
    page = lunch.content.decode()
    assert row_sids(page) == [held["sid"]]
    assert "held by agents who are not available" in page

    # Back from lunch: the filter no longer finds her task.
    tr.post(ana["url"], {"ActivitySid": activities["Available"]})
    follow_now()
    assert row_sids(client.get(TRAINING_TABLE + "?holder=unavailable").content.decode()) == []


def test_the_agent_filter_lists_what_one_person_holds(client, tr, activities):
    ana = hire(tr, "Ana López", activities["Available"])
    first = new_task(tr, customer="First")
    hire(tr, "Bo Chen", activities["Available"])
    other = new_task(tr, customer="Bo's")
    [offer] = reservations(tr, first)
    answer(tr, offer, "accepted")
    follow_now()

    # A name, in any case and without its accents, or the worker's SID.
    for named in ("ana lopez", ana["sid"]):
        page = client.get(TRAINING_TABLE, {"agent": named}).content.decode()
        assert row_sids(page) == [first["sid"]], named
        assert "held by Ana López" in page
    assert other["sid"] not in page
    # Combined with TaskRouter's own filters, applied to the index's rows too.
    pending_only = client.get(TRAINING_TABLE, {"agent": "Ana López", "status": "pending"})
    assert row_sids(pending_only.content.decode()) == []


def test_an_unknown_agent_is_refused_where_it_was_typed(client, tr, activities):
    hire(tr, "Ana López", activities["Available"])
    follow_now()

    response = client.get(TRAINING_TABLE, {"agent": "Zed Nobody"})

    assert response.status_code == 400
    page = response.content.decode()
    message = "This workspace has no agent called &#x27;Zed Nobody"
    assert re.search(rf'id="agent-error"[^>]*><p>{message}', page)
    assert "Ana López" in page  # the agents it knows
    assert 'value="Zed Nobody"' in page  # what was typed is kept


def test_the_agent_filters_cannot_be_combined_with_add_ons(client, tr, activities):
    hire(tr, "Ana López", activities["Available"])
    follow_now()

    response = client.get(TRAINING_TABLE, {"holder": "unavailable", "addons": "yes"})

    assert response.status_code == 400
    assert "clear Add-ons to filter by agent" in response.content.decode()


def test_a_bad_held_by_value_is_refused_not_a_500(client):
    response = client.get(TRAINING_TABLE, {"holder": "<lunch>"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_task_page_lists_who_was_offered_it_who_rejected_and_who_timed_out(
    client, tr, sandbox, activities
):
    queue = tr.get(f"/Workspaces/{TRAINING}/TaskQueues").json()["task_queues"][0]["sid"]
    quick = add_workflow(
        sandbox.store,
        TRAINING,
        "Quick answers",
        {"task_routing": {"filters": [], "default_filter": {"queue": queue}}},
        reservation_timeout=1,
    )
    ana = hire(tr, "Ana López", activities["Available"])
    bo = hire(tr, "Bo Chen", activities["Available"])
    task = new_task(tr, quick, customer="Passed around")
    [to_ana] = reservations(tr, task)
    assert to_ana["worker_sid"] == ana["sid"]
    answer(tr, to_ana, "rejected")
    to_bo = reservations(tr, task, ReservationStatus="pending")[0]
    assert to_bo["worker_sid"] == bo["sid"]
    # Bo never answers: a second later TaskRouter takes the offer back.
    wait_until(
        lambda: reservations(tr, task, ReservationStatus="timeout"), timeout=30, interval=0.2
    )
    follow_now()

    found = reservations_of(task["sid"])
    assert [(r.worker_name, r.answer) for r in found[:2]] == [
        ("Ana López", "rejected"),
        ("Bo Chen", "timed out"),
    ]
    page = client.get(f"/w/Training/tasks/{task['sid']}/").content.decode()
    section = page[page.index('id="task-reservations"') :]
    section = section[: section.index("</section>")]
    rows = re.findall(r"<tr data-reservation=.*?</tr>", section, re.S)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert texts[0].startswith("Ana López") and " rejected " in texts[0] + " "
    assert texts[1].startswith("Bo Chen") and "timed out" in texts[1]


def test_an_accepted_reservation_names_the_agent_on_the_task_page(client, tr, activities):
    hire(tr, "Ana López", activities["Available"])
    task = new_task(tr, customer="Taken")
    answer(tr, reservations(tr, task)[0], "accepted")
    follow_now()

    page = client.get(f"/w/Training/tasks/{task['sid']}/").content.decode()

    assert re.search(r'id="task-holder">With <strong>Ana López</strong> \(Available\)', page)
    # The sentence ends on its moment: "since 2026-12-07 19:14:09." (no space before the stop).
    assert re.search(
        r'id="task-holder">[^\n]* since <time datetime="[^"]+">[^<]+</time>\.</p>', page
    )
    assert "accepted" in page[page.index('id="task-reservations"') :]


def test_holders_of_a_whole_page_are_one_query_however_many_rows(client, sandbox):
    follow_now()

    def index_queries(size: int, status: str = "assigned") -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/w/Support/tasks/", {"status": status, "size": size})
        assert response.status_code == 200
        assert len(row_sids(response.content.decode())) == size
        return sum("index_indexedtask" in q["sql"] for q in queries.captured_queries)

    assert index_queries(5) == index_queries(50) == 1
    # Nobody holds a pending task: its table does not ask the index.
    assert index_queries(50, "pending") == 0


def test_seeded_holders_survive_a_full_list_read_newer_than_their_events(sandbox):
    """The first round reads the task list first (it says a task is assigned, not to
    whom), then the events; the older reservation events still name the holder."""
    follow_now()
    ws = sandbox.workspace_sid()
    held = IndexedTask.objects.filter(workspace_sid=ws, status__in=["reserved", "assigned"])
    assert held.exists()
    assert not held.filter(worker_sid="").exists()
    follow_now(full_read=True)  # a later full read keeps them
    assert not held.filter(worker_sid="").exists()


def test_the_seeded_lunch_case_is_found_from_the_index(client, sandbox):
    """The seed has agents at lunch or on a break still holding tasks."""
    follow_now()
    ws = sandbox.workspace_sid()
    expected = set(held_tasks(ws, unavailable=True).values_list("sid", flat=True))
    assert expected

    page = client.get("/w/Support/tasks/?holder=unavailable&size=200").content.decode()

    assert set(row_sids(page)) == expected
    for sid, text in agent_cells(page).items():
        assert "(away)" in text, sid


def test_a_holder_going_to_lunch_changes_the_rows_version_for_live_refresh(tr, activities, sandbox):
    ana = hire(tr, "Ana López", activities["Available"])
    task = new_task(tr)
    follow_now()
    listed = taskrouter.fetch_task(workspace_sid=TRAINING, task_sid=task["sid"])
    before = row_version(listed, holders_of([task["sid"]])[task["sid"]])

    tr.post(ana["url"], {"ActivitySid": activities["Lunch"]})
    follow_now()

    assert row_version(listed, holders_of([task["sid"]])[task["sid"]]) != before


def test_live_refresh_sends_the_row_whose_holder_went_to_lunch(client, tr, activities):
    ana = hire(tr, "Ana López", activities["Available"])
    task = new_task(tr)
    follow_now()
    url = TRAINING_TABLE + "?status=reserved"
    first = client.get(url).content.decode()
    version = re.search(rf'id="row-{task["sid"]}" [^>]*data-version="([0-9a-f]+)"', first)

    keys = encode_keys([row_key(task["sid"], version.group(1))])
    unchanged = client.get(url, **htmx_headers("task-rows"), HTTP_TASKDECK_ROWS=keys)
    assert unchanged.status_code == 204

    tr.post(ana["url"], {"ActivitySid": activities["Lunch"]})
    follow_now()
    changed = client.get(url, **htmx_headers("task-rows"), HTTP_TASKDECK_ROWS=keys)

    assert changed.status_code == 200
    assert "Lunch (away)" in changed.content.decode()


def test_the_csv_export_of_the_lunch_filter_holds_only_those_tasks(client, tr, activities):
    ana = hire(tr, "Ana López", activities["Available"])
    held = new_task(tr, customer="At lunch")
    hire(tr, "Bo Chen", activities["Available"])
    new_task(tr, customer="Working")
    tr.post(ana["url"], {"ActivitySid": activities["Lunch"]})
    follow_now()

    response = client.get(TRAINING_TABLE, {"holder": "unavailable", "format": "csv"})

    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(held["sid"])


def test_worker_events_move_the_workers_index(tr, activities):
    ana = hire(tr, "Ana López", activities["Available"])
    follow_now()
    assert IndexedWorker.objects.get(sid=ana["sid"]).available is True

    tr.post(ana["url"], {"ActivitySid": activities["Break"], "FriendlyName": "Ana L."})
    follow_now()

    row = IndexedWorker.objects.get(sid=ana["sid"])
    assert (row.name, row.activity_name, row.available) == ("Ana L.", "Break", False)
    assert TaskEvent.objects.filter(worker_sid=ana["sid"], event_type="worker.activity.update")


def test_a_full_read_marks_deleted_workers(tr, activities):
    ana = hire(tr, "Ana López", activities["Offline"])
    follow_now()
    assert tr.delete(ana["url"]).status_code == 204

    follow_now(full_read=True)

    assert IndexedWorker.objects.get(sid=ana["sid"]).deleted_at is not None


def test_holder_text_reads_as_a_supervisor_would():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    since = datetime(2026, 1, 1, 11, 48, tzinfo=UTC)
    away = Holder("WK" + "a" * 32, "Ana López", "Lunch", False, since)
    assert away.text(now) == "Ana López · Lunch (away) · 12 min"
    assert "not available, with them for 720 seconds" in away.title(now)
    unknown = Holder("WK" + "b" * 32, "", "", None, None)
    assert unknown.text(now) == "WK" + "b" * 32


def test_a_bulk_action_on_everything_the_lunch_filter_shows_takes_only_those_tasks(client, sandbox):
    """TaskRouter cannot select by holder: a bulk action on "every task matching the filter"
    takes the tasks the index holds for it, not every task TaskRouter lists."""
    follow_now()
    expected = set(
        held_tasks(sandbox.workspace_sid(), unavailable=True).values_list("sid", flat=True)
    )
    assert expected

    response = client.post(
        "/w/Support/tasks/bulk/",
        {"action": "priority", "priority": "9", "everything": "on", "query": "holder=unavailable"},
        **htmx_headers("bulk-panel"),
    )

    previewed = set(re.findall(r'id="bulk-item-(WT\w+)"', response.content.decode()))
    assert previewed == expected


def _worker_event(sid: str, kind: str, at_ms: int, activity: str, name: str) -> taskrouter.Event:
    return taskrouter.Event(
        sid=sid,
        workspace_sid=TRAINING,
        event_type=kind,
        date_ms=at_ms,
        actor_type="worker",
        actor_sid="WK" + "1" * 32,
        actor_url="",
        resource_type="worker",
        resource_sid="WK" + "1" * 32,
        description="",
        source="api",
        source_ip_address="",
        data={
            "worker_sid": "WK" + "1" * 32,
            "worker_name": "Ana López",
            "worker_activity_sid": activity,
            "worker_activity_name": name,
        },
    )


def test_worker_events_apply_once_in_order_and_an_unknown_activity_is_not_guessed():
    from tasks_app.index.apply import apply_events
    from tasks_app.index.models import IndexedActivity

    lunch, mystery = "WA" + "2" * 32, "WA" + "3" * 32
    IndexedActivity.objects.create(sid=lunch, workspace_sid=TRAINING, name="Lunch")
    later = _worker_event("EV" + "b" * 32, "worker.activity.update", 2_000, lunch, "Lunch")
    earlier = _worker_event("EV" + "a" * 32, "worker.activity.update", 1_000, mystery, "Mystery")

    apply_events(TRAINING, [later])
    apply_events(TRAINING, [earlier, later])  # an older event, and one already applied

    row = IndexedWorker.objects.get(sid="WK" + "1" * 32)
    assert (row.activity_name, row.available, row.as_of_ms) == ("Lunch", False, 2_000)
    newer = _worker_event("EV" + "c" * 32, "worker.activity.update", 3_000, mystery, "Mystery")
    apply_events(TRAINING, [newer])
    row.refresh_from_db()
    assert (row.activity_name, row.available) == ("Mystery", None)
