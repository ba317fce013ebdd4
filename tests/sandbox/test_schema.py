"""Every sandbox answer validates against Twilio's own OpenAPI schemas.

``twilio_taskrouter_v1.json`` beside this file is Twilio's spec (twilio/twilio-oai, MIT: see
``LICENSE.twilio-oai``), copied from its ``spec/json``. Item schemas are referenced with
``$ref``; the list envelopes are inline in each list path's 200 response. Beyond the schema
(whose objects allow extra keys), each item must carry exactly the schema's properties.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests.sandbox.helpers import SALES, SUPPORT, TRAINING

SPEC_PATH = Path(__file__).with_name("twilio_taskrouter_v1.json")
ITEM_SCHEMAS = {
    "workspaces": "taskrouter.v1.workspace",
    "workflows": "taskrouter.v1.workspace.workflow",
    "task_queues": "taskrouter.v1.workspace.task_queue",
    "channels": "taskrouter.v1.workspace.task_channel",
    "tasks": "taskrouter.v1.workspace.task",
    "workers": "taskrouter.v1.workspace.worker",
    "events": "taskrouter.v1.workspace.event",
}


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def _resolve(node: Any) -> Any:
    """Inline every local ``$ref`` (the TaskRouter schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = _spec()
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target)
        return {key: _resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value) for value in node]
    return node


def _response_schema(path: str, method: str) -> dict[str, Any]:
    responses = _spec()["paths"][path][method]["responses"]
    status = next(iter(responses))
    return _resolve(responses[status]["content"]["application/json"]["schema"])


def _item_schema(name: str) -> dict[str, Any]:
    return _resolve(_spec()["components"]["schemas"][name])


def _check_urls(value: Any) -> None:
    """The spec's ``uri`` format (the validator has no checker for it): absolute URLs."""
    parts = urlsplit(value)
    assert parts.scheme in ("http", "https"), value
    assert parts.netloc, value


def _validate(body: Any, schema: dict[str, Any]) -> None:
    OAS30Validator(schema, format_checker=oas30_format_checker).validate(body)


def check_item(item: dict[str, Any], schema_name: str) -> None:
    schema = _item_schema(schema_name)
    _validate(item, schema)
    assert set(item) == set(schema["properties"]), schema_name
    _check_urls(item["url"])
    for link in (item.get("links") or {}).values():
        _check_urls(link)
    for name in ("actor_url", "resource_url"):
        if item.get(name) is not None:
            _check_urls(item[name])


def check_list(body: dict[str, Any], path: str, item_schema: str | None = None) -> None:
    _validate(body, _response_schema(path, "get"))
    key = body["meta"]["key"]
    assert set(body) == {key, "meta"}
    assert set(body["meta"]) == set(
        _response_schema(path, "get")["properties"]["meta"]["properties"]
    )
    for name in ("first_page_url", "url", "next_page_url", "previous_page_url"):
        if body["meta"][name] is not None:
            _check_urls(body["meta"][name])
    for item in body[key]:
        check_item(item, item_schema or ITEM_SCHEMAS[key])


def test_the_spec_copy_is_twilios():
    spec = _spec()
    assert spec["info"]["title"] == "Twilio - Taskrouter"
    assert (SPEC_PATH.parent / "LICENSE.twilio-oai").read_text().startswith("MIT License")


@pytest.mark.parametrize("workspace", [SUPPORT, SALES])
def test_every_read_operation_matches_the_spec(api, workspace):
    body = api.get("/Workspaces", {"PageSize": 2}).json()
    check_list(body, "/v1/Workspaces")
    check_list(api.get(body["meta"]["next_page_url"]).json(), "/v1/Workspaces")
    check_item(api.get(f"/Workspaces/{workspace}").json(), "taskrouter.v1.workspace")

    for collection, key in (
        ("Workflows", "workflows"),
        ("TaskQueues", "task_queues"),
        ("TaskChannels", "channels"),
    ):
        path = f"/v1/Workspaces/{{WorkspaceSid}}/{collection}"
        body = api.get(f"/Workspaces/{workspace}/{collection}", {"PageSize": 1}).json()
        check_list(body, path)
        if body["meta"]["next_page_url"]:  # Sales has a single workflow
            check_list(api.get(body["meta"]["next_page_url"]).json(), path)
        item = body[key][0]
        fetched = api.get(f"/Workspaces/{workspace}/{collection}/{item['sid']}").json()
        check_item(fetched, ITEM_SCHEMAS[key])

    tasks_path = "/v1/Workspaces/{WorkspaceSid}/Tasks"
    body = api.get(
        f"/Workspaces/{workspace}/Tasks", {"PageSize": 40, "Ordering": "Priority:desc"}
    ).json()
    check_list(body, tasks_path)
    second = api.get(body["meta"]["next_page_url"]).json()
    check_list(second, tasks_path)
    check_list(api.get(second["meta"]["previous_page_url"]).json(), tasks_path)
    check_list(api.get(f"/Workspaces/{workspace}/Tasks", {"HasAddons": "true"}).json(), tasks_path)
    for task in body["tasks"][:10]:
        check_item(api.get(task["url"]).json(), "taskrouter.v1.workspace.task")


def test_every_task_write_matches_the_spec(api):
    tasks = f"/Workspaces/{SALES}/Tasks"
    created = api.post(
        tasks,
        {
            "Attributes": json.dumps({"type": "renewal", "customer": {"tier": "enterprise"}}),
            "Priority": "5",
            "Timeout": "600",
            "TaskChannel": "chat",
            "RoutingTarget": "WK" + "a" * 32,
        },
    )
    assert created.status_code == 201
    check_item(created.json(), "taskrouter.v1.workspace.task")
    url = created.json()["url"]
    check_item(api.get(url).json(), "taskrouter.v1.workspace.task")
    updated = api.post(url, {"Attributes": json.dumps({"language": "de"}), "Priority": "7"})
    check_item(updated.json(), "taskrouter.v1.workspace.task")
    canceled = api.post(url, {"AssignmentStatus": "canceled", "Reason": "schema walk"})
    check_item(canceled.json(), "taskrouter.v1.workspace.task")
    bare = api.post(tasks, {}).json()
    check_item(bare, "taskrouter.v1.workspace.task")
    deleted = api.delete(url, headers={"If-Match": canceled.headers["ETag"]})
    assert deleted.status_code == 204
    assert deleted.content == b""


def test_empty_lists_match_the_spec(api):
    body = api.get("/Workspaces", {"FriendlyName": "Nobody"}).json()
    check_list(body, "/v1/Workspaces")
    body = api.get(f"/Workspaces/{SUPPORT}/Tasks", {"TaskQueueName": "Nowhere"}).json()
    check_list(body, "/v1/Workspaces/{WorkspaceSid}/Tasks")
    assert body["tasks"] == []


WORKSPACE_PATH = "/v1/Workspaces/{WorkspaceSid}"
WORKER_SCHEMA = "taskrouter.v1.workspace.worker"
TASK_RESERVATION = "taskrouter.v1.workspace.task.task_reservation"
WORKER_RESERVATION = "taskrouter.v1.workspace.worker.worker_reservation"
WORKER_CHANNEL = "taskrouter.v1.workspace.worker.worker_channel"


def test_every_workforce_answer_matches_the_spec(api, store):
    workers = api.get(f"/Workspaces/{SUPPORT}/Workers", {"PageSize": 5}).json()
    check_list(workers, f"{WORKSPACE_PATH}/Workers")
    check_list(api.get(workers["meta"]["next_page_url"]).json(), f"{WORKSPACE_PATH}/Workers")
    worker = workers["workers"][0]
    check_item(api.get(worker["url"]).json(), WORKER_SCHEMA)
    channels = api.get(worker["links"]["channels"]).json()
    check_list(channels, f"{WORKSPACE_PATH}/Workers/{{WorkerSid}}/Channels", WORKER_CHANNEL)
    check_item(api.get(channels["channels"][0]["url"]).json(), WORKER_CHANNEL)
    activities = api.get(f"/Workspaces/{SUPPORT}/Activities").json()
    check_list(activities, f"{WORKSPACE_PATH}/Activities", "taskrouter.v1.workspace.activity")
    available = next(a for a in activities["activities"] if a["friendly_name"] == "Available")
    check_item(api.get(available["url"]).json(), "taskrouter.v1.workspace.activity")

    with store.read() as conn:
        task_sid, worker_sid = conn.execute(
            "SELECT task_sid, worker_sid FROM reservations WHERE workspace_sid = ? "
            "AND reservation_status = 'pending' ORDER BY sid LIMIT 1",
            (SUPPORT,),
        ).fetchone()
    by_task = api.get(f"/Workspaces/{SUPPORT}/Tasks/{task_sid}/Reservations").json()
    check_list(by_task, f"{WORKSPACE_PATH}/Tasks/{{TaskSid}}/Reservations", TASK_RESERVATION)
    by_worker = api.get(f"/Workspaces/{SUPPORT}/Workers/{worker_sid}/Reservations").json()
    check_list(
        by_worker, f"{WORKSPACE_PATH}/Workers/{{WorkerSid}}/Reservations", WORKER_RESERVATION
    )
    reservation = by_task["reservations"][-1]
    check_item(api.get(reservation["url"]).json(), TASK_RESERVATION)
    accepted = api.post(reservation["url"], {"ReservationStatus": "accepted"})
    check_item(accepted.json(), TASK_RESERVATION)
    wrapped = api.post(
        f"/Workspaces/{SUPPORT}/Workers/{worker_sid}/Reservations/{reservation['sid']}",
        {"ReservationStatus": "wrapping"},
    )
    check_item(wrapped.json(), WORKER_RESERVATION)

    trainees = f"/Workspaces/{TRAINING}/Workers"
    created = api.post(trainees, {"FriendlyName": "Schema", "ActivitySid": available["sid"]})
    assert created.status_code == 400  # Support's activity is not Training's
    created = api.post(trainees, {"FriendlyName": "Schema"})
    check_item(created.json(), WORKER_SCHEMA)
    check_item(api.post(created.json()["url"], {"Attributes": "{}"}).json(), WORKER_SCHEMA)
    channel = api.post(f"{created.json()['url']}/Channels/chat", {"Capacity": "2"}).json()
    check_item(channel, WORKER_CHANNEL)
    activity = api.post(f"/Workspaces/{TRAINING}/Activities", {"FriendlyName": "Schema"})
    check_item(activity.json(), "taskrouter.v1.workspace.activity")
    assert api.delete(created.json()["url"]).content == b""


def _statistics_paths(api) -> list[tuple[str, str, str]]:
    """(spec path, URL, method) of every statistics operation, for Support."""
    ws = f"/Workspaces/{SUPPORT}"
    queue = api.get(f"{ws}/TaskQueues").json()["task_queues"][0]["sid"]
    workflow = api.get(f"{ws}/Workflows").json()["workflows"][0]["sid"]
    worker = api.get(f"{ws}/Workers").json()["workers"][0]["sid"]
    found = []
    for name in ("Statistics", "RealTimeStatistics", "CumulativeStatistics"):
        found.append((f"{WORKSPACE_PATH}/{name}", f"{ws}/{name}", "get"))
        found.append(
            (
                f"{WORKSPACE_PATH}/TaskQueues/{{TaskQueueSid}}/{name}",
                f"{ws}/TaskQueues/{queue}/{name}",
                "get",
            )
        )
        found.append(
            (
                f"{WORKSPACE_PATH}/Workflows/{{WorkflowSid}}/{name}",
                f"{ws}/Workflows/{workflow}/{name}",
                "get",
            )
        )
        found.append((f"{WORKSPACE_PATH}/Workers/{name}", f"{ws}/Workers/{name}", "get"))
    found.append(
        (
            f"{WORKSPACE_PATH}/Workers/{{WorkerSid}}/Statistics",
            f"{ws}/Workers/{worker}/Statistics",
            "get",
        )
    )
    return found


@pytest.mark.parametrize("params", [{}, {"SplitByWaitTime": "5,30", "TaskChannel": "voice"}])
def test_every_statistics_answer_matches_the_spec(api, params):
    for spec_path, url, method in _statistics_paths(api):
        response = api.get(url, params)
        assert response.status_code == 200, (url, response.text)
        schema = _response_schema(spec_path, method)
        _validate(response.json(), schema)
        assert set(response.json()) == set(schema["properties"]), url
        _check_urls(response.json()["url"])
    listed = api.get(f"/Workspaces/{SUPPORT}/TaskQueues/Statistics", params).json()
    _validate(listed, _response_schema(f"{WORKSPACE_PATH}/TaskQueues/Statistics", "get"))
    queues = [q["task_queue_sid"] for q in listed["task_queues_statistics"]]
    bulk = api.post(
        f"/Workspaces/{SUPPORT}/TaskQueues/RealTimeStatistics", json={"QueueSids": queues}
    )
    schema = _response_schema(f"{WORKSPACE_PATH}/TaskQueues/RealTimeStatistics", "post")
    _validate(bulk.json(), schema)
    assert set(bulk.json()) == set(schema["properties"])


def test_events_match_the_spec(api):
    path = "/v1/Workspaces/{WorkspaceSid}/Events"
    task = api.post(f"/Workspaces/{SALES}/Tasks", {"Attributes": '{"language": "de"}'}).json()
    api.post(task["url"], {"AssignmentStatus": "canceled", "Reason": "schema walk"})
    body = api.get(f"/Workspaces/{SALES}/Events", {"PageSize": 2, "Minutes": 600}).json()
    check_list(body, path)
    second = api.get(body["meta"]["next_page_url"]).json()
    check_list(second, path)
    check_list(api.get(second["meta"]["previous_page_url"]).json(), path)
    mine = api.get(f"/Workspaces/{SALES}/Events", {"TaskSid": task["sid"]}).json()
    check_list(mine, path)
    assert len(mine["events"]) == 5
    for event in [*body["events"], *mine["events"]]:
        check_item(api.get(event["url"]).json(), "taskrouter.v1.workspace.event")
    empty = api.get(f"/Workspaces/{SALES}/Events", {"EventType": "worker.activity.update"})
    check_list(empty.json(), path)
