"""Events: what each change records, and the Events list (filters, window, paging, fetch).

Most tests run an in-process app on an injected clock (``clock``), so event times are exact.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks_app.sandbox import events
from tasks_app.sandbox import store as store_module
from tasks_app.taskrouter.query import EVENT_FILTER_PARAMETERS, EventQuery
from tests.sandbox.helpers import (
    SALES,
    SUPPORT,
    all_events,
    event_types,
    record_reservation,
    set_status,
    task_in_status,
)

ACCOUNT = "AC7461736b6465636b2073616e64626f78"
SALES_TASKS = f"/Workspaces/{SALES}/Tasks"
SUPPORT_TASKS = f"/Workspaces/{SUPPORT}/Tasks"
CREATION = ["task.created", "workflow.entered", "workflow.target-matched", "task-queue.entered"]
# The key order of the spec's example Event.
EXAMPLE_KEYS = [
    "account_sid", "actor_sid", "actor_type", "actor_url", "description", "event_data",
    "event_date", "event_date_ms", "event_type", "resource_sid", "resource_type",
    "resource_url", "sid", "source", "source_ip_address", "workspace_sid", "url",
]  # fmt: skip


def _events(api, workspace=SALES, **params) -> list[dict]:
    return all_events(api, workspace, **params)


def _create(api, attributes=None, **form) -> dict:
    form["Attributes"] = json.dumps(attributes or {"type": "inquiry", "language": "en"})
    response = api.post(SALES_TASKS, form)
    assert response.status_code == 201, response.text
    return response.json()


def _workspace_of(store, task_sid) -> str:
    with store.read() as conn:
        return conn.execute(
            "SELECT workspace_sid FROM tasks WHERE sid = ?", (task_sid,)
        ).fetchone()[0]


def _queue_sid(api, name, workspace=SALES) -> str:
    queues = api.get(f"/Workspaces/{workspace}/TaskQueues").json()["task_queues"]
    return next(q["sid"] for q in queues if q["friendly_name"] == name)


# --- What each change records -------------------------------------------------------------


def test_creating_a_task_records_it_entering_its_workflow_target_and_queue(tr, clock):
    task = _create(tr, {"customer": {"tier": "enterprise"}, "name": "Ana Lima"})
    found = _events(tr, TaskSid=task["sid"])
    assert event_types(found) == CREATION
    assert found[2]["event_data"]["workflow_filter_name"] == "Enterprise accounts"
    assert found[2]["description"].endswith("Enterprise accounts")
    assert found[3]["description"] == f"Task {task['sid']} entered TaskQueue Enterprise Sales"
    for event in found:
        assert event["event_date_ms"] == clock.us // 1000
        assert event["event_date"] == task["date_created"]
        assert (event["actor_type"], event["actor_sid"]) == ("account", ACCOUNT)
        assert event["actor_url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}.json"
        assert (event["source"], event["source_ip_address"]) == ("api", "127.0.0.1")
        assert (event["resource_type"], event["resource_sid"]) == ("task", task["sid"])
        assert event["resource_url"] == task["url"]
        data = event["event_data"]
        assert all(isinstance(value, str) for value in data.values())
        assert list(data) == sorted(data)
        assert data["task_sid"] == task["sid"]
        assert json.loads(data["task_attributes"])["name"] == "Ana Lima"
        assert data["task_assignment_status"] == "pending"
        assert (data["task_priority"], data["task_version"], data["task_age"]) == ("50", "0", "0")
        assert (data["task_queue_sid"], data["task_queue_name"]) == (
            task["task_queue_sid"],
            "Enterprise Sales",
        )
        assert (data["workflow_sid"], data["workflow_name"]) == (
            task["workflow_sid"],
            "Sales Routing",
        )
        assert (data["task_channel_sid"], data["task_channel_unique_name"]) == (
            task["task_channel_sid"],
            "default",
        )
        assert (data["workspace_sid"], data["workspace_name"]) == (SALES, "Sales & Renewals")


def test_a_task_put_straight_into_a_queue_records_no_workflow_events(tr):
    task = _create(tr, TaskQueueSid=_queue_sid(tr, "Renewals"))
    assert event_types(_events(tr, TaskSid=task["sid"])) == ["task.created", "task-queue.entered"]


def test_a_pending_task_rerouted_by_new_attributes_records_the_move(tr):
    task = _create(tr)  # Inbound Sales, the default filter
    created = _events(tr, TaskSid=task["sid"])
    assert "workflow_filter_name" not in created[2]["event_data"]
    tr.post(task["url"], {"Attributes": json.dumps({"language": "de"})})
    found = _events(tr, TaskSid=task["sid"])[4:]
    assert event_types(found) == ["task.updated", "workflow.target-matched", "task-queue.moved"]
    moved = found[2]
    assert moved["event_data"]["previous_task_queue_name"] == "Inbound Sales"
    assert moved["event_data"]["previous_task_queue_sid"] == task["task_queue_sid"]
    assert moved["event_data"]["task_queue_name"] == "DACH Sales"
    assert moved["description"].endswith("from TaskQueue Inbound Sales to TaskQueue DACH Sales")
    assert found[1]["event_data"]["workflow_filter_name"] == "German speakers"
    assert {e["event_data"]["task_version"] for e in found} == {"1"}
    dach = _events(tr, TaskQueueSid=_queue_sid(tr, "DACH Sales"))
    assert moved["sid"] in {e["sid"] for e in dach}


@pytest.mark.parametrize(
    ("form", "field", "value"),
    [
        ({"Priority": "7"}, "task_priority", "7"),
        ({"TaskChannel": "chat"}, "task_channel_unique_name", "chat"),
        ({"VirtualStartTime": "2026-01-01T00:00:00Z"}, "task_version", "1"),
        ({"Attributes": json.dumps({"type": "inquiry", "note": "hi"})}, "task_version", "1"),
        ({}, "task_version", "1"),  # nothing changed but the version: still recorded
    ],
)
def test_every_other_update_is_one_task_updated(tr, form, field, value):
    task = _create(tr)
    assert tr.post(task["url"], form).status_code == 200
    found = _events(tr, TaskSid=task["sid"])[4:]
    assert event_types(found) == ["task.updated"]
    assert found[0]["event_data"][field] == value
    assert found[0]["description"] == f"Task {task['sid']} updated"


def test_cancel_records_task_canceled_with_its_reason(tr):
    task = _create(tr)
    tr.post(task["url"], {"AssignmentStatus": "canceled", "Reason": "Customer hung up"})
    (canceled,) = _events(tr, TaskSid=task["sid"])[4:]
    assert canceled["event_type"] == "task.canceled"
    assert canceled["event_data"]["task_canceled_reason"] == "Customer hung up"
    assert canceled["event_data"]["task_assignment_status"] == "canceled"
    assert "task_completed_reason" not in canceled["event_data"]


def test_cancel_with_new_attributes_records_the_update_then_the_cancel(tr):
    task = _create(tr)
    tr.post(
        task["url"],
        {"AssignmentStatus": "canceled", "Reason": "dup", "Attributes": '{"type": "inquiry"}'},
    )
    assert event_types(_events(tr, TaskSid=task["sid"])[4:]) == ["task.updated", "task.canceled"]


def test_wrapping_and_completing_record_wrapup_and_completed(tr, store):
    sid = task_in_status(store, "assigned", SALES)
    url = f"{SALES_TASKS}/{sid}"
    tr.post(url, {"AssignmentStatus": "wrapping"})
    tr.post(url, {"AssignmentStatus": "completed", "Reason": "Quote sent"})
    found = [e for e in _events(tr, TaskSid=sid) if e["resource_type"] == "task"][-2:]
    assert event_types(found) == ["task.wrapup", "task.completed"]
    assert found[0]["description"] == f"Task {sid} wrapping up"
    assert found[1]["event_data"]["task_completed_reason"] == "Quote sent"


def test_deleting_a_task_records_task_deleted_and_its_events_outlive_it(tr):
    task = _create(tr)
    tr.post(task["url"], {"AssignmentStatus": "canceled", "Reason": "test"})
    assert tr.delete(task["url"]).status_code == 204
    found = _events(tr, TaskSid=task["sid"])
    assert event_types(found) == [*CREATION, "task.canceled", "task.deleted"]
    assert found[-1]["event_data"]["task_assignment_status"] == "canceled"
    for event in found:
        assert tr.get(event["url"]).json() == event


def test_a_refused_write_records_nothing(tr, store):
    task = _create(tr)
    assert tr.post(task["url"], {"Priority": "1"}, headers={"If-Match": "9"}).status_code == 412
    assert tr.post(task["url"], {"AssignmentStatus": "completed"}).status_code == 400
    assert tr.post(task["url"], {"Priority": "-1"}).status_code == 400
    assert event_types(_events(tr, TaskSid=task["sid"])) == CREATION


def test_a_write_that_fails_after_recording_its_events_keeps_neither(tr, monkeypatch):
    task = _create(tr)
    recorded = events.task_updated

    def record_then_fail(*args, **kwargs):
        recorded(*args, **kwargs)
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(events, "task_updated", record_then_fail)
    assert tr.post(task["url"], {"Priority": "9"}).status_code == 500
    monkeypatch.undo()
    assert tr.get(task["url"]).json()["priority"] == 0
    assert event_types(_events(tr, TaskSid=task["sid"])) == CREATION


# The simulator's agents and TaskRouter's own steps: test_workforce_events.py.


# --- The list: fields, window, filters ---------------------------------------------------


def test_an_event_has_every_field_of_the_spec_in_its_examples_order(tr):
    task = _create(tr)
    (event,) = _events(tr, TaskSid=task["sid"], EventType="task.created")
    assert list(event) == EXAMPLE_KEYS
    assert event["account_sid"] == ACCOUNT
    assert event["url"] == f"{tr.base_url}/v1/Workspaces/{SALES}/Events/{event['sid']}"


def test_without_dates_the_list_covers_the_last_15_minutes(tr, clock):
    old = _create(tr)
    clock.advance(15 * 60 + 1)
    new = _create(tr)
    listed = {e["event_data"].get("task_sid") for e in _events(tr)}
    assert new["sid"] in listed
    assert old["sid"] not in listed
    assert old["sid"] in {e["event_data"].get("task_sid") for e in _events(tr, Minutes=16)}


def test_start_and_end_dates_include_both_ends_to_the_millisecond(tr, clock):
    sids = []
    for _ in range(3):
        sids.append(_create(tr)["sid"])
        clock.advance(0.001)
    middle = (clock.moment - timedelta(milliseconds=2)).isoformat(timespec="milliseconds")
    middle = middle.replace("+00:00", "Z")
    found = _events(tr, StartDate=middle, EndDate=middle)
    assert {e["event_data"]["task_sid"] for e in found} == {sids[1]}
    assert len(found) == 4
    after = _events(tr, StartDate=middle)
    assert {e["event_data"]["task_sid"] for e in after} == set(sids[1:])


@pytest.mark.parametrize(
    "params",
    [
        {"StartDate": "{30 days and 1 s ago}"},
        {"Minutes": "43201"},
        {"StartDate": "{now}", "EndDate": "{1 s ago}"},
        {"Minutes": "0"},
        {"StartDate": "yesterday"},
        {"TaskSid": "WT123"},
        {"Sid": "WT" + "a" * 32},
        {"PageSize": "1001"},
        {"PageToken": "PAEV" + "0" * 32},
    ],
)
def test_a_request_outside_the_rules_gets_twilios_400(tr, clock, params):
    moments = {
        "{30 days and 1 s ago}": clock.moment - timedelta(days=30, seconds=1),
        "{now}": clock.moment,
        "{1 s ago}": clock.moment - timedelta(seconds=1),
    }
    raw = params
    params = {k: moments[v].isoformat() if v in moments else v for k, v in params.items()}
    response = tr.get(f"/Workspaces/{SALES}/Events", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 20001
    assert body["status"] == 400
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20001"
    if ("ago" in str(raw) and "EndDate" not in raw) or raw.get("Minutes") == "43201":
        assert "30 days" in body["message"]


def test_thirty_days_back_is_still_inside_the_window(tr, clock):
    start = (clock.moment - timedelta(days=30)).isoformat()
    assert tr.get(f"/Workspaces/{SALES}/Events", {"StartDate": start}).status_code == 200
    assert tr.get(f"/Workspaces/{SALES}/Events", {"Minutes": "43200"}).status_code == 200


def test_every_filter_finds_exactly_its_events(tr, store, clock):
    vip = _create(tr, {"customer": {"tier": "enterprise"}}, TaskChannel="chat")
    plain = _create(tr)
    # The workforce's events (reservations, workers) come through the same mechanism.
    reservation = "WR" + "1" * 32
    worker = "WK" + "2" * 32
    record_reservation(store, vip, reservation=reservation, worker=worker, now=clock.us)
    every = _events(tr)
    chat = vip["task_channel_sid"]
    expectations = {
        "EventType": ("task-queue.entered", lambda e: e["event_type"] == "task-queue.entered"),
        "TaskSid": (vip["sid"], lambda e: e["event_data"]["task_sid"] == vip["sid"]),
        "TaskQueueSid": (
            plain["task_queue_sid"],
            lambda e: e["event_data"].get("task_queue_sid") == plain["task_queue_sid"],
        ),
        "WorkflowSid": (vip["workflow_sid"], lambda e: "workflow_sid" in e["event_data"]),
        "TaskChannel": (chat, lambda e: e["event_data"].get("task_channel_sid") == chat),
        "WorkerSid": (worker, lambda e: e["event_data"].get("worker_sid") == worker),
        "ReservationSid": (reservation, lambda e: e["resource_sid"] == reservation),
        "Sid": (every[3]["sid"], lambda e: e["sid"] == every[3]["sid"]),
    }
    for param, (value, belongs) in expectations.items():
        found = _events(tr, **{param: value})
        assert found, param
        assert found == [e for e in every if belongs(e)], param
    assert _events(tr, TaskChannel="chat") == _events(tr, TaskChannel=chat)
    assert _events(tr, TaskChannel="carrier-pigeon") == []
    assert _events(tr, EventType="task.created,task.updated") == []  # one type, not a list
    assert (
        _events(tr, TaskSid=plain["sid"], EventType="task.created")[0]["event_data"]["task_sid"]
        == plain["sid"]
    )


# --- Paging --------------------------------------------------------------------------------


def test_paging_one_by_one_through_one_crowded_millisecond_loses_and_repeats_nothing(tr, clock):
    # The clock stands still: every event below shares one millisecond.
    since = {"StartDate": clock.moment.isoformat()}
    before = [_create(tr)["sid"] for _ in range(10)]
    expected = [e["sid"] for e in _events(tr, **since)]
    assert len(expected) == 40
    body = tr.get(f"/Workspaces/{SALES}/Events", {"PageSize": 1, **since}).json()
    seen, pages = [], 0
    while True:
        seen += [e["sid"] for e in body["events"]]
        pages += 1
        if pages % 5 == 0 and pages <= 40:
            _create(tr)  # four more events on the same millisecond, mid-walk
        if not body["meta"]["next_page_url"]:
            break
        body = tr.get(body["meta"]["next_page_url"]).json()
    assert seen[:40] == expected  # in recorded order, each once
    assert len(seen) == len(set(seen)) == 40 + 4 * 8  # and what arrived meanwhile, after
    assert {e["event_data"]["task_sid"] for e in _events(tr, **since)} >= set(before)
    # Walking back from the last page gives the same events in reverse.
    back = []
    while body["meta"]["previous_page_url"]:
        body = tr.get(body["meta"]["previous_page_url"]).json()
        back += [e["sid"] for e in body["events"]]
    assert back == seen[-2::-1]


def test_paging_resumes_after_the_token_event_across_milliseconds(tr, clock):
    for _ in range(5):
        _create(tr)
        clock.advance(0.001)
    first = tr.get(f"/Workspaces/{SALES}/Events", {"PageSize": 3}).json()
    rest = _events(tr)[3:]
    second = tr.get(first["meta"]["next_page_url"]).json()
    assert second["events"] == rest[:3]
    assert "PageToken=PA" + first["events"][-1]["sid"] in first["meta"]["next_page_url"]
    assert first["meta"]["previous_page_url"] is None
    moments = [e["event_date_ms"] for e in _events(tr)]
    assert moments == sorted(moments)


def test_a_page_token_naming_no_event_of_this_workspace_is_refused(tr, store):
    task = _create(tr)
    sid = _events(tr, TaskSid=task["sid"])[0]["sid"]
    assert tr.get(f"/Workspaces/{SALES}/Events", {"PageToken": f"PA{sid}"}).status_code == 200
    refused = tr.get(f"/Workspaces/{SUPPORT}/Events", {"PageToken": f"PA{sid}"})
    assert refused.status_code == 400
    assert refused.json()["message"] == "PageToken is not valid for this list."


def test_no_list_scan_sorts_and_each_filter_reads_its_own_index(store):
    with store.read() as conn:
        plans = events.query_plans(conn)
    for column, scans in plans.items():
        for plan in scans:
            assert "TEMP B-TREE" not in plan, (column, plan)
            expected = "sid" if column == "sid" else f"events_by_{column}"
            assert expected in plan, (column, plan)


def test_event_times_never_go_back_even_when_the_clock_does(tr, clock):
    task = _create(tr)
    created_ms = clock.us // 1000
    clock.advance(-3600)
    tr.post(task["url"], {"Priority": "3"})
    end = (clock.moment + timedelta(hours=2)).isoformat()
    found = _events(tr, TaskSid=task["sid"], StartDate=clock.moment.isoformat(), EndDate=end)
    assert [e["event_date_ms"] for e in found] == [created_ms] * 5


# --- Fetch ----------------------------------------------------------------------------------


def test_fetch_answers_one_event_and_twilios_404_otherwise(tr):
    task = _create(tr)
    event = _events(tr, TaskSid=task["sid"])[1]
    fetched = tr.get(f"/Workspaces/{SALES}/Events/{event['sid']}")
    assert fetched.status_code == 200
    assert fetched.json() == event
    assert fetched.headers["X-Rate-Limit-Config"] == "Event-Fetch"
    for path in (
        f"/Workspaces/{SUPPORT}/Events/{event['sid']}",  # another workspace's
        f"/Workspaces/{SALES}/Events/EV{'0' * 32}",
        f"/Workspaces/{SALES}/Events/WT{'0' * 32}",
    ):
        missing = tr.get(path)
        assert missing.status_code == 404
        assert missing.json()["code"] == 20404
    assert tr.post(f"/Workspaces/{SALES}/Events", {}).status_code == 405


def test_the_seed_comes_with_each_tasks_history_ending_in_its_current_state(tr, store):
    sid = task_in_status(store, "completed", SALES)
    found = _events(tr, TaskSid=sid, Minutes=24 * 60)
    assert event_types(found)[:4] == CREATION
    assert event_types(found)[-1] == "task.completed"
    with store.read() as conn:
        row = store_module.fetch_task(conn, SALES, sid)
    last = found[-1]["event_data"]
    assert last["task_version"] == str(row["version"])
    assert last["task_completed_reason"] == row["reason"]
    assert found[-1]["event_date_ms"] == row["date_updated"] // 1000
    moments = [e["event_date_ms"] for e in found]
    assert moments == sorted(moments)


def test_set_status_helper_dates_the_change_now(store):
    # A closed task must be dated when it closed, or housekeeping purges it at once.
    sid = task_in_status(store, "pending")
    set_status(store, sid, "canceled")
    with store.read() as conn:
        row = store_module.fetch_task(conn, SUPPORT, sid)
    assert store_module.now_us() - row["date_updated"] < 60 * 1_000_000


def test_the_sandbox_reads_back_exactly_what_an_event_query_sends(tr, clock):
    # Taskdeck builds ListEvent requests with EventQuery; the sandbox parses them with it.
    task = _create(tr)
    since = clock.moment
    query = EventQuery(
        start_date=since, end_date=since + timedelta(milliseconds=1), task_sid=task["sid"]
    )
    params = query.to_params()
    assert params == [
        ("StartDate", since.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("EndDate", since.strftime("%Y-%m-%dT%H:%M:%S") + ".001Z"),
        ("TaskSid", task["sid"]),
    ]
    assert EventQuery.from_params(dict(params).get) == query
    assert event_types(_events(tr, **dict(params))) == CREATION


HOSTILE = [
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-13-45T99:00:00Z",
    "99999999999999999999999",
    "-5",
    "1.5",
    "1e400",
    "NaN",
    "WT" + "0" * 31,
    "EV" + "z" * 32,
    "PAEV" + "0" * 32,
    "\x00\u202e",
    "",
]


@pytest.mark.parametrize("parameter", [*EVENT_FILTER_PARAMETERS, "PageSize", "PageToken", "Page"])
def test_any_value_of_any_parameter_gets_an_answer_never_a_500(tr, parameter):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60)))
    def attempt(value: str) -> None:
        response = tr.get(f"/Workspaces/{SALES}/Events", {parameter: value})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert response.json()["code"] == 20001

    attempt()
