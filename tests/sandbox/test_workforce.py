"""Workers, Activities and Worker Channels over the API: what TaskRouter's spec allows,
every filter, versions and refusals, and a seeded workforce that holds the seeded tasks."""

from __future__ import annotations

import json

import pytest

from tasks_app.sandbox import roster
from tests.sandbox.helpers import SUPPORT, TRAINING, activity_sids

WORKERS = f"/Workspaces/{SUPPORT}/Workers"
TRAINEES = f"/Workspaces/{TRAINING}/Workers"


def names(body: dict) -> list[str]:
    return [w["friendly_name"] for w in body["workers"]]


def test_a_new_worker_starts_in_the_default_activity_with_a_channel_per_task_channel(api):
    response = api.post(TRAINEES, {"FriendlyName": "Ada Lovelace"})
    assert response.status_code == 201
    assert response.headers["ETag"] == "0"
    worker = response.json()
    assert worker["activity_name"] == "Offline"  # the workspace's default activity
    assert worker["available"] is False
    assert worker["attributes"] == "{}"
    assert worker["date_status_changed"] == worker["date_created"]
    channels = api.get(worker["links"]["channels"]).json()["channels"]
    assert [c["task_channel_unique_name"] for c in channels] == [
        "default",
        "voice",
        "chat",
        "sms",
        "video",
    ]
    assert {(c["configured_capacity"], c["available"]) for c in channels} == {(1, True)}


@pytest.mark.parametrize(
    ("form", "param_words"),
    [
        ({}, "FriendlyName is required"),
        ({"FriendlyName": "x" * 65}, "at most 64"),
        ({"FriendlyName": "Ok", "Attributes": "[1]"}, "JSON object"),
        ({"FriendlyName": "Ok", "Attributes": "{nope"}, "not valid JSON"),
        ({"FriendlyName": "Ok", "ActivitySid": "WA" + "0" * 32}, "is not an Activity"),
        ({"FriendlyName": "Ok", "ActivitySid": "busy"}, "Activity SID"),
    ],
)
def test_creating_a_worker_taskrouter_would_refuse_is_a_400_naming_the_problem(
    api, form, param_words
):
    response = api.post(TRAINEES, form)
    assert response.status_code == 400
    assert response.json()["code"] == 20001
    assert param_words in response.json()["message"]


def test_worker_names_are_unique_in_a_workspace_ignoring_case(api):
    assert api.post(TRAINEES, {"FriendlyName": "Grace Hopper"}).status_code == 201
    again = api.post(TRAINEES, {"FriendlyName": "grace hopper"})
    assert again.status_code == 400
    assert "already exists" in again.json()["message"]
    # Another workspace may have one of that name.
    assert api.post(WORKERS, {"FriendlyName": "Grace Hopper"}).status_code == 201


def test_updating_a_worker_honours_if_match_and_moves_its_version(api):
    worker = api.post(TRAINEES, {"FriendlyName": "Versioned"}).json()
    activities = activity_sids(api, TRAINING)
    stale = api.post(worker["url"], {"ActivitySid": activities["Break"]}, headers={"If-Match": "5"})
    assert stale.status_code == 412
    assert stale.json()["code"] == 20412
    moved = api.post(
        worker["url"],
        {"ActivitySid": activities["Break"], "Attributes": json.dumps({"skills": ["x"]})},
        headers={"If-Match": "0"},
    )
    assert moved.status_code == 200
    assert moved.headers["ETag"] == "1"
    assert moved.json()["activity_name"] == "Break"
    assert moved.json()["attributes"] == '{"skills": ["x"]}'
    assert api.get(worker["url"]).headers["ETag"] == "1"


def test_deleting_a_worker_is_refused_while_it_holds_assigned_tasks(api, store):
    with store.read() as conn:
        holder = conn.execute(
            "SELECT worker_sid FROM reservations WHERE workspace_sid = ? "
            "AND reservation_status = 'accepted' LIMIT 1",
            (SUPPORT,),
        ).fetchone()[0]
    refused = api.delete(f"{WORKERS}/{holder}")
    assert refused.status_code == 400
    assert "assigned tasks" in refused.json()["message"]
    spare = api.post(TRAINEES, {"FriendlyName": "Temp"}).json()
    assert api.delete(spare["url"], headers={"If-Match": "3"}).status_code == 412
    assert api.delete(spare["url"]).status_code == 204
    assert api.get(spare["url"]).status_code == 404


def test_workers_filter_by_activity_availability_name_and_queue(api, store):
    activities = activity_sids(api, SUPPORT)
    every = api.get(WORKERS, {"PageSize": 1000}).json()["workers"]
    by_name = {w["friendly_name"]: w for w in every}
    on_break = api.get(WORKERS, {"ActivityName": "Break", "PageSize": 1000}).json()
    assert set(names(on_break)) == {
        w["friendly_name"] for w in every if w["activity_name"] == "Break"
    }
    same = api.get(WORKERS, {"ActivitySid": activities["Break"], "PageSize": 1000}).json()
    assert names(same) == names(on_break)
    available = api.get(WORKERS, {"Available": "yes", "PageSize": 1000}).json()
    assert {w["available"] for w in available["workers"]} == {True}
    unavailable = api.get(WORKERS, {"Available": "nope", "PageSize": 1000}).json()
    assert len(available["workers"]) + len(unavailable["workers"]) == len(every)
    someone = every[7]["friendly_name"]
    assert names(api.get(WORKERS, {"FriendlyName": someone.upper()}).json()) == [someone]
    spanish = api.get(WORKERS, {"TaskQueueName": "Spanish Support", "PageSize": 1000}).json()
    assert spanish["workers"]
    for worker in spanish["workers"]:
        assert "es" in json.loads(by_name[worker["friendly_name"]]["attributes"])["languages"]
    queues = api.get(f"/Workspaces/{SUPPORT}/TaskQueues").json()["task_queues"]
    spanish_sid = next(q["sid"] for q in queues if q["friendly_name"] == "Spanish Support")
    by_sid = api.get(WORKERS, {"TaskQueueSid": spanish_sid, "PageSize": 1000}).json()
    assert names(by_sid) == names(spanish)
    assert api.get(WORKERS, {"TaskQueueName": "Nowhere"}).json()["workers"] == []


def test_target_workers_expression_reads_attributes_and_worker_fields(api):
    expression = 'languages HAS "fr" AND level >= 4 AND activity_name == "Available"'
    body = api.get(WORKERS, {"TargetWorkersExpression": expression, "PageSize": 1000})
    assert body.headers["X-Rate-Limit-Config"] == "Worker-List-TargetWorkersExpression"
    found = body.json()["workers"]
    assert found
    for worker in found:
        attributes = json.loads(worker["attributes"])
        assert "fr" in attributes["languages"] and attributes["level"] >= 4
        assert worker["activity_name"] == "Available"
    bad = api.get(WORKERS, {"TargetWorkersExpression": "level >="})
    assert bad.status_code == 400


def test_workers_page_by_token_both_ways_in_either_order(api):
    every = names(api.get(WORKERS, {"PageSize": 1000, "Ordering": "DateStatusChanged:desc"}).json())
    first = api.get(WORKERS, {"PageSize": 7, "Ordering": "DateStatusChanged:desc"}).json()
    second = api.get(first["meta"]["next_page_url"]).json()
    assert names(first) + names(second) == every[:14]
    assert "Ordering=DateStatusChanged%3Adesc" in first["meta"]["next_page_url"]
    assert names(api.get(second["meta"]["previous_page_url"]).json()) == names(first)
    assert first["meta"]["previous_page_url"] is None
    assert api.get(WORKERS, {"Ordering": "Salary:desc"}).status_code == 400
    assert api.get(WORKERS, {"PageToken": "PAWK" + "0" * 32}).status_code == 400


def test_activities_list_filter_create_rename_and_refuse_deletion_in_use(api):
    activities = f"/Workspaces/{TRAINING}/Activities"
    body = api.get(activities, {"Available": "true"}).json()
    assert [a["friendly_name"] for a in body["activities"]] == ["Available"]
    created = api.post(activities, {"FriendlyName": "Coaching", "Available": "1"})
    assert created.status_code == 201
    coaching = created.json()
    assert coaching["available"] is True
    renamed = api.post(coaching["url"], {"FriendlyName": "Coaching session", "Available": "no"})
    assert renamed.json()["friendly_name"] == "Coaching session"
    assert renamed.json()["available"] is True  # Available cannot change once created
    duplicate = api.post(activities, {"FriendlyName": "coaching SESSION"})
    assert duplicate.status_code == 400
    offline = api.get(activities, {"FriendlyName": "offline"}).json()["activities"][0]
    refused = api.delete(offline["url"])
    assert refused.status_code == 400
    assert "workers are in it" in refused.json()["message"]
    assert api.delete(coaching["url"]).status_code == 204
    assert api.get(coaching["url"]).status_code == 404


def test_a_worker_channel_is_reached_by_its_sid_its_task_channel_or_its_name(api):
    worker = api.post(TRAINEES, {"FriendlyName": "Channels"}).json()
    channels = api.get(worker["links"]["channels"]).json()["channels"]
    chat = next(c for c in channels if c["task_channel_unique_name"] == "chat")
    base = worker["links"]["channels"]
    for reference in (chat["sid"], chat["task_channel_sid"], "chat"):
        assert api.get(f"{base}/{reference}").json()["sid"] == chat["sid"]
    updated = api.post(f"{base}/chat", {"Capacity": "3", "Available": "false"}).json()
    assert (updated["configured_capacity"], updated["available"]) == (3, False)
    assert api.post(f"{base}/chat", {"Capacity": "-1"}).status_code == 400
    assert api.post(f"{base}/chat", {"Available": "maybe"}).status_code == 400
    assert api.get(f"{base}/pigeon").status_code == 404


def test_the_seeded_workforce_holds_every_seeded_task_it_should(api, store):
    with store.read() as conn:
        reserved = conn.execute(
            "SELECT t.sid, t.task_queue_sid, r.worker_sid FROM tasks t JOIN reservations r "
            "ON r.task_sid = t.sid AND r.reservation_status = 'pending' "
            "WHERE t.assignment_status = 'reserved'"
        ).fetchall()
        reserved_count = conn.execute(
            "SELECT COUNT(*) FROM tasks WHERE assignment_status = 'reserved'"
        ).fetchone()[0]
        assigned = conn.execute(
            "SELECT COUNT(*) FROM tasks t WHERE assignment_status IN ('assigned', 'wrapping') "
            "AND NOT EXISTS (SELECT 1 FROM reservations r WHERE r.task_sid = t.sid "
            "AND r.reservation_status IN ('accepted', 'wrapping'))"
        ).fetchone()[0]
        free = conn.execute(
            "SELECT COUNT(*) FROM worker_channels WHERE available = 1 AND worker_available = 1 "
            "AND held < configured_capacity"
        ).fetchone()[0]
    assert len(reserved) == reserved_count > 0
    assert assigned == 0
    assert free == 0  # a busy centre: nobody signed in has room, new tasks wait
    # A reserved task is held by one of its queue's workers.
    _, queue_sid, worker_sid = reserved[0]
    members = api.get(WORKERS, {"TaskQueueSid": queue_sid, "PageSize": 1000}).json()
    assert worker_sid in {w["sid"] for w in members["workers"]}
    # Agents' capacities follow the channels their skills name.
    worker = api.get(f"{WORKERS}/{worker_sid}").json()
    taken = roster.standard_capacities(json.loads(worker["attributes"]))
    channels = api.get(worker["links"]["channels"]).json()["channels"]
    assert {c["task_channel_unique_name"]: c["configured_capacity"] for c in channels} == taken
