"""The in-process adapter answers exactly what the loopback server answers."""

from __future__ import annotations

import json

import requests

from tests.sandbox.helpers import IN_PROCESS_URL, SALES, SUPPORT

TASKS = f"/Workspaces/{SUPPORT}/Tasks"


def _same(api, inproc, response_http, response_local):
    """Equal status, body (with the base URL swapped) and the headers that carry meaning."""
    assert response_http.status_code == response_local.status_code
    assert response_http.reason == response_local.reason
    text = response_local.text.replace(IN_PROCESS_URL, api.base_url)
    if response_http.content:
        http_body = json.loads(response_http.text)
        local_body = json.loads(text)
        for body in (http_body, local_body):
            for item in body.get("tasks", []) if isinstance(body, dict) else []:
                item.pop("age")  # seconds pass between the two requests
            if isinstance(body, dict):
                body.pop("age", None)
        assert http_body == local_body
    else:
        assert response_local.content == b""
    for header in ("Content-Type", "ETag", "X-Rate-Limit-Limit", "X-Rate-Limit-Config"):
        assert response_http.headers.get(header) == response_local.headers.get(header), header


def test_lists_fetches_and_errors_are_the_same_in_process(api, inproc):
    params = {"AssignmentStatus": "pending,reserved", "Ordering": "Priority:desc", "PageSize": 7}
    http_page, local_page = api.get(TASKS, params), inproc.get(TASKS, params)
    _same(api, inproc, http_page, local_page)
    assert local_page.json()["meta"]["next_page_url"].startswith(f"{IN_PROCESS_URL}/v1/")
    _same(
        api,
        inproc,
        api.get(http_page.json()["meta"]["next_page_url"]),
        inproc.get(local_page.json()["meta"]["next_page_url"]),
    )
    sid = http_page.json()["tasks"][0]["sid"]
    for path in (
        "/Workspaces",
        f"/Workspaces/{SALES}",
        f"/Workspaces/{SALES}/TaskChannels",
        f"{TASKS}/{sid}",
        f"{TASKS}/WT{'0' * 32}",
    ):
        _same(api, inproc, api.get(path), inproc.get(path))
    for params in ({"PageSize": "0"}, {"EvaluateTaskAttributes": "vip =="}):
        _same(api, inproc, api.get(TASKS, params), inproc.get(TASKS, params))


def test_writes_behave_the_same_in_process(api, inproc):
    for client in (api, inproc):
        created = client.post(f"/Workspaces/{SALES}/Tasks", {"Attributes": '{"language": "de"}'})
        assert created.status_code == 201
        assert created.headers["ETag"] == "0"
        url = created.json()["url"]
        assert url.startswith(client.base_url)
        assert created.json()["task_queue_friendly_name"] == "DACH Sales"
        stale = client.post(url, {"Priority": "1"}, headers={"If-Match": "7"})
        assert stale.status_code == 412
        deleted = client.delete(url, headers={"If-Match": "0"})
        assert deleted.status_code == 204
        assert deleted.content == b""


def test_in_process_responses_are_real_requests_responses(inproc):
    response = inproc.get(TASKS, {"PageSize": 2})
    assert isinstance(response, requests.Response)
    assert response.url.startswith(f"{IN_PROCESS_URL}/v1{TASKS}?")
    assert response.request.headers["Authorization"].startswith("Basic ")
    assert response.encoding == "utf-8"
    assert response.ok
    assert list(response.iter_content(16))


def test_unauthenticated_in_process_requests_get_401(inproc):
    inproc.session.auth = None
    response = inproc.get("/Workspaces")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
