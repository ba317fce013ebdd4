"""Assignment as TaskRouter does it: who is offered a task, in which order, and what each
answer (or silence) does to the task, the worker and the queue.

Scenarios run in the Training workspace (no tasks, five trainees Offline) with workers the
test hires, on a clock the test moves.
"""

from __future__ import annotations

import json

import pytest

from tests.sandbox.helpers import (
    TRAINING,
    Api,
    activity_sids,
    add_queue,
    add_workflow,
    answer,
    hire,
    new_task,
    reservations,
    status,
    worker,
)

WS = f"/Workspaces/{TRAINING}"


@pytest.fixture
def activities(tr) -> dict[str, str]:
    return activity_sids(tr, TRAINING)


def test_a_new_task_goes_to_the_longest_idle_available_worker(tr, clock, activities):
    first = hire(tr, "First", activities["Available"])
    clock.advance(10)
    second = hire(tr, "Second", activities["Available"])
    hire(tr, "Away", activities["Break"])
    clock.advance(10)
    task = new_task(tr)
    assert task["assignment_status"] == "reserved"
    [offer] = reservations(tr, task)
    assert offer["worker_sid"] == first["sid"]
    assert offer["reservation_status"] == "pending"
    # First is busy (its one voice slot holds the reservation): the next call is Second's.
    other = new_task(tr)
    assert reservations(tr, other)[0]["worker_sid"] == second["sid"]
    # Nobody left with room: the third waits.
    assert new_task(tr)["assignment_status"] == "pending"


def test_a_worker_coming_back_takes_the_highest_priority_then_the_oldest_task(
    tr, clock, activities
):
    agent = hire(tr, "Agent", activities["Offline"])
    old_low = new_task(tr, ticket="old, low")
    clock.advance(5)
    high = new_task(tr, ticket="newer, high")
    tr.post(high["url"], {"Priority": "10"})
    clock.advance(5)
    new_task(tr, ticket="newest, high")
    tr.post(agent["url"], {"ActivitySid": activities["Available"]})
    assert status(tr, high) == "reserved"
    assert status(tr, old_low) == "pending"


def test_a_lifo_queue_serves_its_newest_task_first_whatever_its_priority(
    tr, store, clock, activities
):
    queue = add_queue(store, TRAINING, "Callbacks", task_order="LIFO")
    workflow = add_workflow(
        store,
        TRAINING,
        "Callbacks",
        {"task_routing": {"filters": [], "default_filter": {"queue": queue}}},
    )
    agent = hire(tr, "Agent", activities["Offline"])
    urgent = new_task(tr, workflow)
    tr.post(urgent["url"], {"Priority": "50"})
    clock.advance(5)
    newest = new_task(tr, workflow)
    tr.post(agent["url"], {"ActivitySid": activities["Available"]})
    assert status(tr, newest) == "reserved"
    assert status(tr, urgent) == "pending"


def test_unavailable_workers_paused_channels_and_zero_capacity_are_passed_over(tr, activities):
    paused = hire(tr, "Paused", activities["Available"])
    tr.post(f"{paused['url']}/Channels/voice", {"Available": "false"})
    none = hire(tr, "No voice", activities["Available"])
    tr.post(f"{none['url']}/Channels/voice", {"Capacity": "0"})
    hire(tr, "On break", activities["Break"])
    task = new_task(tr)
    assert task["assignment_status"] == "pending"
    # A paused channel keeps its capacity; unpaused, the worker takes the call at once.
    channel = tr.post(f"{paused['url']}/Channels/voice", {"Available": "true"}).json()
    assert channel["configured_capacity"] == 1
    assert reservations(tr, task)[0]["worker_sid"] == paused["sid"]


def test_a_channel_with_capacity_two_holds_two_chats_and_reports_its_load(tr, activities):
    agent = hire(tr, "Chatty", activities["Available"])
    channel = tr.post(f"{agent['url']}/Channels/chat", {"Capacity": "2"}).json()
    assert channel["available_capacity_percentage"] == 100
    first, second, third = (new_task(tr, channel="chat") for _ in range(3))
    assert [t["assignment_status"] for t in (first, second, third)] == [
        "reserved",
        "reserved",
        "pending",
    ]
    channel = tr.get(f"{agent['url']}/Channels/chat").json()
    assert channel["available_capacity_percentage"] == 0
    assert channel["assigned_tasks"] == 0  # reserved, not yet accepted
    answer(tr, reservations(tr, first)[0], "accepted")
    assert tr.get(f"{agent['url']}/Channels/chat").json()["assigned_tasks"] == 1
    # A voice call still fits: channels are counted apart.
    assert new_task(tr)["assignment_status"] == "reserved"


def test_accepting_assigns_and_completing_frees_the_capacity_for_the_next_task(tr, activities):
    agent = hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    waiting = new_task(tr)
    offer = reservations(tr, task)[0]
    accepted = answer(tr, offer, "accepted")
    assert accepted["reservation_status"] == "accepted"
    assert status(tr, task) == "assigned"
    assert status(tr, waiting) == "pending"
    assert answer(tr, offer, "wrapping")["reservation_status"] == "wrapping"
    assert status(tr, task) == "wrapping"
    assert status(tr, waiting) == "pending"  # wrap-up still holds the capacity
    assert answer(tr, offer, "completed")["reservation_status"] == "completed"
    assert status(tr, task) == "completed"
    assert status(tr, waiting) == "reserved"
    assert reservations(tr, waiting)[0]["worker_sid"] == agent["sid"]
    # Completing the task itself (as Taskdeck does) completes its reservation too.
    answer(tr, reservations(tr, waiting)[0], "accepted")
    done = tr.post(waiting["url"], {"AssignmentStatus": "completed", "Reason": "resolved"})
    assert done.json()["assignment_status"] == "completed"
    assert reservations(tr, waiting)[0]["reservation_status"] == "completed"


def test_a_reservation_nobody_answers_times_out_and_the_next_worker_gets_the_task(
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
    task = new_task(tr, workflow, channel="voice")
    assert reservations(tr, task)[0]["worker_sid"] == silent["sid"]
    clock.advance(29)
    assert reservations(tr, task)[0]["reservation_status"] == "pending"
    clock.advance(2)  # past the workflow's 30 s task_reservation_timeout
    history = reservations(tr, task)
    assert [(r["worker_sid"], r["reservation_status"]) for r in history] == [
        (silent["sid"], "timeout"),
        (backup["sid"], "pending"),
    ]
    assert status(tr, task) == "reserved"
    # The silent worker is moved to the workspace's timeout activity (Offline).
    silent_now = worker(tr, silent)
    assert silent_now["activity_name"] == "Offline"
    assert silent_now["available"] is False
    assert reservations(tr, task, ReservationStatus="timeout")[0]["worker_sid"] == silent["sid"]


def test_a_rejected_task_goes_to_the_next_worker_and_never_back(tr, clock, activities):
    picky = hire(tr, "Picky", activities["Available"])
    clock.advance(1)
    other = hire(tr, "Other", activities["Available"])
    task = new_task(tr)
    rejected = answer(tr, reservations(tr, task)[0], "rejected")
    assert rejected["worker_sid"] == picky["sid"]
    assert worker(tr, picky)["activity_name"] == "Available"  # no activity given: unchanged
    offers = reservations(tr, task, ReservationStatus="pending")
    assert [r["worker_sid"] for r in offers] == [other["sid"]]
    answer(tr, offers[0], "rejected")
    # Both rejected it: it waits, though both are available with room.
    assert status(tr, task) == "pending"
    assert worker(tr, picky)["available"] is True


def test_rejecting_with_an_activity_moves_the_worker_there(tr, activities):
    agent = hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    answer(
        tr,
        reservations(tr, task)[0],
        "rejected",
        WorkerActivitySid=activities["Break"],
    )
    assert worker(tr, agent)["activity_name"] == "Break"


def test_max_reserved_workers_reserves_several_and_the_first_to_accept_rescinds_the_rest(
    tr, store, clock, activities
):
    queue = add_queue(store, TRAINING, "Hunt group", max_reserved_workers=3)
    workflow = add_workflow(
        store,
        TRAINING,
        "Hunt group",
        {"task_routing": {"filters": [], "default_filter": {"queue": queue}}},
    )
    agents = []
    for name in ("One", "Two", "Three", "Four"):
        agents.append(hire(tr, name, activities["Available"]))
        clock.advance(1)
    task = new_task(tr, workflow)
    offers = reservations(tr, task)
    assert [r["worker_sid"] for r in offers] == [a["sid"] for a in agents[:3]]
    answer(tr, offers[1], "accepted")
    assert {r["worker_sid"]: r["reservation_status"] for r in reservations(tr, task)} == {
        agents[0]["sid"]: "rescinded",
        agents[1]["sid"]: "accepted",
        agents[2]["sid"]: "rescinded",
    }
    assert status(tr, task) == "assigned"
    # A rescinded reservation cannot be accepted any more.
    late = tr.post(offers[0]["url"], {"ReservationStatus": "accepted"})
    assert late.status_code == 400
    assert "because it is rescinded" in late.json()["message"]


def test_with_several_offers_out_one_rejection_keeps_the_task_reserved(
    tr, store, clock, activities
):
    queue = add_queue(store, TRAINING, "Pairs", max_reserved_workers=2)
    workflow = add_workflow(
        store, TRAINING, "Pairs", {"task_routing": {"default_filter": {"queue": queue}}}
    )
    hire(tr, "One", activities["Available"])
    clock.advance(1)
    hire(tr, "Two", activities["Available"])
    task = new_task(tr, workflow)
    first, second = reservations(tr, task)
    answer(tr, first, "rejected")
    assert status(tr, task) == "reserved"  # the other offer is still out
    answer(tr, second, "rejected")
    assert status(tr, task) == "pending"  # every reservation ended unaccepted


def _sample_queue(api: Api) -> str:
    queues = api.get(f"{WS}/TaskQueues").json()["task_queues"]
    return next(q["sid"] for q in queues if q["friendly_name"] == "Sample Queue")


def test_target_timeouts_move_a_task_along_its_targets_then_out_of_the_workflow(
    tr, store, clock, activities
):
    first = add_queue(store, TRAINING, "First line", 'team == "first"')
    second = add_queue(store, TRAINING, "Second line", 'team == "second"')
    workflow = add_workflow(
        store,
        TRAINING,
        "Escalation",
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "Everything",
                        "expression": "1 == 1",
                        "targets": [
                            {"queue": first, "timeout": 60},
                            {"queue": second, "timeout": 60, "priority": 7},
                        ],
                    }
                ],
                "default_filter": {"queue": first},
            }
        },
    )
    task = new_task(tr, workflow)
    assert task["task_queue_sid"] == first
    clock.advance(59)
    assert tr.get(task["url"]).json()["task_queue_sid"] == first
    clock.advance(2)
    moved = tr.get(task["url"]).json()
    assert moved["task_queue_sid"] == second
    assert moved["priority"] == 7
    assert moved["age"] == 61  # its age goes on; its time in the new queue starts
    assert moved["task_queue_entered_date"] != moved["date_created"]
    # A worker of the second line now gets it at once.
    second_line = hire(tr, "Second", activities["Available"], team="second")
    assert reservations(tr, task)[0]["worker_sid"] == second_line["sid"]
    answer(tr, reservations(tr, task)[0], "rejected")
    # Nobody else: the last target times out at age 120 and the task leaves its workflow.
    clock.advance(60)
    gone = tr.get(task["url"]).json()
    assert gone["assignment_status"] == "canceled"
    assert gone["reason"] == "Workflow Timeout"
    cumulative = tr.get(f"{WS}/Workflows/{workflow}/CumulativeStatistics").json()
    assert cumulative["tasks_timed_out_in_workflow"] == 1
    assert cumulative["tasks_canceled"] == 1
    assert tr.get(f"{WS}/TaskQueues/{first}/CumulativeStatistics").json()["tasks_moved"] == 1


def test_skip_if_moves_a_task_past_a_target_nobody_can_take(tr, store, activities):
    experts = add_queue(store, TRAINING, "Experts", 'skills HAS "expert"')
    everyone = _sample_queue(tr)
    workflow = add_workflow(
        store,
        TRAINING,
        "Experts first",
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "Hard",
                        "expression": "hard == true",
                        "targets": [
                            {"queue": experts, "timeout": 600, "skip_if": "workers.available == 0"}
                        ],
                    }
                ],
                "default_filter": {"queue": everyone},
            }
        },
    )
    hire(tr, "Expert on a break", activities["Break"], skills=["expert"])
    generalist = hire(tr, "Generalist", activities["Available"])
    # No expert available: the last target is skipped, so the default filter takes it.
    task = new_task(tr, workflow, hard=True)
    assert task["task_queue_sid"] == everyone
    assert reservations(tr, task)[0]["worker_sid"] == generalist["sid"]


def test_a_known_worker_target_waits_for_that_worker_then_falls_through(
    tr, store, clock, activities
):
    everyone = _sample_queue(tr)
    workflow = add_workflow(
        store,
        TRAINING,
        "Known agent",
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "Their agent",
                        "expression": 'agent != ""',
                        "targets": [
                            {"queue": everyone, "known_worker_sid": "task.agent", "timeout": 30}
                        ],
                    },
                    {"expression": "1 == 1", "targets": [{"queue": everyone}]},
                ]
            }
        },
    )
    theirs = hire(tr, "Theirs", activities["Break"])
    other = hire(tr, "Other", activities["Available"])
    task = new_task(tr, workflow, agent=theirs["sid"])
    assert task["assignment_status"] == "pending"  # Other is free, but not the known worker
    tr.post(theirs["url"], {"ActivitySid": activities["Available"]})
    assert reservations(tr, task)[0]["worker_sid"] == theirs["sid"]
    # Another customer of the same agent, who is now busy: after 30 s, anyone.
    second = new_task(tr, workflow, agent=theirs["sid"])
    assert second["assignment_status"] == "pending"
    clock.advance(31)
    assert reservations(tr, second)[0]["worker_sid"] == other["sid"]


def test_order_by_offers_the_most_senior_worker_first(tr, store, clock, activities):
    everyone = _sample_queue(tr)
    workflow = add_workflow(
        store,
        TRAINING,
        "Seniority",
        {
            "task_routing": {
                "filters": [
                    {
                        "expression": "1 == 1",
                        "targets": [{"queue": everyone, "order_by": "worker.level DESC"}],
                    }
                ]
            }
        },
    )
    hire(tr, "Junior", activities["Available"], level=1)
    clock.advance(1)
    senior = hire(tr, "Senior", activities["Available"], level=5)
    clock.advance(1)
    hire(tr, "Middle", activities["Available"], level=3)
    task = new_task(tr, workflow)
    assert reservations(tr, task)[0]["worker_sid"] == senior["sid"]
    # A target expression narrows the queue: nobody below level 4 takes this one.
    narrow = add_workflow(
        store,
        TRAINING,
        "Seniors only",
        {
            "task_routing": {
                "filters": [
                    {
                        "expression": "1 == 1",
                        "targets": [{"queue": everyone, "expression": "worker.level >= 4"}],
                    }
                ]
            }
        },
    )
    assert new_task(tr, narrow)["assignment_status"] == "pending"  # Senior is busy


def test_going_unavailable_with_reject_pending_reservations_releases_the_tasks(
    tr, clock, activities
):
    leaving = hire(tr, "Leaving", activities["Available"])
    clock.advance(1)
    task = new_task(tr)
    colleague = hire(tr, "Colleague", activities["Available"])
    updated = tr.post(
        leaving["url"],
        {"ActivitySid": activities["Lunch"], "RejectPendingReservations": "true"},
    )
    assert updated.status_code == 200
    assert updated.json()["activity_name"] == "Lunch"
    history = reservations(tr, task)
    assert [(r["worker_sid"], r["reservation_status"]) for r in history] == [
        (leaving["sid"], "rejected"),
        (colleague["sid"], "pending"),
    ]


def test_going_to_lunch_without_rejecting_keeps_the_reservation_pending(tr, activities):
    # The supervisor's lunch case: the reservation waits for an agent who is not there.
    agent = hire(tr, "Hungry", activities["Available"])
    task = new_task(tr)
    tr.post(agent["url"], {"ActivitySid": activities["Lunch"]})
    assert reservations(tr, task)[0]["reservation_status"] == "pending"
    assert worker(tr, agent)["available"] is False


def test_reject_pending_reservations_is_refused_with_an_available_activity(tr, activities):
    agent = hire(tr, "Agent", activities["Offline"])
    response = tr.post(
        agent["url"],
        {"ActivitySid": activities["Available"], "RejectPendingReservations": "true"},
    )
    assert response.status_code == 400
    assert "RejectPendingReservations" in response.json()["message"]
    assert worker(tr, agent)["activity_name"] == "Offline"


def test_canceling_or_deleting_a_reserved_task_frees_its_worker_for_the_next(tr, activities):
    agent = hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    waiting = new_task(tr)
    canceled = tr.post(task["url"], {"AssignmentStatus": "canceled", "Reason": "hung up"})
    assert canceled.json()["assignment_status"] == "canceled"
    assert reservations(tr, task)[0]["reservation_status"] == "canceled"
    assert reservations(tr, waiting)[0]["worker_sid"] == agent["sid"]
    third = new_task(tr)
    assert tr.delete(waiting["url"]).status_code == 204
    assert reservations(tr, third)[0]["worker_sid"] == agent["sid"]
    # The deleted task's reservations went with it.
    assert (
        tr.get(f"/Workspaces/{TRAINING}/Workers/{agent['sid']}/Reservations").json()[
            "reservations"
        ][-1]["task_sid"]
        == third["sid"]
    )


def test_a_pending_task_whose_attributes_change_is_offered_in_its_new_queue(tr, store, activities):
    spanish = add_queue(store, TRAINING, "Spanish", 'languages HAS "es"')
    everyone = _sample_queue(tr)
    workflow = add_workflow(
        store,
        TRAINING,
        "Languages",
        {
            "task_routing": {
                "filters": [
                    {"expression": 'language == "es"', "targets": [{"queue": spanish}]},
                ],
                "default_filter": {"queue": everyone},
            }
        },
    )
    speaker = hire(tr, "Hablante", activities["Available"], languages=["es"])
    tr.post(f"{speaker['url']}/Channels/voice", {"Available": "false"})
    task = new_task(tr, workflow, language="en")
    assert task["assignment_status"] == "pending"
    tr.post(f"{speaker['url']}/Channels/voice", {"Capacity": "1", "Available": "true"})
    assert reservations(tr, task)[0]["worker_sid"] == speaker["sid"]  # in Sample Queue too
    answer(tr, reservations(tr, task)[0], "rejected")
    # Now Spanish: the workflow sends it to the Spanish queue, where the speaker is too,
    # but the speaker rejected it once: it waits there.
    moved = tr.post(task["url"], {"Attributes": json.dumps({"language": "es"})}).json()
    assert moved["task_queue_sid"] == spanish
    assert moved["assignment_status"] == "pending"


def test_a_task_routed_to_a_worker_goes_to_that_worker_only(tr, clock, activities):
    idle = hire(tr, "Idle longest", activities["Available"])
    clock.advance(1)
    chosen = hire(tr, "Chosen", activities["Available"])
    task = tr.post(f"{WS}/Tasks", {"RoutingTarget": chosen["sid"], "TaskChannel": "voice"}).json()
    assert reservations(tr, task)[0]["worker_sid"] == chosen["sid"]
    assert idle["sid"] not in {r["worker_sid"] for r in reservations(tr, task)}


@pytest.mark.parametrize(
    ("steps", "refused", "words"),
    [
        (["accepted"], "accepted", "because it is accepted"),
        ([], "wrapping", "because it is pending"),
        ([], "completed", "because it is pending"),
        ([], "timeout", "TaskRouter sets that status itself"),
        (["rejected"], "accepted", "because it is rejected"),
    ],
)
def test_reservation_updates_taskrouter_would_refuse_are_400s(
    tr, activities, steps, refused, words
):
    hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    offer = reservations(tr, task)[0]
    for step in steps:
        answer(tr, offer, step)
    response = tr.post(offer["url"], {"ReservationStatus": refused})
    assert response.status_code == 400
    assert response.json()["code"] == 20001
    assert words in response.json()["message"]


def test_reservations_carry_etags_honour_if_match_and_live_under_their_task_and_worker(
    tr, activities
):
    agent = hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    offer = reservations(tr, task)[0]
    fetched = tr.get(offer["url"])
    assert fetched.headers["ETag"] == "0"
    stale = tr.post(offer["url"], {"ReservationStatus": "accepted"}, headers={"If-Match": "7"})
    assert stale.status_code == 412
    assert stale.json()["code"] == 20412
    by_worker = f"/Workspaces/{TRAINING}/Workers/{agent['sid']}/Reservations/{offer['sid']}"
    accepted = tr.post(by_worker, {"ReservationStatus": "accepted"}, headers={"If-Match": "0"})
    assert accepted.status_code == 200
    assert accepted.headers["ETag"] == "1"
    assert accepted.json()["url"].endswith(by_worker)
    other = hire(tr, "Other", activities["Offline"])
    wrong = f"/Workspaces/{TRAINING}/Workers/{other['sid']}/Reservations/{offer['sid']}"
    assert tr.get(wrong).status_code == 404


def test_an_instruction_accepts_like_the_status_does(tr, activities):
    hire(tr, "Agent", activities["Available"])
    task = new_task(tr)
    offer = reservations(tr, task)[0]
    call_only = tr.post(offer["url"], {"Instruction": "call", "CallUrl": "https://example.com"})
    assert call_only.json()["reservation_status"] == "pending"  # no CallAccept
    conference = tr.post(offer["url"], {"Instruction": "conference", "To": "client:agent"})
    assert conference.json()["reservation_status"] == "accepted"
    assert status(tr, task) == "assigned"
    contradiction = tr.post(
        offer["url"], {"Instruction": "reject", "ReservationStatus": "completed"}
    )
    assert contradiction.status_code == 400
