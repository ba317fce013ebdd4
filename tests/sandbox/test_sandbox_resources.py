"""Authentication, the common headers, and the read-only resources (Workspaces and children)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.sandbox.helpers import AUTH, KEY_AUTH, SALES, SUPPORT, TRAINING, task_in_status


def test_account_sid_and_auth_token_are_accepted(api):
    response = api.get("/Workspaces", auth=AUTH)
    assert response.status_code == 200


def test_api_key_and_secret_are_accepted(api):
    response = api.get("/Workspaces", auth=KEY_AUTH)
    assert response.status_code == 200
    assert response.json()["workspaces"][0]["account_sid"] == AUTH[0]


@pytest.mark.parametrize(
    "auth",
    [None, (AUTH[0], "wrong-token"), (KEY_AUTH[0], AUTH[1]), ("ACdeadbeef", AUTH[1])],
    ids=["missing", "wrong-token", "key-with-account-token", "unknown-account"],
)
def test_wrong_or_missing_credentials_get_twilios_401(api, auth):
    api.session.auth = None
    response = api.get("/Workspaces", auth=auth)
    assert response.status_code == 401
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'


def test_authentication_comes_before_routing(api):
    api.session.auth = None
    assert api.get("/Workspaces/WSnot-a-sid/Tasks").status_code == 401


def test_a_cors_preflight_needs_no_credentials(api):
    api.session.auth = None
    response = api.session.options(api.url("/Workspaces"), timeout=5)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-Match" in response.headers["Access-Control-Allow-Headers"]


def test_every_answer_carries_twilios_headers(api):
    response = api.get(f"/Workspaces/{SUPPORT}/Tasks")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r"RQ[0-9a-f]{32}", response.headers["Twilio-Request-Id"])
    assert response.headers["X-Rate-Limit-Limit"] == "50"
    assert 0 <= int(response.headers["X-Rate-Limit-Remaining"]) <= 50
    assert response.headers["X-Rate-Limit-Config"] == "Task-List"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


def test_request_ids_differ_between_requests(api):
    first = api.get("/Workspaces").headers["Twilio-Request-Id"]
    assert api.get("/Workspaces").headers["Twilio-Request-Id"] != first


def test_workspaces_are_listed_with_twilios_envelope(api):
    body = api.get("/Workspaces").json()
    assert [w["friendly_name"] for w in body["workspaces"]] == [
        "Support",
        "Sales & Renewals",
        "Training",
        "EMEA/Tier 2",
    ]
    assert body["meta"]["key"] == "workspaces"
    assert body["meta"]["url"] == f"{api.base_url}/v1/Workspaces?PageSize=50&Page=0"
    assert body["meta"]["next_page_url"] is None
    assert body["meta"]["previous_page_url"] is None


def test_workspaces_filter_by_a_friendly_name_with_a_space_and_an_ampersand(api):
    body = api.get("/Workspaces", {"FriendlyName": "Sales & Renewals"}).json()
    assert [w["sid"] for w in body["workspaces"]] == [SALES]
    assert body["meta"]["url"] == (
        f"{api.base_url}/v1/Workspaces?FriendlyName=Sales%20%26%20Renewals&PageSize=50&Page=0"
    )
    assert (
        requests.get(body["meta"]["url"], auth=AUTH, timeout=5).json()["workspaces"][0]["sid"]
        == SALES
    )


def test_a_workspace_is_fetched_with_absolute_links(api):
    body = api.get(f"/Workspaces/{SUPPORT}").json()
    assert body["sid"] == SUPPORT
    assert body["url"] == f"{api.base_url}/v1/Workspaces/{SUPPORT}"
    assert body["links"]["tasks"] == f"{api.base_url}/v1/Workspaces/{SUPPORT}/Tasks"
    assert set(body["links"]) == {
        "activities",
        "statistics",
        "real_time_statistics",
        "cumulative_statistics",
        "task_queues",
        "tasks",
        "workers",
        "workflows",
        "task_channels",
        "events",
    }


def test_workflows_carry_a_real_routing_configuration(api):
    body = api.get(f"/Workspaces/{SUPPORT}/Workflows").json()
    assert body["meta"]["key"] == "workflows"
    names = [w["friendly_name"] for w in body["workflows"]]
    assert names == ["Support Routing", "After Hours"]
    configuration = json.loads(body["workflows"][0]["configuration"])
    filters = {f["filter_friendly_name"]: f for f in configuration["task_routing"]["filters"]}
    assert filters["VIP customers"]["expression"] == "vip == true"
    assert filters["VIP customers"]["targets"][0]["priority"] == 100
    # A returning customer's own agent first, for a minute, then the usual routing.
    known = filters["Preferred agent"]["targets"][0]
    assert known["known_worker_sid"] == "task.preferred_agent"
    assert known["timeout"] == 60
    assert configuration["task_routing"]["default_filter"]["queue"].startswith("WQ")


def test_workflows_filter_by_friendly_name(api):
    body = api.get(f"/Workspaces/{SUPPORT}/Workflows", {"FriendlyName": "After Hours"}).json()
    assert [w["friendly_name"] for w in body["workflows"]] == ["After Hours"]
    sid = body["workflows"][0]["sid"]
    assert api.get(f"/Workspaces/{SUPPORT}/Workflows/{sid}").json()["friendly_name"] == (
        "After Hours"
    )


def test_task_queues_are_listed_and_fetched(api):
    body = api.get(f"/Workspaces/{SUPPORT}/TaskQueues").json()
    assert body["meta"]["key"] == "task_queues"
    assert len(body["task_queues"]) >= 5
    queue = body["task_queues"][0]
    fetched = api.get(f"/Workspaces/{SUPPORT}/TaskQueues/{queue['sid']}").json()
    assert fetched == queue
    filtered = api.get(f"/Workspaces/{SALES}/TaskQueues", {"FriendlyName": "DACH Sales"}).json()
    assert [q["friendly_name"] for q in filtered["task_queues"]] == ["DACH Sales"]


def test_task_channels_use_the_key_channels(api):
    body = api.get(f"/Workspaces/{SUPPORT}/TaskChannels").json()
    assert body["meta"]["key"] == "channels"
    assert "task_channels" not in body
    assert {c["unique_name"] for c in body["channels"]} >= {"default", "voice", "chat", "sms"}


def test_a_task_channel_is_fetched_by_sid_or_unique_name(api):
    channels = api.get(f"/Workspaces/{SUPPORT}/TaskChannels").json()["channels"]
    voice = next(c for c in channels if c["unique_name"] == "voice")
    assert api.get(f"/Workspaces/{SUPPORT}/TaskChannels/{voice['sid']}").json() == voice
    assert api.get(f"/Workspaces/{SUPPORT}/TaskChannels/voice").json() == voice


def test_small_lists_page_with_tokens(api):
    first = api.get(f"/Workspaces/{SUPPORT}/TaskQueues", {"PageSize": 3}).json()
    assert len(first["task_queues"]) == 3
    second = api.get(first["meta"]["next_page_url"]).json()
    assert second["meta"]["page"] == 1
    back = api.get(second["meta"]["previous_page_url"]).json()
    assert [q["sid"] for q in back["task_queues"]] == [q["sid"] for q in first["task_queues"]]
    seen = [q["sid"] for q in first["task_queues"]]
    page = second
    while True:
        seen += [q["sid"] for q in page["task_queues"]]
        if page["meta"]["next_page_url"] is None:
            break
        page = api.get(page["meta"]["next_page_url"]).json()
    every = api.get(f"/Workspaces/{SUPPORT}/TaskQueues").json()["task_queues"]
    assert seen == [q["sid"] for q in every]


@pytest.mark.parametrize(
    "path",
    [
        "/Workspaces/WS00000000000000000000000000000000",
        "/Workspaces/WS00000000000000000000000000000000/Tasks",
        f"/Workspaces/{SUPPORT}/Tasks/WT00000000000000000000000000000000",
        f"/Workspaces/{SUPPORT}/Workflows/WW00000000000000000000000000000000",
        f"/Workspaces/{SUPPORT}/TaskQueues/WQ00000000000000000000000000000000",
        f"/Workspaces/{SUPPORT}/TaskChannels/carrier-pigeon",
        f"/Workspaces/{SUPPORT}/Tasks/WQ00000000000000000000000000000000",
        f"/Workspaces/{SUPPORT}/Tasks/not-a-sid",
        "/Workspaces/not-a-sid",
        f"/Workspaces/{SUPPORT}/Workers/WK00000000000000000000000000000000",
        f"/Workspaces/{SUPPORT}/Workers/not-a-sid/Channels",
        f"/Workspaces/{SUPPORT}/Activities/WA00000000000000000000000000000000",
        f"/Workspaces/{SUPPORT}/Tasks/WT00000000000000000000000000000000/Reservations",
        f"/Workspaces/{SUPPORT}/TaskQueues/WQ00000000000000000000000000000000/Statistics",
        f"/Workspaces/{SUPPORT}/Workflows/WW00000000000000000000000000000000/Statistics",
        f"/Workspaces/{SUPPORT}/Tasks/WT00000000000000000000000000000000/Nothing/Here",
        f"/Workspaces/{SUPPORT}/Events/Statistics",
    ],
)
def test_unknown_sids_and_paths_are_twilios_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "code": 20404,
        "message": f"The requested resource {path} was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }


def test_a_task_of_another_workspace_is_not_found(api, store):
    sid = task_in_status(store, "pending", workspace=SALES)
    assert api.get(f"/Workspaces/{SUPPORT}/Tasks/{sid}").status_code == 404
    assert api.get(f"/Workspaces/{SALES}/Tasks/{sid}").status_code == 200


def test_an_unsupported_method_is_405(api):
    response = api.post("/Workspaces", {"FriendlyName": "New"})
    assert response.status_code == 405
    assert response.json()["code"] == 20004


def test_the_training_workspace_has_no_tasks(api):
    body = api.get(f"/Workspaces/{TRAINING}/Tasks").json()
    assert body["tasks"] == []
    assert body["meta"]["next_page_url"] is None


def test_credentials_never_show_their_secrets():
    from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS

    text = repr(DEVELOPMENT_CREDENTIALS)
    assert DEVELOPMENT_CREDENTIALS.account_sid in text
    assert DEVELOPMENT_CREDENTIALS.auth_token not in text
    assert DEVELOPMENT_CREDENTIALS.api_secret not in text
