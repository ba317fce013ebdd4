"""Twilio's own Python SDK against the sandbox: the workforce, reservations and the
statistics Taskdeck reads, as a Twilio customer's code would use them."""

from __future__ import annotations

import json

import pytest
from twilio.rest import Client

from tests.sandbox.helpers import AUTH, SUPPORT, TRAINING


@pytest.fixture
def twilio(server) -> Client:
    client = Client(*AUTH)
    client.taskrouter.base_url = server.url  # instead of https://taskrouter.twilio.com
    return client


class QueueSids:
    """The body the SDK's bulk statistics create() sends (it calls ``to_dict``)."""

    def __init__(self, sids: list[str]) -> None:
        self.sids = sids

    def to_dict(self) -> dict:
        return {"QueueSids": self.sids}


def test_the_sdk_runs_a_worker_through_a_task(twilio):
    workspace = twilio.taskrouter.v1.workspaces(TRAINING)
    activities = {a.friendly_name: a.sid for a in workspace.activities.list()}
    worker = workspace.workers.create(
        friendly_name="Sdk Agent",
        attributes=json.dumps({"skills": ["sdk"], "level": 3}),
        activity_sid=activities["Offline"],
    )
    assert worker.activity_name == "Offline"
    assert worker.available is False
    channels = workspace.workers(worker.sid).worker_channels.list()
    assert {c.task_channel_unique_name for c in channels} >= {"voice", "chat"}
    workspace.workers(worker.sid).worker_channels("chat").update(capacity=2)
    task = workspace.tasks.create(attributes=json.dumps({"topic": "sdk"}), task_channel="chat")
    assert task.assignment_status == "pending"
    worker = workspace.workers(worker.sid).update(activity_sid=activities["Available"])
    assert worker.available is True
    [reservation] = workspace.tasks(task.sid).reservations.list()
    assert reservation.worker_sid == worker.sid
    assert reservation.reservation_status == "pending"
    accepted = (
        workspace.tasks(task.sid)
        .reservations(reservation.sid)
        .update(reservation_status="accepted")
    )
    assert accepted.reservation_status == "accepted"
    assert workspace.tasks(task.sid).fetch().assignment_status == "assigned"
    mine = workspace.workers(worker.sid).reservations.list(reservation_status="accepted")
    assert [r.sid for r in mine] == [reservation.sid]
    workspace.workers(worker.sid).reservations(reservation.sid).update(
        reservation_status="completed"
    )
    assert workspace.tasks(task.sid).fetch().assignment_status == "completed"
    on_break = workspace.workers.list(activity_name="Available", available="true")
    assert [w.sid for w in on_break] == [worker.sid]


def test_the_sdk_reads_statistics_with_split_by_wait_time(twilio):
    workspace = twilio.taskrouter.v1.workspaces(SUPPORT)
    queues = workspace.task_queues.list()
    queue = workspace.task_queues(queues[0].sid)
    cumulative = queue.cumulative_statistics().fetch(split_by_wait_time="30,60", minutes=60)
    assert set(cumulative.split_by_wait_time) == {"30", "60"}
    assert set(cumulative.split_by_wait_time["30"]) == {"above", "below"}
    assert cumulative.tasks_entered >= 0
    realtime = queue.real_time_statistics().fetch()
    assert realtime.total_eligible_workers >= realtime.total_available_workers >= 0
    both = queue.statistics().fetch(split_by_wait_time="30", task_channel="voice")
    assert both.realtime["total_eligible_workers"] == realtime.total_eligible_workers
    every = workspace.task_queues.statistics.list(split_by_wait_time="30")
    assert [s.task_queue_sid for s in every] == [q.sid for q in queues]
    bulk = workspace.task_queues.bulk_real_time_statistics.create(
        QueueSids([q.sid for q in queues])
    )
    assert bulk.task_queue_response_count == len(queues)
    totals = workspace.cumulative_statistics().fetch(split_by_wait_time="30")
    assert totals.tasks_created > 0  # the seeded history of the last 15 minutes
    assert workspace.real_time_statistics().fetch().total_workers > 0
    assert workspace.statistics().fetch().realtime["total_workers"] > 0
    workflow = workspace.workflows.list()[0]
    flow = workspace.workflows(workflow.sid)
    assert flow.cumulative_statistics().fetch(split_by_wait_time="30").split_by_wait_time
    assert flow.real_time_statistics().fetch().total_tasks > 0
    assert flow.statistics().fetch().realtime["total_tasks"] > 0


def test_the_sdk_reads_worker_statistics(twilio):
    workspace = twilio.taskrouter.v1.workspaces(SUPPORT)
    workers = workspace.workers.statistics().fetch(minutes=60)
    assert workers.realtime["total_workers"] == len(workspace.workers.list())
    assert {a["friendly_name"] for a in workers.cumulative["activity_durations"]} >= {
        "Available",
        "Offline",
    }
    assert workspace.workers.real_time_statistics().fetch().total_workers > 0
    cumulative = workspace.workers.cumulative_statistics().fetch()
    assert cumulative.reservations_created >= cumulative.reservations_accepted
    one = workspace.workers.list(limit=1)[0]
    own = workspace.workers(one.sid).statistics().fetch()
    assert own.worker_sid == one.sid
    assert "reservations_created" in own.cumulative
