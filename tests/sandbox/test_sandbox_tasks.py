"""Tasks: create, fetch, update, delete; ETags and If-Match; transitions; validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tasks_app.sandbox import store as store_module
from tasks_app.taskrouter import rules
from tests.sandbox.helpers import SALES, SUPPORT, TRAINING, set_status, task_in_status

SUPPORT_TASKS = f"/Workspaces/{SUPPORT}/Tasks"
SALES_TASKS = f"/Workspaces/{SALES}/Tasks"


def _workflow_sid(api, workspace, name):
    workflows = api.get(f"/Workspaces/{workspace}/Workflows").json()["workflows"]
    return next(w["sid"] for w in workflows if w["friendly_name"] == name)


def _queue_sid(api, workspace, name):
    queues = api.get(f"/Workspaces/{workspace}/TaskQueues").json()["task_queues"]
    return next(q["sid"] for q in queues if q["friendly_name"] == name)


def _create(api, **form):
    form.setdefault("Attributes", json.dumps({"type": "inquiry", "language": "en"}))
    return api.post(SALES_TASKS, form)


# --- Create -------------------------------------------------------------------------------


def test_create_answers_201_with_a_pending_task_at_etag_0(api):
    response = _create(api)
    assert response.status_code == 201
    assert response.headers["ETag"] == "0"
    task = response.json()
    assert task["assignment_status"] == "pending"
    assert task["age"] == 0
    assert task["priority"] == 0
    assert task["timeout"] == rules.DEFAULT_TIMEOUT
    assert task["task_channel_unique_name"] == "default"
    assert task["workflow_friendly_name"] == "Sales Routing"
    assert task["task_queue_friendly_name"] == "Inbound Sales"
    assert task["virtual_start_time"] == task["date_created"]
    assert task["addons"] == "{}"
    assert task["reason"] is None
    assert task["url"] == f"{api.base_url}/v1{SALES_TASKS}/{task['sid']}"
    assert task["links"]["reservations"] == f"{task['url']}/Reservations"


def test_create_stores_the_attributes_text_as_given(api):
    text = '{"type": "inquiry",   "note": "spacing kept", "nested": {"a": [1, 2]}}'
    task = _create(api, Attributes=text).json()
    assert task["attributes"] == text
    assert api.get(task["url"]).json()["attributes"] == text


def test_create_defaults_attributes_to_an_empty_object(api):
    task = api.post(SALES_TASKS, {}).json()
    assert task["attributes"] == "{}"


def test_create_accepts_every_documented_parameter(api):
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    task = _create(
        api,
        Timeout="3600",
        Priority="7",
        TaskChannel="voice",
        VirtualStartTime=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        RoutingTarget="WK" + "1" * 32,
    ).json()
    assert task["timeout"] == 3600
    assert task["priority"] == 7
    assert task["task_channel_unique_name"] == "voice"
    assert task["virtual_start_time"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert task["routing_target"] == "WK" + "1" * 32
    assert task["ignore_capacity"] is True  # the default for a Worker routing target


def test_create_takes_the_task_channel_by_sid(api):
    channels = api.get(f"/Workspaces/{SALES}/TaskChannels").json()["channels"]
    sms = next(c for c in channels if c["unique_name"] == "sms")
    task = _create(api, TaskChannel=sms["sid"]).json()
    assert task["task_channel_sid"] == sms["sid"]
    assert task["task_channel_unique_name"] == "sms"


def test_create_with_an_unknown_task_channel_is_refused(api):
    response = _create(api, TaskChannel="fax")
    assert response.status_code == 400
    assert response.json()["code"] == 20001
    assert "fax" in response.json()["message"]


def test_create_needs_a_workflow_sid_when_the_workspace_has_several(api):
    response = api.post(SUPPORT_TASKS, {"Attributes": "{}"})
    assert response.status_code == 400
    assert "WorkflowSid" in response.json()["message"]
    workflow = _workflow_sid(api, SUPPORT, "Support Routing")
    created = api.post(SUPPORT_TASKS, {"Attributes": "{}", "WorkflowSid": workflow})
    assert created.status_code == 201
    assert created.json()["workflow_sid"] == workflow


def test_create_with_a_workflow_of_another_workspace_is_refused(api):
    other = _workflow_sid(api, SALES, "Sales Routing")
    response = api.post(SUPPORT_TASKS, {"WorkflowSid": other})
    assert response.status_code == 400


def test_create_in_a_task_queue_given_by_sid(api):
    queue = _queue_sid(api, SALES, "Outbound Leads")
    task = _create(api, TaskQueueSid=queue).json()
    assert task["task_queue_sid"] == queue
    assert task["task_queue_friendly_name"] == "Outbound Leads"


def test_create_in_the_training_workspace_uses_its_only_workflow(api):
    task = api.post(f"/Workspaces/{TRAINING}/Tasks", {}).json()
    assert task["workflow_friendly_name"] == "Default Fifo Workflow"
    assert task["task_queue_friendly_name"] == "Sample Queue"


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"Attributes": "{not json"}, "not valid JSON"),
        ({"Attributes": "[1, 2]"}, "JSON object"),
        ({"Attributes": json.dumps({"note": "x" * 4100})}, "4,096"),
        ({"Priority": "-1"}, "Priority"),
        ({"Priority": "2147483648"}, "Priority"),
        ({"Priority": "high"}, "Priority"),
        ({"Timeout": "0"}, "Timeout"),
        ({"Timeout": "1209601"}, "Timeout"),
        ({"VirtualStartTime": "2999-01-01T00:00:00Z"}, "future"),
        ({"VirtualStartTime": "1899-12-31T00:00:00Z"}, "1900"),
        ({"VirtualStartTime": "yesterday"}, "ISO 8601"),
        ({"WorkflowSid": "WWnope"}, "WorkflowSid"),
    ],
)
def test_create_refuses_invalid_values_with_400_20001(api, form, words):
    response = api.post(SALES_TASKS, form)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 20001
    assert body["status"] == 400
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20001"
    assert words in body["message"]


def test_attributes_of_exactly_4096_characters_are_accepted(api):
    text = json.dumps({"note": "x" * (4096 - len('{"note": ""}'))})
    assert len(text) == 4096
    assert _create(api, Attributes=text).status_code == 201


def test_create_in_an_unknown_workspace_is_404(api):
    response = api.post("/Workspaces/WS" + "0" * 32 + "/Tasks", {})
    assert response.status_code == 404


# --- Fetch, age ---------------------------------------------------------------------------


def test_fetch_answers_the_task_with_its_etag(api, store):
    sid = task_in_status(store, "assigned")
    response = api.get(f"{SUPPORT_TASKS}/{sid}")
    assert response.status_code == 200
    with store.read() as conn:
        row = store_module.fetch_task(conn, SUPPORT, sid)
    assert response.headers["ETag"] == str(row["version"])
    task = response.json()
    assert task["sid"] == sid
    assert task["assignment_status"] == "assigned"
    assert json.loads(task["attributes"]) == json.loads(row["attributes"])


def test_age_is_seconds_since_creation_at_answer_time(store):
    from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, SandboxApp, in_process_adapter
    from tests.sandbox.helpers import AUTH, IN_PROCESS_URL, Api

    moment = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    app = SandboxApp(store, credentials=DEVELOPMENT_CREDENTIALS, clock=lambda: moment[0])
    client = Api(IN_PROCESS_URL)
    client.session.auth = AUTH
    client.session.mount(IN_PROCESS_URL, in_process_adapter(app))
    task = client.post(SALES_TASKS, {}).json()
    assert task["date_created"] == "2026-03-01T12:00:00Z"
    moment[0] += timedelta(minutes=7, seconds=5)
    assert client.get(task["url"]).json()["age"] == 425


# --- Update and versions ------------------------------------------------------------------


def test_every_update_adds_one_to_the_etag(api):
    task = _create(api).json()
    url = task["url"]
    for expected in (1, 2, 3):
        response = api.post(url, {"Priority": str(expected)})
        assert response.status_code == 200
        assert response.headers["ETag"] == str(expected)
    assert api.get(url).headers["ETag"] == "3"


def test_an_update_changes_date_updated_but_not_age(api, store):
    sid = task_in_status(store, "assigned")
    before = api.get(f"{SUPPORT_TASKS}/{sid}").json()
    after = api.post(f"{SUPPORT_TASKS}/{sid}", {"Priority": "3"}).json()
    assert after["date_updated"] >= before["date_updated"]
    assert after["date_created"] == before["date_created"]
    assert after["age"] >= before["age"]


def test_if_match_with_the_current_etag_applies_the_update(api):
    task = _create(api).json()
    response = api.post(task["url"], {"Priority": "9"}, headers={"If-Match": "0"})
    assert response.status_code == 200
    assert response.json()["priority"] == 9
    assert response.headers["ETag"] == "1"


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1", "0, 1", "*"])
def test_if_match_accepts_quoted_weak_listed_and_any(api, if_match):
    task = _create(api).json()
    api.post(task["url"], {"Priority": "1"})
    response = api.post(task["url"], {"Priority": "2"}, headers={"If-Match": if_match})
    assert response.status_code == 200


def test_a_stale_if_match_on_update_is_412_and_changes_nothing(api):
    task = _create(api).json()
    api.post(task["url"], {"Priority": "5"})
    response = api.post(task["url"], {"Priority": "6"}, headers={"If-Match": "0"})
    assert response.status_code == 412
    body = response.json()
    assert body["code"] == 20412
    assert body["status"] == 412
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20412"
    current = api.get(task["url"])
    assert current.json()["priority"] == 5
    assert current.headers["ETag"] == "1"


def test_without_if_match_an_update_applies_unconditionally(api):
    task = _create(api).json()
    api.post(task["url"], {"Priority": "5"})
    assert api.post(task["url"], {"Priority": "6"}).status_code == 200


def test_a_malformed_value_is_400_even_with_a_stale_etag(api):
    task = _create(api).json()
    api.post(task["url"], {"Priority": "5"})
    response = api.post(task["url"], {"Priority": "lots"}, headers={"If-Match": "0"})
    assert response.status_code == 400


def test_update_changes_channel_and_virtual_start_time(api):
    task = _create(api).json()
    start = "2026-01-02T03:04:05Z"
    updated = api.post(task["url"], {"TaskChannel": "chat", "VirtualStartTime": start}).json()
    assert updated["task_channel_unique_name"] == "chat"
    assert updated["virtual_start_time"] == start


def test_update_refuses_a_virtual_start_time_in_the_future(api):
    task = _create(api).json()
    response = api.post(task["url"], {"VirtualStartTime": "2999-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert "future" in response.json()["message"]


def test_update_refuses_invalid_attributes(api):
    task = _create(api).json()
    for text in ("{oops", '"a string"', json.dumps({"x": "y" * 5000})):
        assert api.post(task["url"], {"Attributes": text}).status_code == 400


def test_update_of_an_unknown_task_is_404(api):
    response = api.post(f"{SUPPORT_TASKS}/WT{'0' * 32}", {"Priority": "1"})
    assert response.status_code == 404
    assert response.json()["message"] == (
        f"The requested resource /Workspaces/{SUPPORT}/Tasks/WT{'0' * 32} was not found"
    )


def test_cancel_stores_the_reason(api, store):
    sid = task_in_status(store, "pending")
    task = api.post(
        f"{SUPPORT_TASKS}/{sid}", {"AssignmentStatus": "canceled", "Reason": "waiting too long"}
    ).json()
    assert task["assignment_status"] == "canceled"
    assert task["reason"] == "waiting too long"


def test_cancel_is_refused_for_an_assigned_task(api, store):
    sid = task_in_status(store, "assigned")
    response = api.post(f"{SUPPORT_TASKS}/{sid}", {"AssignmentStatus": "canceled"})
    assert response.status_code == 400
    assert response.json() == {
        "code": 20001,
        "message": (
            f"Cannot cancel task {sid} in workspace {SUPPORT} for account "
            "AC7461736b6465636b2073616e64626f78 because it is not pending or reserved."
        ),
        "more_info": "https://www.twilio.com/docs/errors/20001",
        "status": 400,
    }


def test_updating_anything_on_a_completed_task_is_refused(api, store):
    sid = task_in_status(store, "completed")
    response = api.post(f"{SUPPORT_TASKS}/{sid}", {"Priority": "1"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Cannot update task {sid} in workspace {SUPPORT} for account "
        "AC7461736b6465636b2073616e64626f78 because it is completed."
    )


def test_attributes_and_wrapping_in_one_request_are_refused(api, store):
    sid = task_in_status(store, "assigned")
    response = api.post(
        f"{SUPPORT_TASKS}/{sid}", {"AssignmentStatus": "wrapping", "Attributes": "{}"}
    )
    assert response.status_code == 400
    assert "two requests" in response.json()["message"]
    assert api.get(f"{SUPPORT_TASKS}/{sid}").json()["assignment_status"] == "assigned"


def test_an_unknown_assignment_status_is_refused(api, store):
    sid = task_in_status(store, "pending")
    response = api.post(f"{SUPPORT_TASKS}/{sid}", {"AssignmentStatus": "finished"})
    assert response.status_code == 400
    assert response.json()["code"] == 20001


# The whole matrix: every current status x every requested status.
_ALLOWED = {
    ("pending", "canceled"),
    ("reserved", "canceled"),
    ("assigned", "wrapping"),
    ("assigned", "completed"),
    ("wrapping", "completed"),
}


@pytest.mark.parametrize("current", rules.STATUSES)
@pytest.mark.parametrize("target", rules.STATUSES)
def test_the_assignment_status_transition_matrix(api, store, current, target):
    sid = task_in_status(store, "pending")
    set_status(store, sid, current)
    before = api.get(f"{SUPPORT_TASKS}/{sid}")
    response = api.post(f"{SUPPORT_TASKS}/{sid}", {"AssignmentStatus": target, "Reason": "matrix"})
    if (current, target) in _ALLOWED:
        assert response.status_code == 200
        assert response.json()["assignment_status"] == target
        assert int(response.headers["ETag"]) == int(before.headers["ETag"]) + 1
    else:
        assert response.status_code == 400
        assert response.json()["code"] == 20001
        assert response.json()["message"] == rules.transition_refusal_message(
            task_sid=sid,
            workspace_sid=SUPPORT,
            account_sid="AC7461736b6465636b2073616e64626f78",
            current=current,
            target=target,
        )
        after = api.get(f"{SUPPORT_TASKS}/{sid}")
        assert after.headers["ETag"] == before.headers["ETag"]
        assert after.json()["assignment_status"] == current


# --- Delete -------------------------------------------------------------------------------


def test_delete_answers_204_with_no_body_and_no_etag(api):
    task = _create(api).json()
    response = api.delete(task["url"])
    assert response.status_code == 204
    assert response.content == b""
    assert "ETag" not in response.headers
    assert api.get(task["url"]).status_code == 404
    assert api.delete(task["url"]).status_code == 404


def test_delete_with_a_stale_if_match_is_412_and_keeps_the_task(api):
    task = _create(api).json()
    api.post(task["url"], {"Priority": "1"})
    response = api.delete(task["url"], headers={"If-Match": "0"})
    assert response.status_code == 412
    assert response.json()["code"] == 20412
    assert api.get(task["url"]).status_code == 200


def test_delete_with_the_current_if_match_deletes(api):
    task = _create(api).json()
    api.post(task["url"], {"Priority": "1"})
    assert api.delete(task["url"], headers={"If-Match": "1"}).status_code == 204
    assert api.get(task["url"]).status_code == 404
