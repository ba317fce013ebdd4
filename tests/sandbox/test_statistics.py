"""The sandbox's statistics resources: the spec's shapes, computed from its own state."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tests.sandbox.helpers import (
    SUPPORT,
    TRAINING,
    activity_sids,
    add_queue,
    add_workflow,
    set_status,
)
from tests.sandbox.test_schema import _check_urls, _item_schema, _response_schema, _validate

REALTIME = "taskrouter.v1.workspace.workspace_real_time_statistics"
QUEUE_STATISTICS = "/v1/Workspaces/{WorkspaceSid}/TaskQueues/Statistics"


def all_tasks(store, workspace: str = SUPPORT) -> list:
    with store.read() as conn:
        return conn.execute(
            "SELECT sid, assignment_status, priority, task_queue_sid, date_created FROM tasks "
            "WHERE workspace_sid = ?",
            (workspace,),
        ).fetchall()


def test_real_time_statistics_match_the_spec_and_count_every_task_by_status(inproc, store):
    body = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    schema = _item_schema(REALTIME)
    _validate(body, schema)
    assert set(body) == set(schema["properties"])
    _check_urls(body["url"])
    tasks = all_tasks(store)
    by_status = Counter(t["assignment_status"] for t in tasks)
    assert body["tasks_by_status"] == {s: by_status.get(s, 0) for s in body["tasks_by_status"]}
    assert body["total_tasks"] == len(tasks)
    assert sum(body["tasks_by_priority"].values()) == len(tasks)


def test_the_longest_waiting_task_is_the_oldest_pending_or_reserved_one(inproc, store):
    waiting = [t for t in all_tasks(store) if t["assignment_status"] in ("pending", "reserved")]
    oldest = min(waiting, key=lambda t: t["date_created"])
    body = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    assert body["longest_task_waiting_sid"] == oldest["sid"]
    assert body["longest_task_waiting_age"] > 0
    set_status(store, oldest["sid"], "assigned")
    after = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    assert after["longest_task_waiting_sid"] != oldest["sid"]
    assert after["tasks_by_status"]["assigned"] == body["tasks_by_status"]["assigned"] + 1


def test_task_queue_statistics_match_the_spec_with_every_queue_in_one_answer(inproc, store):
    body = inproc.get(f"/Workspaces/{SUPPORT}/TaskQueues/Statistics").json()
    _validate(body, _response_schema(QUEUE_STATISTICS, "get"))
    assert set(body) == {"task_queues_statistics", "meta"}
    assert body["meta"]["key"] == "task_queues_statistics"
    item_schema = _item_schema("taskrouter.v1.workspace.task_queue.task_queues_statistics")
    queues = inproc.get(f"/Workspaces/{SUPPORT}/TaskQueues").json()["task_queues"]
    assert [i["task_queue_sid"] for i in body["task_queues_statistics"]] == [
        q["sid"] for q in queues
    ]
    open_tasks = Counter(
        (t["task_queue_sid"], t["assignment_status"])
        for t in all_tasks(store)
        if t["assignment_status"] in ("pending", "reserved", "assigned", "wrapping")
    )
    for item in body["task_queues_statistics"]:
        _validate(item, item_schema)
        assert set(item) == set(item_schema["properties"])
        statuses = item["realtime"]["tasks_by_status"]
        assert statuses == {s: open_tasks[(item["task_queue_sid"], s)] for s in statuses}
        assert item["realtime"]["total_tasks"] == sum(statuses.values())


def test_queue_statistics_page_and_filter_by_name(inproc):
    first = inproc.get(f"/Workspaces/{SUPPORT}/TaskQueues/Statistics", {"PageSize": 2}).json()
    assert len(first["task_queues_statistics"]) == 2
    second = inproc.get(first["meta"]["next_page_url"]).json()
    _validate(second, _response_schema(QUEUE_STATISTICS, "get"))
    assert second["task_queues_statistics"][0]["task_queue_sid"] not in {
        i["task_queue_sid"] for i in first["task_queues_statistics"]
    }
    billing = inproc.get(
        f"/Workspaces/{SUPPORT}/TaskQueues/Statistics", {"FriendlyName": "Billing"}
    ).json()
    assert len(billing["task_queues_statistics"]) == 1


def test_statistics_refuse_a_bad_window_or_an_unknown_channel(inproc):
    url = f"/Workspaces/{SUPPORT}/TaskQueues/Statistics"
    assert inproc.get(url, {"Minutes": "0"}).status_code == 400
    assert inproc.get(url, {"StartDate": "yesterday"}).status_code == 400
    realtime = f"/Workspaces/{SUPPORT}/RealTimeStatistics"
    assert inproc.get(realtime, {"TaskChannel": "pigeon"}).status_code == 400
    assert inproc.post(realtime, {}).status_code == 405
    assert inproc.get(f"/Workspaces/WS{'0' * 32}/RealTimeStatistics").status_code == 404


def test_a_channel_restricts_the_counts(inproc):
    everything = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    voice = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics", {"TaskChannel": "voice"}).json()
    assert 0 < voice["total_tasks"] < everything["total_tasks"]


# --- Figures from real state, on the test's clock ----------------------------------------------

TRAINEES = f"/Workspaces/{TRAINING}"


def _trainee(api, name: str, activity: str) -> dict:
    return api.post(f"{TRAINEES}/Workers", {"FriendlyName": name, "ActivitySid": activity}).json()


def _task(api) -> dict:
    return api.post(f"{TRAINEES}/Tasks", {"TaskChannel": "voice"}).json()


def _offer(api, task: dict) -> dict:
    return api.get(f"{task['url']}/Reservations", {"ReservationStatus": "pending"}).json()[
        "reservations"
    ][0]


@pytest.fixture
def shift(tr, clock):
    """A short, known history in Training, all on the test's clock (seconds from t=0):

    0   tasks one and two arrive; Agent is Offline (created then)
    20  Agent becomes Available and is offered task one
    25  Agent accepts task one: a wait of 25 s
    40  task two is canceled, unserved: a wait of 40 s
    70  Agent completes task one; task three arrives and is offered at once
    75  Agent accepts task three: a wait of 5 s
    80  now
    """
    api = tr
    activities = activity_sids(api, TRAINING)
    start = clock.moment
    agent = _trainee(api, "Agent", activities["Offline"])
    one, two = _task(api), _task(api)
    clock.advance(20)
    api.post(agent["url"], {"ActivitySid": activities["Available"]})
    clock.advance(5)
    api.post(_offer(api, one)["url"], {"ReservationStatus": "accepted"})
    clock.advance(15)
    api.post(two["url"], {"AssignmentStatus": "canceled", "Reason": "hung up"})
    clock.advance(30)
    api.post(one["url"], {"AssignmentStatus": "completed", "Reason": "done"})
    three = _task(api)
    clock.advance(5)
    api.post(_offer(api, three)["url"], {"ReservationStatus": "accepted"})
    clock.advance(5)
    return {"api": api, "start": start, "agent": agent, "tasks": (one, two, three)}


def test_cumulative_figures_are_the_shifts_hand_counted(shift):
    api = shift["api"]
    body = api.get(f"{TRAINEES}/CumulativeStatistics", {"Minutes": "15"}).json()
    assert body["tasks_created"] == 3
    assert body["tasks_canceled"] == 1
    assert body["tasks_completed"] == 1
    assert body["reservations_created"] == 2
    assert body["reservations_accepted"] == 2
    assert body["reservations_rejected"] == body["reservations_timed_out"] == 0
    assert body["wait_duration_until_accepted"] == {"avg": 15, "min": 5, "max": 25, "total": 30}
    assert body["wait_duration_until_canceled"] == {"avg": 40, "min": 40, "max": 40, "total": 40}
    assert body["avg_task_acceptance_time"] == 15
    assert body["split_by_wait_time"] is None  # not asked for
    queue = api.get(f"{TRAINEES}/TaskQueues/Statistics").json()["task_queues_statistics"][0]
    assert queue["cumulative"]["tasks_entered"] == 3
    assert queue["cumulative"]["wait_duration_in_queue_until_accepted"]["total"] == 30
    assert queue["realtime"]["tasks_by_status"] == {
        "assigned": 1,
        "pending": 0,
        "reserved": 0,
        "wrapping": 0,
    }
    workflow = api.get(f"{TRAINEES}/Workflows").json()["workflows"][0]
    figures = api.get(workflow["links"]["cumulative_statistics"]).json()
    assert figures["tasks_entered"] == 3
    assert figures["reservations_accepted"] == 2


def test_a_window_counts_only_what_happened_inside_it(shift):
    api, start = shift["api"], shift["start"]
    window = {
        "StartDate": (start + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "EndDate": (start + timedelta(seconds=72)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    body = api.get(f"{TRAINEES}/CumulativeStatistics", window).json()
    assert body["start_time"] == window["StartDate"]
    assert body["end_time"] == window["EndDate"]
    assert body["tasks_created"] == 1  # task three, at 70
    assert body["tasks_canceled"] == 1  # task two, at 40
    assert body["reservations_created"] == 1  # for task three, at 70
    assert body["reservations_accepted"] == 0  # task three's, at 75, is after the window


def test_split_by_wait_time_counts_an_exact_threshold_as_within_it(shift):
    body = (
        shift["api"].get(f"{TRAINEES}/CumulativeStatistics", {"SplitByWaitTime": "5,25,30"}).json()
    )
    split = body["split_by_wait_time"]
    assert list(split) == ["5", "25", "30"]
    assert split["5"] == {
        "above": {"tasks_canceled": 1, "reservations_accepted": 1},
        "below": {"tasks_canceled": 0, "reservations_accepted": 1},
    }
    # Task one was accepted at exactly 25 s: within a 25 s target.
    assert split["25"]["below"] == {"tasks_canceled": 0, "reservations_accepted": 2}
    assert split["30"]["above"] == {"tasks_canceled": 1, "reservations_accepted": 0}


def test_the_split_moves_when_a_task_is_accepted_after_the_threshold(tr, clock):
    api = tr
    activities = activity_sids(api, TRAINING)
    agent = _trainee(api, "Agent", activities["Offline"])
    on_time, late = _task(api), _task(api)
    params = {"SplitByWaitTime": "30"}

    def split() -> dict:
        queue = api.get(f"{TRAINEES}/TaskQueues/Statistics", params).json()
        return queue["task_queues_statistics"][0]["cumulative"]["split_by_wait_time"]["30"]

    clock.advance(29)
    api.post(agent["url"], {"ActivitySid": activities["Available"]})
    api.post(_offer(api, on_time)["url"], {"ReservationStatus": "accepted"})
    assert split()["below"]["reservations_accepted"] == 1
    assert split()["above"]["reservations_accepted"] == 0
    api.post(on_time["url"], {"AssignmentStatus": "completed", "Reason": "done"})
    clock.advance(2)  # task two, waiting since 0, is accepted at 31 s: late
    api.post(_offer(api, late)["url"], {"ReservationStatus": "accepted"})
    assert split()["above"]["reservations_accepted"] == 1
    assert split()["below"]["reservations_accepted"] == 1


def test_worker_figures_count_workers_reservations_and_time_in_each_activity(shift):
    api, agent = shift["api"], shift["agent"]
    realtime = api.get(f"{TRAINEES}/Workers/RealTimeStatistics").json()
    counts = {a["friendly_name"]: a["workers"] for a in realtime["activity_statistics"]}
    assert realtime["total_workers"] == 6  # five trainees and Agent
    assert counts["Offline"] == 5
    assert counts["Available"] == 1
    own = api.get(agent["links"]["worker_statistics"], {"Minutes": "15"}).json()["cumulative"]
    assert own["reservations_created"] == own["reservations_accepted"] == 2
    durations = {a["friendly_name"]: a for a in own["activity_durations"]}
    assert durations["Offline"]["total"] == 20
    assert durations["Available"]["total"] == 60
    assert durations["Break"] == {
        "max": 0,
        "min": 0,
        "sid": durations["Break"]["sid"],
        "friendly_name": "Break",
        "avg": 0,
        "total": 0,
    }
    queue = api.get(f"{TRAINEES}/TaskQueues").json()["task_queues"][0]
    realtime = api.get(queue["links"]["real_time_statistics"]).json()
    assert realtime["total_eligible_workers"] == 6
    assert realtime["total_available_workers"] == 1
    selected = api.get(f"{TRAINEES}/Workers/Statistics", {"FriendlyName": "agent"}).json()
    assert selected["realtime"]["total_workers"] == 1


def test_the_longest_waiting_task_in_queue_counts_from_entering_the_queue(tr, clock, store):
    api = tr
    queue = add_queue(store, TRAINING, "Escalations", 'team == "nobody"')
    workflow = add_workflow(
        store,
        TRAINING,
        "Moves on",
        {
            "task_routing": {
                "filters": [
                    {
                        "expression": "1 == 1",
                        "targets": [
                            {"queue": _sample_queue(api), "timeout": 60},
                            {"queue": queue},
                        ],
                    }
                ]
            }
        },
    )
    task = api.post(f"{TRAINEES}/Tasks", {"WorkflowSid": workflow}).json()
    clock.advance(90)
    figures = api.get(f"{TRAINEES}/TaskQueues/{queue}/RealTimeStatistics").json()
    assert figures["longest_task_waiting_sid"] == task["sid"]
    assert figures["longest_task_waiting_age"] == 90
    assert figures["longest_relative_task_sid_in_queue"] == task["sid"]
    assert figures["longest_relative_task_age_in_queue"] == 30
    bulk = api.post(
        f"{TRAINEES}/TaskQueues/RealTimeStatistics", {"QueueSids": f"{queue},{'WQ' + '0' * 32}"}
    ).json()
    assert bulk["task_queue_response_count"] == 2
    assert bulk["task_queue_data"][0]["longest_relative_task_age_in_queue"] == 30
    assert bulk["task_queue_data"][1]["total_tasks"] == 0  # no such queue here: zeros


def _sample_queue(api) -> str:
    return api.get(f"{TRAINEES}/TaskQueues").json()["task_queues"][0]["sid"]


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("CumulativeStatistics", {"Minutes": "5", "StartDate": "2026-01-01T00:00:00Z"}, "Minutes"),
        ("Statistics", {"SplitByWaitTime": "5,soon"}, "SplitByWaitTime"),
        ("Statistics", {"SplitByWaitTime": "2.5"}, "whole seconds"),
        ("CumulativeStatistics", {"StartDate": "2001-01-01T00:00:00Z"}, "30 days"),
        ("TaskQueues/Statistics", {"Minutes": "43201"}, "Minutes"),
        ("Workers/Statistics", {"TaskQueueSid": "queue"}, "TaskQueueSid"),
    ],
)
def test_statistics_refuse_parameters_taskrouter_would(inproc, path, params, words):
    response = inproc.get(f"/Workspaces/{SUPPORT}/{path}", params)
    assert response.status_code == 400
    assert words in response.json()["message"]


def test_bulk_statistics_take_one_to_fifty_queues(inproc):
    url = f"/Workspaces/{SUPPORT}/TaskQueues/RealTimeStatistics"
    assert inproc.post(url, json={"QueueSids": []}).status_code == 400
    many = ["WQ" + f"{n:032x}" for n in range(51)]
    assert inproc.post(url, json={"QueueSids": many}).status_code == 400
    fifty = inproc.post(url, {"QueueSids": many[:50]})  # a form works too
    assert fifty.json()["task_queue_response_count"] == 50
    assert fifty.headers["X-Rate-Limit-Limit"] == "5"  # TaskRouter's published limit
    assert inproc.get(url).status_code == 405
