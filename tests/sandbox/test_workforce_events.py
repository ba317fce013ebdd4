"""The Events the workforce records: reservations, workers, activities, and the task events
TaskRouter's own moves make; who each is recorded as acting.

Scenarios run in the Training workspace on an injected clock (``tr``, ``clock``).
"""

from __future__ import annotations

import json

import pytest

from tasks_app.sandbox import Simulator
from tests.sandbox.helpers import (
    TRAINING,
    activity_sids,
    add_queue,
    add_workflow,
    all_events,
    answer,
    clocked,
    event_types,
    hire,
    new_task,
    reservations,
)

ACCOUNT = "AC7461736b6465636b2073616e64626f78"
WS = f"/Workspaces/{TRAINING}"
CREATION = ["task.created", "workflow.entered", "workflow.target-matched", "task-queue.entered"]


@pytest.fixture
def activities(tr) -> dict[str, str]:
    return activity_sids(tr, TRAINING)


def _events(api, **params) -> list[dict]:
    return all_events(api, TRAINING, **params)


def _actor(event: dict) -> tuple[str, str, str]:
    return event["actor_type"], event["actor_sid"], event["source"]


def _by_account(event: dict) -> bool:
    return _actor(event) == ("account", ACCOUNT, "api")


def _by_taskrouter(event: dict) -> bool:
    return _actor(event) == ("workspace", TRAINING, "twilio")


def test_a_reservations_life_is_recorded_with_its_task_and_worker(tr, activities):
    agent = hire(tr, "Ana Agent", activities["Available"], skills=["voice"])
    task = new_task(tr, topic="billing")
    offer = reservations(tr, task)[0]
    created = _events(tr, TaskSid=task["sid"])
    assert event_types(created) == [*CREATION, "reservation.created"]
    event = created[-1]
    assert _by_account(event)  # the offer came of the request that created the task
    assert (event["resource_type"], event["resource_sid"]) == ("reservation", offer["sid"])
    assert event["resource_url"] == offer["url"]
    assert event["description"] == f"Reservation {offer['sid']} created for Worker Ana Agent"
    data = event["event_data"]
    assert list(data) == sorted(data)
    assert (data["reservation_sid"], data["task_sid"]) == (offer["sid"], task["sid"])
    assert (data["worker_sid"], data["worker_name"]) == (agent["sid"], "Ana Agent")
    assert json.loads(data["worker_attributes"]) == {"skills": ["voice"]}
    assert data["worker_activity_name"] == "Available"
    assert data["task_assignment_status"] == "reserved"
    assert data["task_queue_sid"] == task["task_queue_sid"]

    answer(tr, offer, "accepted")
    answer(tr, offer, "wrapping")
    answer(tr, offer, "completed")
    found = _events(tr, TaskSid=task["sid"])[5:]
    assert event_types(found) == [
        "reservation.accepted",
        "reservation.wrapup",
        "task.wrapup",
        "reservation.completed",
        "task.completed",
    ]
    statuses = [e["event_data"]["task_assignment_status"] for e in found]
    assert statuses == ["assigned", "wrapping", "wrapping", "completed", "completed"]
    assert event_types(_events(tr, ReservationSid=offer["sid"])) == [
        "reservation.created",
        "reservation.accepted",
        "reservation.wrapup",
        "reservation.completed",
    ]
    mine = _events(tr, WorkerSid=agent["sid"])
    assert event_types(mine)[0] == "worker.created"
    assert {e["event_type"] for e in mine} >= {"reservation.created", "reservation.completed"}


def test_a_timed_out_reservation_is_taskrouters_and_moves_the_worker_then_the_task_on(
    tr, store, clock, activities
):
    workflow = add_workflow(
        store,
        TRAINING,
        "Quick",
        {"task_routing": {"filters": [], "default_filter": {"queue": _sample_queue(tr)}}},
        reservation_timeout=30,
    )
    silent = hire(tr, "Silent", activities["Available"])
    clock.advance(1)
    backup = hire(tr, "Backup", activities["Available"])
    clock.advance(1)
    task = new_task(tr, workflow)
    clock.advance(31)
    tr.get(task["url"])  # the clock's work is done before any request is answered
    found = _events(tr, TaskSid=task["sid"])[-2:]
    assert event_types(found) == ["reservation.timeout", "reservation.created"]
    assert all(_by_taskrouter(e) for e in found)
    assert found[0]["event_data"]["worker_sid"] == silent["sid"]
    assert found[1]["event_data"]["worker_sid"] == backup["sid"]
    (moved,) = _events(tr, WorkerSid=silent["sid"], EventType="worker.activity.update")
    assert _by_taskrouter(moved)
    data = moved["event_data"]
    assert (data["worker_activity_sid"], data["worker_activity_name"]) == (
        activities["Offline"],
        "Offline",
    )
    assert data["worker_previous_activity_sid"] == activities["Available"]
    assert data["worker_time_in_previous_activity"] == "33"  # hired 33 s before
    assert data["worker_time_in_previous_activity_ms"] == "33000"
    assert moved["description"] == "Worker Silent updated to Offline Activity"


def test_the_first_acceptance_rescinds_the_other_offers(tr, store, clock, activities):
    queue = add_queue(store, TRAINING, "Pair", max_reserved_workers=2)
    routing = {"task_routing": {"filters": [], "default_filter": {"queue": queue}}}
    workflow = add_workflow(store, TRAINING, "Pairs", routing)
    hire(tr, "One", activities["Available"])
    clock.advance(1)
    hire(tr, "Two", activities["Available"])
    task = new_task(tr, workflow)
    first, second = reservations(tr, task)
    answer(tr, second, "accepted")
    found = _events(tr, TaskSid=task["sid"])[-2:]
    assert event_types(found) == ["reservation.accepted", "reservation.rescinded"]
    assert found[1]["resource_sid"] == first["sid"]
    assert found[1]["description"] == f"Reservation {first['sid']} rescinded"


def test_a_task_canceled_by_the_api_records_its_cancel_then_its_reservations(tr, activities):
    hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    tr.post(task["url"], {"AssignmentStatus": "canceled", "Reason": "caller hung up"})
    found = _events(tr, TaskSid=task["sid"])[-2:]
    assert event_types(found) == ["task.canceled", "reservation.canceled"]
    assert all(_by_account(e) for e in found)
    assert found[1]["event_data"]["task_assignment_status"] == "canceled"


def test_leaving_a_workflow_at_its_last_timeout_records_workflow_timeout_then_the_cancel(
    tr, store, clock
):
    workflow = add_workflow(
        store,
        TRAINING,
        "One minute",
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "All",
                        "expression": "1 == 1",
                        "targets": [{"queue": _sample_queue(tr), "timeout": 60}],
                    }
                ],
            }
        },
    )
    task = new_task(tr, workflow)
    clock.advance(61)
    tr.get(task["url"])
    found = _events(tr, TaskSid=task["sid"])[-2:]
    assert event_types(found) == ["workflow.timeout", "task.canceled"]
    assert all(_by_taskrouter(e) for e in found)
    assert found[0]["description"] == f"Task {task['sid']} timed out of Workflow One minute"
    assert found[1]["event_data"]["task_canceled_reason"] == "Workflow Timeout"


def test_worker_and_channel_changes_record_worker_events(tr, clock, activities):
    agent = hire(tr, "Chen", activities["Offline"], team="first")
    clock.advance(42)
    tr.post(agent["url"], {"ActivitySid": activities["Break"]})
    tr.post(agent["url"], {"Attributes": json.dumps({"team": "second"})})
    chat = f"{agent['url']}/Channels/chat"
    tr.post(chat, {"Capacity": "3"})
    tr.post(chat, {"Available": "false"})
    assert tr.delete(agent["url"]).status_code == 204
    found = _events(tr, WorkerSid=agent["sid"])
    assert event_types(found) == [
        "worker.created",
        "worker.activity.update",
        "worker.attributes.update",
        "worker.capacity.update",
        "worker.channel.availability.update",
        "worker.deleted",
    ]
    assert all(_by_account(e) and e["resource_type"] == "worker" for e in found)
    moved = found[1]["event_data"]
    assert (moved["worker_activity_name"], moved["worker_previous_activity_sid"]) == (
        "Break",
        activities["Offline"],
    )
    assert moved["worker_time_in_previous_activity"] == "42"
    assert json.loads(found[2]["event_data"]["worker_attributes"]) == {"team": "second"}
    capacity = found[3]["event_data"]
    assert (capacity["task_channel_unique_name"], capacity["worker_channel_previous_capacity"]) == (
        "chat",
        "1",
    )
    assert found[3]["description"] == "Worker Chen capacity on chat updated to 3"
    assert found[4]["event_data"]["worker_channel_available"] == "false"
    # A channel is a resource of its own: changing it leaves the worker's version.
    versions = [e["event_data"]["worker_version"] for e in found[:5]]
    assert versions == ["0", "1", "2", "2", "2"]


def test_going_unavailable_rejecting_pending_reservations_records_the_move_then_the_rejections(
    tr, activities
):
    agent = hire(tr, "Leaving", activities["Available"])
    task = new_task(tr)
    leave = {"ActivitySid": activities["Offline"], "RejectPendingReservations": "true"}
    tr.post(agent["url"], leave)
    found = _events(tr, WorkerSid=agent["sid"])[1:]  # after worker.created
    assert event_types(found) == [
        "reservation.created",
        "worker.activity.update",
        "reservation.rejected",
    ]
    assert found[2]["event_data"]["task_sid"] == task["sid"]
    assert found[2]["event_data"]["worker_activity_name"] == "Offline"


def test_activity_changes_record_activity_events(tr):
    created = tr.post(f"{WS}/Activities", {"FriendlyName": "Coaching", "Available": "false"}).json()
    tr.post(created["url"], {"FriendlyName": "Coaching session"})
    tr.delete(created["url"])
    found = [e for e in _events(tr) if e["resource_sid"] == created["sid"]]
    assert event_types(found) == ["activity.created", "activity.updated", "activity.deleted"]
    assert found[1]["event_data"]["activity_name"] == "Coaching session"
    assert found[0]["event_data"]["activity_available"] == "false"
    assert all(_by_account(e) and e["resource_type"] == "activity" for e in found)


def test_in_a_simulated_shift_agents_act_as_themselves_and_taskrouter_as_the_workspace(
    store, clock
):
    api = clocked(store, clock)
    simulator = Simulator(store, rate=0.2, seed=5, workspaces=(TRAINING,))
    happened = []
    for _ in range(120):  # ten minutes, a step every five seconds
        clock.advance(5)
        happened += simulator.step(clock.us)
    kinds = {event.kind for event in happened}
    assert {"create", "sign-in", "accept", "wrap", "complete"} <= kinds
    by_kind = {
        "accept": "reservation.accepted",
        "wrap": "reservation.wrapup",
        "complete": "reservation.completed",
        "reject": "reservation.rejected",
    }
    checked = set()
    for event in happened:
        if event.kind not in by_kind:
            continue
        found = _events(api, TaskSid=event.task_sid, EventType=by_kind[event.kind], Minutes=30)
        # This agent's own event: a task can be rejected by one agent, then another (the
        # simulated shift follows the time of day the seed was made, so runs differ).
        mine = [e for e in found if e["event_data"]["worker_sid"] == event.worker_sid]
        assert mine, f"no {by_kind[event.kind]} of {event.task_sid} by {event.worker_sid}"
        for each in mine:
            assert _actor(each) == ("worker", event.worker_sid, "api")
            assert each["actor_url"].endswith(f"{WS}/Workers/{event.worker_sid}")
        checked.add(event.kind)
    assert {"accept", "wrap", "complete"} <= checked
    arrival = next(e for e in happened if e.kind == "create")
    assert _by_account(_events(api, TaskSid=arrival.task_sid, Minutes=30)[0])
    signed_in = next(e for e in happened if e.kind == "sign-in")
    (moved, *_) = _events(
        api, WorkerSid=signed_in.worker_sid, EventType="worker.activity.update", Minutes=30
    )
    assert _actor(moved) == ("worker", signed_in.worker_sid, "api")
    timeouts = _events(api, EventType="reservation.timeout", Minutes=30)
    assert all(_by_taskrouter(e) for e in timeouts)


def _sample_queue(api) -> str:
    queues = api.get(f"{WS}/TaskQueues").json()["task_queues"]
    return next(q["sid"] for q in queues if q["friendly_name"] == "Sample Queue")
