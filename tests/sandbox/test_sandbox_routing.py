"""Workflow routing: queues and target priorities on create, re-routing on attribute changes."""

from __future__ import annotations

import json

import pytest

from tasks_app.taskrouter import routing
from tasks_app.taskrouter.errors import InvalidParameter
from tests.sandbox.helpers import SALES, SUPPORT, set_status

SUPPORT_TASKS = f"/Workspaces/{SUPPORT}/Tasks"
SALES_TASKS = f"/Workspaces/{SALES}/Tasks"

CONFIGURATION = json.dumps(
    {
        "task_routing": {
            "filters": [
                {
                    "filter_friendly_name": "VIP",
                    "expression": "vip == true",
                    "targets": [{"queue": "WQ" + "1" * 32, "priority": 100, "timeout": 60}],
                },
                {
                    "filter_friendly_name": "Spanish",
                    "expression": 'language == "es"',
                    "targets": [{"queue": "WQ" + "2" * 32, "expression": "worker.es == true"}],
                },
            ],
            "default_filter": {"queue": "WQ" + "3" * 32},
        }
    }
)


def test_route_takes_the_first_matching_filter_top_to_bottom():
    decision = routing.route(CONFIGURATION, {"vip": True, "language": "es"})
    assert decision.task_queue_sid == "WQ" + "1" * 32
    assert decision.priority == 100
    assert decision.filter_friendly_name == "VIP"


def test_route_without_a_target_priority_leaves_the_priority_alone():
    decision = routing.route(CONFIGURATION, {"language": "es"})
    assert decision.task_queue_sid == "WQ" + "2" * 32
    assert decision.priority is None


def test_route_falls_back_to_the_default_filter():
    assert routing.route(CONFIGURATION, {"language": "de"}).task_queue_sid == "WQ" + "3" * 32
    assert routing.route(CONFIGURATION, {}).task_queue_sid == "WQ" + "3" * 32


def test_a_configuration_with_a_bad_expression_is_refused_when_parsed():
    bad = json.dumps({"task_routing": {"filters": [{"expression": "vip ==", "targets": []}]}})
    with pytest.raises(InvalidParameter):
        routing.parse_configuration(bad)
    assert routing.route(bad, {}).task_queue_sid is None


def _support_workflow(api, name="Support Routing"):
    workflows = api.get(f"/Workspaces/{SUPPORT}/Workflows").json()["workflows"]
    return next(w["sid"] for w in workflows if w["friendly_name"] == name)


@pytest.mark.parametrize(
    ("attributes", "queue", "priority"),
    [
        ({"vip": True, "language": "es"}, "VIP Care", 100),
        ({"language": "es"}, "Spanish Support", 0),
        ({"language": "fr", "channel": "chat"}, "French Support", 0),
        ({"channel": "sms"}, "Messaging", 0),
        ({"skills": ["billing", "refunds"]}, "Billing", 10),
        ({"skills": ["technical"]}, "Technical Support", 0),
        ({"language": "en", "channel": "voice"}, "General Support", 0),
    ],
)
def test_a_new_task_is_routed_through_its_workflow(api, attributes, queue, priority):
    task = api.post(
        SUPPORT_TASKS,
        {"WorkflowSid": _support_workflow(api), "Attributes": json.dumps(attributes)},
    ).json()
    assert task["task_queue_friendly_name"] == queue
    assert task["priority"] == priority
    assert task["task_queue_entered_date"] == task["date_created"]


def test_a_target_priority_wins_over_the_requested_priority_on_create(api):
    task = api.post(
        SUPPORT_TASKS,
        {
            "WorkflowSid": _support_workflow(api),
            "Attributes": json.dumps({"vip": True}),
            "Priority": "3",
        },
    ).json()
    assert task["priority"] == 100


def test_the_requested_priority_stands_when_the_target_sets_none(api):
    task = api.post(
        SUPPORT_TASKS,
        {"WorkflowSid": _support_workflow(api), "Attributes": "{}", "Priority": "3"},
    ).json()
    assert task["priority"] == 3


def test_changing_a_pending_tasks_attributes_routes_it_again(api):
    task = api.post(
        SUPPORT_TASKS,
        {"WorkflowSid": _support_workflow(api), "Attributes": json.dumps({"language": "en"})},
    ).json()
    assert task["task_queue_friendly_name"] == "General Support"
    moved = api.post(task["url"], {"Attributes": json.dumps({"language": "fr"})}).json()
    assert moved["task_queue_friendly_name"] == "French Support"
    assert moved["date_created"] == task["date_created"]
    assert moved["age"] >= task["age"]
    vip = api.post(task["url"], {"Attributes": json.dumps({"vip": True})}).json()
    assert vip["task_queue_friendly_name"] == "VIP Care"
    assert vip["priority"] == 100


def test_an_assigned_tasks_attributes_change_without_rerouting(api, store):
    task = api.post(
        SUPPORT_TASKS,
        {"WorkflowSid": _support_workflow(api), "Attributes": json.dumps({"language": "en"})},
    ).json()
    set_status(store, task["sid"], "assigned")
    after = api.post(task["url"], {"Attributes": json.dumps({"language": "es"})}).json()
    assert after["task_queue_friendly_name"] == "General Support"


def test_a_target_priority_wins_over_a_priority_update(api):
    task = api.post(
        SUPPORT_TASKS,
        {"WorkflowSid": _support_workflow(api), "Attributes": json.dumps({"vip": True})},
    ).json()
    response = api.post(task["url"], {"Priority": "5"})
    assert response.status_code == 200
    assert response.json()["priority"] == 100
    assert response.headers["ETag"] == "1"


def test_sales_routes_enterprise_accounts_with_priority_50(api):
    attributes = {"customer": {"tier": "enterprise"}, "type": "renewal"}
    task = api.post(SALES_TASKS, {"Attributes": json.dumps(attributes)}).json()
    assert task["task_queue_friendly_name"] == "Enterprise Sales"
    assert task["priority"] == 50


def test_seeded_tasks_sit_in_the_queue_their_workflow_gives_them(api, store):
    with store.read() as conn:
        rows = conn.execute(
            "SELECT t.attributes, t.task_queue_sid, t.routing_filter, t.routing_step, "
            "w.configuration FROM tasks t JOIN workflows w ON w.sid = t.workflow_sid"
        ).fetchall()
    moved = 0
    for row in rows:
        parsed = routing.parse_configuration(row["configuration"])
        attributes = json.loads(row["attributes"])
        entry = routing.entry_position(parsed, attributes)
        assert row["routing_filter"] == entry.filter_index
        position = routing.Position(row["routing_filter"], row["routing_step"])
        assert routing.target_at(parsed, position).queue == row["task_queue_sid"]
        moved += position != entry
        if position == entry:
            assert (
                routing.route(row["configuration"], attributes).task_queue_sid
                == (row["task_queue_sid"])
            )
    # After Hours' top tiers wait five minutes for VIP Care, then go to any senior agent.
    assert moved > 0
