"""ListTask: filters, ordering, page tokens, and the list envelope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    SandboxApp,
    SandboxServer,
    SandboxStore,
    ensure_seeded,
    in_process_adapter,
)
from tasks_app.sandbox.store import from_us
from tasks_app.taskrouter import rules
from tests.sandbox.helpers import AUTH, IN_PROCESS_URL, SALES, SUPPORT, Api

TASKS = f"/Workspaces/{SUPPORT}/Tasks"
COLUMNS = {"DateCreated": "date_created", "Priority": "priority", "VirtualStartTime": "vst"}


def _all_rows(store: SandboxStore, workspace: str = SUPPORT) -> list[dict]:
    with store.read() as conn:
        rows = conn.execute(
            "SELECT sid, assignment_status, priority, date_created, virtual_start_time AS vst, "
            "attributes, addons, workflow_sid, task_queue_sid, routing_target "
            "FROM tasks WHERE workspace_sid = ?",
            (workspace,),
        ).fetchall()
    return [dict(r) for r in rows]


def _expected_order(rows: list[dict], ordering: str) -> list[str]:
    """The documented order, computed independently: keys, then SID in the last key's way."""
    keys = rules.parse_ordering(ordering) or (rules.OrderKey("DateCreated"),)
    ordered = sorted(rows, key=lambda r: r["sid"], reverse=keys[-1].descending)
    for key in reversed(keys):
        ordered.sort(key=lambda r, c=COLUMNS[key.attribute]: r[c], reverse=key.descending)
    return [r["sid"] for r in ordered]


def _walk(client: Api, url: str, params: dict | None = None) -> tuple[list[str], list[dict]]:
    response = client.get(url, params)
    assert response.status_code == 200, response.text
    body = response.json()
    sids = [t["sid"] for t in body["tasks"]]
    metas = [body["meta"]]
    while body["meta"]["next_page_url"]:
        body = client.get(body["meta"]["next_page_url"]).json()
        sids += [t["sid"] for t in body["tasks"]]
        metas.append(body["meta"])
    return sids, metas


@pytest.mark.parametrize(
    "ordering",
    [
        "",
        "DateCreated:desc",
        "Priority:desc",
        "Priority:asc",
        "VirtualStartTime:asc",
        "Priority:desc,DateCreated:asc",
        "Priority:asc,DateCreated:desc",
        "DateCreated:desc,Priority:asc",
        "VirtualStartTime:desc,Priority:desc",
        "Priority:desc,VirtualStartTime:asc",
    ],
)
def test_paging_through_every_page_gives_the_ordering_exactly(inproc, store, ordering):
    params = {"PageSize": 23, "AssignmentStatus": "pending,assigned,completed"}
    if ordering:
        params["Ordering"] = ordering
    sids, metas = _walk(inproc, TASKS, params)
    rows = [
        r
        for r in _all_rows(store)
        if r["assignment_status"] in ("pending", "assigned", "completed")
    ]
    assert sids == _expected_order(rows, ordering)
    assert len(metas) >= 3
    assert [m["page"] for m in metas] == list(range(len(metas)))


def test_every_status_is_listed_without_a_status_filter(inproc, store):
    sids, _ = _walk(inproc, TASKS, {"PageSize": 100, "Ordering": "Priority:desc"})
    assert sids == _expected_order(_all_rows(store), "Priority:desc")


def test_next_page_url_keeps_every_filter_and_the_ordering(api, store):
    params = {"AssignmentStatus": "pending", "Ordering": "Priority:desc", "PageSize": 50}
    body = api.get(TASKS, params).json()
    last = body["tasks"][-1]["sid"]
    assert body["meta"]["next_page_url"] == (
        f"{api.base_url}/v1{TASKS}?AssignmentStatus=pending&Ordering=Priority%3Adesc"
        f"&PageSize=50&Page=1&PageToken=PA{last}"
    )
    assert body["meta"]["first_page_url"] == (
        f"{api.base_url}/v1{TASKS}?AssignmentStatus=pending&Ordering=Priority%3Adesc"
        "&PageSize=50&Page=0"
    )
    assert body["meta"]["url"] == body["meta"]["first_page_url"]
    assert body["meta"]["previous_page_url"] is None
    assert body["meta"]["page_size"] == 50
    assert body["meta"]["key"] == "tasks"


def test_three_pages_keep_filters_and_the_previous_page_leads_back(api):
    params = {
        "AssignmentStatus": ["pending", "reserved"],
        "Ordering": "Priority:desc,DateCreated:asc",
        "PageSize": 20,
        "Unknown": "ignored",
    }
    first = api.get(TASKS, params).json()
    second = api.get(first["meta"]["next_page_url"]).json()
    third = api.get(second["meta"]["next_page_url"]).json()
    for page in (second, third):
        url = page["meta"]["url"]
        assert "AssignmentStatus=pending&AssignmentStatus=reserved" in url
        assert "Ordering=Priority%3Adesc%2CDateCreated%3Aasc" in url
        assert "Unknown" not in url
        assert {t["assignment_status"] for t in page["tasks"]} <= {"pending", "reserved"}
    assert third["meta"]["page"] == 2
    assert third["meta"]["previous_page_url"].endswith(
        f"Page=1&PageToken=PB{third['tasks'][0]['sid']}"
    )
    back = api.get(third["meta"]["previous_page_url"]).json()
    assert [t["sid"] for t in back["tasks"]] == [t["sid"] for t in second["tasks"]]
    back_again = api.get(back["meta"]["previous_page_url"]).json()
    assert [t["sid"] for t in back_again["tasks"]] == [t["sid"] for t in first["tasks"]]
    assert back_again["meta"]["previous_page_url"] is None
    pages = {t["sid"] for p in (first, second, third) for t in p["tasks"]}
    assert len(pages) == 60


def test_walking_backwards_from_the_last_page_gives_the_same_tasks(inproc):
    params = {"AssignmentStatus": "assigned", "Ordering": "DateCreated:desc", "PageSize": 17}
    forward, metas = _walk(inproc, TASKS, params)
    body = inproc.get(metas[-1]["url"]).json()
    backward = [t["sid"] for t in body["tasks"]]
    while body["meta"]["previous_page_url"]:
        body = inproc.get(body["meta"]["previous_page_url"]).json()
        backward = [t["sid"] for t in body["tasks"]] + backward
    assert backward == forward


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> SandboxStore:
    path = Path(tmp_path_factory.mktemp("big")) / "sandbox.sqlite3"
    big = SandboxStore(path)
    ensure_seeded(big, tasks=4000)
    yield big
    big.close()


def test_pages_of_1000_tasks(big_store):
    app = SandboxApp(big_store, credentials=DEVELOPMENT_CREDENTIALS)
    with SandboxServer(app) as server:
        client = Api(server.url)
        client.session.auth = AUTH
        sids, metas = _walk(client, TASKS, {"PageSize": 1000, "Ordering": "Priority:desc"})
        assert [m["page_size"] for m in metas] == [1000] * len(metas)
        assert len(metas) >= 3
        assert sids == _expected_order(_all_rows(big_store), "Priority:desc")
        assert len(set(sids)) == len(sids)


@pytest.mark.parametrize("size", ["0", "1001", "-5", "fifty"])
def test_page_size_outside_1_to_1000_is_400(api, size):
    response = api.get(TASKS, {"PageSize": size})
    assert response.status_code == 400
    assert response.json()["code"] == 20001
    assert "PageSize" in response.json()["message"]


def test_absolute_paging_without_a_token_is_refused(api):
    response = api.get(TASKS, {"Page": "2", "PageSize": "10"})
    assert response.status_code == 400
    assert response.json()["message"] == "PageToken is required for paging."


@pytest.mark.parametrize("token", ["PAnot-a-sid", "XX" + "WT" + "0" * 32, "PAWT" + "0" * 32])
def test_an_invalid_page_token_is_400(api, token):
    response = api.get(TASKS, {"PageToken": token, "Page": "1"})
    assert response.status_code == 400
    assert response.json()["code"] == 20001


def test_a_page_token_naming_a_deleted_task_still_pages(api):
    first = api.get(TASKS, {"PageSize": 10}).json()
    last = first["tasks"][-1]
    api.delete(last["url"])
    second = api.get(first["meta"]["next_page_url"])
    assert second.status_code == 200
    assert second.json()["tasks"][0]["date_created"] >= last["date_created"]


def test_assignment_status_comma_repeated_and_both_forms_agree(inproc, store):
    comma, _ = _walk(inproc, TASKS, {"AssignmentStatus": "pending,wrapping", "PageSize": 200})
    repeated, _ = _walk(
        inproc, TASKS, {"AssignmentStatus": ["pending", "wrapping"], "PageSize": 200}
    )
    both, _ = _walk(
        inproc, TASKS, {"AssignmentStatus": ["pending,wrapping", "wrapping"], "PageSize": 200}
    )
    expected = [r for r in _all_rows(store) if r["assignment_status"] in ("pending", "wrapping")]
    assert comma == repeated == both == _expected_order(expected, "")


def test_an_unknown_assignment_status_filter_is_400(api):
    response = api.get(TASKS, {"AssignmentStatus": "pending,done"})
    assert response.status_code == 400
    assert "done" in response.json()["message"]


def test_evaluate_task_attributes_filters_on_nested_attributes(inproc, store):
    expression = 'customer.tier == "gold" AND language IN ["es", "fr"]'
    sids, metas = _walk(inproc, TASKS, {"EvaluateTaskAttributes": expression, "PageSize": 5})
    expected = []
    for row in _all_rows(store):
        attributes = json.loads(row["attributes"])
        if attributes["customer"]["tier"] == "gold" and attributes["language"] in ("es", "fr"):
            expected.append(row)
    assert sids == _expected_order(expected, "")
    assert len(metas) >= 2
    assert "EvaluateTaskAttributes=customer.tier%20%3D%3D%20%22gold%22" in metas[1]["url"]


def test_evaluate_task_attributes_combines_with_status_and_skills(inproc, store):
    params = {"EvaluateTaskAttributes": 'skills HAS "billing"', "AssignmentStatus": "pending"}
    sids, _ = _walk(inproc, TASKS, {**params, "PageSize": 1000})
    expected = [
        r["sid"]
        for r in _all_rows(store)
        if r["assignment_status"] == "pending"
        and "billing" in json.loads(r["attributes"])["skills"]
    ]
    assert sorted(sids) == sorted(expected)
    assert sids


def test_an_expression_syntax_error_is_400_naming_its_position(api):
    response = api.get(TASKS, {"EvaluateTaskAttributes": 'language == "en" AND AND vip == true'})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 20001
    assert "character 22" in body["message"]


def test_the_expression_list_has_its_own_rate_limit(api):
    response = api.get(TASKS, {"EvaluateTaskAttributes": "1 == 1"})
    assert response.headers["X-Rate-Limit-Limit"] == "3"
    assert response.headers["X-Rate-Limit-Config"] == "Task-List-EvaluateTaskAttributes"


def test_date_created_with_virtual_start_time_ordering_is_400(api):
    response = api.get(TASKS, {"Ordering": "DateCreated:asc,VirtualStartTime:desc"})
    assert response.status_code == 400
    assert "DateCreated" in response.json()["message"]


def test_an_unknown_ordering_attribute_is_400(api):
    assert api.get(TASKS, {"Ordering": "Age:desc"}).status_code == 400


def test_filters_by_priority_workflow_queue_addons_and_routing_target(inproc, store, api):
    rows = _all_rows(store)
    workflows = api.get(f"/Workspaces/{SUPPORT}/Workflows").json()["workflows"]
    queues = api.get(f"/Workspaces/{SUPPORT}/TaskQueues").json()["task_queues"]
    after_hours = next(w for w in workflows if w["friendly_name"] == "After Hours")
    vip = next(q for q in queues if q["friendly_name"] == "VIP Care")
    cases = [
        ({"Priority": "100"}, lambda r: r["priority"] == 100),
        ({"WorkflowSid": after_hours["sid"]}, lambda r: r["workflow_sid"] == after_hours["sid"]),
        ({"WorkflowName": "After Hours"}, lambda r: r["workflow_sid"] == after_hours["sid"]),
        ({"TaskQueueSid": vip["sid"]}, lambda r: r["task_queue_sid"] == vip["sid"]),
        ({"TaskQueueName": "VIP Care"}, lambda r: r["task_queue_sid"] == vip["sid"]),
        ({"HasAddons": "true"}, lambda r: r["addons"] != "{}"),
        ({"HasAddons": "false"}, lambda r: r["addons"] == "{}"),
        ({"TaskQueueName": "No Such Queue"}, lambda r: False),
    ]
    targets = [r["routing_target"] for r in rows if r["routing_target"]]
    if targets:
        cases.append(({"RoutingTarget": targets[0]}, lambda r: r["routing_target"] == targets[0]))
    for params, keep in cases:
        sids, _ = _walk(inproc, TASKS, {**params, "PageSize": 1000})
        assert sids == _expected_order([r for r in rows if keep(r)], ""), params
        if params != {"TaskQueueName": "No Such Queue"}:
            assert sids, params


def test_list_items_carry_attributes_and_age(api, store):
    task = api.get(TASKS, {"PageSize": 1}).json()["tasks"][0]
    assert json.loads(task["attributes"])["customer"]["account"]["id"]
    assert task["age"] > 0
    assert task["links"]["workspace"].endswith(SUPPORT)


def test_list_attributes_can_be_null_as_the_spec_text_says(store):
    app = SandboxApp(store, credentials=DEVELOPMENT_CREDENTIALS, list_attributes=False)
    client = Api(IN_PROCESS_URL)
    client.session.auth = AUTH
    client.session.mount(IN_PROCESS_URL, in_process_adapter(app))
    task = client.get(TASKS, {"PageSize": 3}).json()["tasks"][0]
    assert task["attributes"] is None
    assert client.get(task["url"]).json()["attributes"] is not None


def test_the_list_etag_changes_when_a_task_on_the_page_changes(api):
    first = api.get(TASKS, {"PageSize": 5})
    again = api.get(TASKS, {"PageSize": 5})
    assert first.headers["ETag"] == again.headers["ETag"]
    task = first.json()["tasks"][0]
    api.post(task["url"], {"Priority": str(task["priority"] + 1)})
    assert api.get(TASKS, {"PageSize": 5}).headers["ETag"] != first.headers["ETag"]


def test_dates_are_iso_8601_in_whole_seconds(api, store):
    task = api.get(f"/Workspaces/{SALES}/Tasks", {"PageSize": 1}).json()["tasks"][0]
    with store.read() as conn:
        created = conn.execute(
            "SELECT date_created FROM tasks WHERE sid = ?", (task["sid"],)
        ).fetchone()[0]
    assert task["date_created"] == from_us(created).strftime("%Y-%m-%dT%H:%M:%SZ")
