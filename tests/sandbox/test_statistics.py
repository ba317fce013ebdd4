"""The sandbox's statistics resources: the spec's shapes, computed from its own tasks."""

from __future__ import annotations

from collections import Counter

from tests.sandbox.helpers import SUPPORT, set_status
from tests.sandbox.test_schema import _check_urls, _item_schema, _response_schema, _validate

REALTIME = "taskrouter.v1.workspace.workspace_real_time_statistics"
QUEUE_STATISTICS = "/v1/Workspaces/{WorkspaceSid}/TaskQueues/Statistics"


def all_tasks(store, workspace: str = SUPPORT) -> list:
    with store.read() as conn:
        return conn.execute(
            "SELECT sid, assignment_status, priority, task_queue_sid, date_created FROM tasks "
            "WHERE workspace_sid = ?",
            (workspace,),
        ).fetchall()


def test_real_time_statistics_match_the_spec_and_count_every_task_by_status(inproc, store):
    body = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    schema = _item_schema(REALTIME)
    _validate(body, schema)
    assert set(body) == set(schema["properties"])
    _check_urls(body["url"])
    tasks = all_tasks(store)
    by_status = Counter(t["assignment_status"] for t in tasks)
    assert body["tasks_by_status"] == {s: by_status.get(s, 0) for s in body["tasks_by_status"]}
    assert body["total_tasks"] == len(tasks)
    assert sum(body["tasks_by_priority"].values()) == len(tasks)


def test_the_longest_waiting_task_is_the_oldest_pending_or_reserved_one(inproc, store):
    waiting = [t for t in all_tasks(store) if t["assignment_status"] in ("pending", "reserved")]
    oldest = min(waiting, key=lambda t: t["date_created"])
    body = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    assert body["longest_task_waiting_sid"] == oldest["sid"]
    assert body["longest_task_waiting_age"] > 0
    set_status(store, oldest["sid"], "assigned")
    after = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    assert after["longest_task_waiting_sid"] != oldest["sid"]
    assert after["tasks_by_status"]["assigned"] == body["tasks_by_status"]["assigned"] + 1


def test_task_queue_statistics_match_the_spec_with_every_queue_in_one_answer(inproc, store):
    body = inproc.get(f"/Workspaces/{SUPPORT}/TaskQueues/Statistics").json()
    _validate(body, _response_schema(QUEUE_STATISTICS, "get"))
    assert set(body) == {"task_queues_statistics", "meta"}
    assert body["meta"]["key"] == "task_queues_statistics"
    item_schema = _item_schema("taskrouter.v1.workspace.task_queue.task_queues_statistics")
    queues = inproc.get(f"/Workspaces/{SUPPORT}/TaskQueues").json()["task_queues"]
    assert [i["task_queue_sid"] for i in body["task_queues_statistics"]] == [
        q["sid"] for q in queues
    ]
    open_tasks = Counter(
        (t["task_queue_sid"], t["assignment_status"])
        for t in all_tasks(store)
        if t["assignment_status"] in ("pending", "reserved", "assigned", "wrapping")
    )
    for item in body["task_queues_statistics"]:
        _validate(item, item_schema)
        assert set(item) == set(item_schema["properties"])
        statuses = item["realtime"]["tasks_by_status"]
        assert statuses == {s: open_tasks[(item["task_queue_sid"], s)] for s in statuses}
        assert item["realtime"]["total_tasks"] == sum(statuses.values())


def test_queue_statistics_page_and_filter_by_name(inproc):
    first = inproc.get(f"/Workspaces/{SUPPORT}/TaskQueues/Statistics", {"PageSize": 2}).json()
    assert len(first["task_queues_statistics"]) == 2
    second = inproc.get(first["meta"]["next_page_url"]).json()
    _validate(second, _response_schema(QUEUE_STATISTICS, "get"))
    assert second["task_queues_statistics"][0]["task_queue_sid"] not in {
        i["task_queue_sid"] for i in first["task_queues_statistics"]
    }
    billing = inproc.get(
        f"/Workspaces/{SUPPORT}/TaskQueues/Statistics", {"FriendlyName": "Billing"}
    ).json()
    assert len(billing["task_queues_statistics"]) == 1


def test_statistics_refuse_a_bad_window_or_an_unknown_channel(inproc):
    url = f"/Workspaces/{SUPPORT}/TaskQueues/Statistics"
    assert inproc.get(url, {"Minutes": "0"}).status_code == 400
    assert inproc.get(url, {"StartDate": "yesterday"}).status_code == 400
    realtime = f"/Workspaces/{SUPPORT}/RealTimeStatistics"
    assert inproc.get(realtime, {"TaskChannel": "pigeon"}).status_code == 400
    assert inproc.post(realtime, {}).status_code == 405
    assert inproc.get(f"/Workspaces/WS{'0' * 32}/RealTimeStatistics").status_code == 404


def test_a_channel_restricts_the_counts(inproc):
    everything = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics").json()
    voice = inproc.get(f"/Workspaces/{SUPPORT}/RealTimeStatistics", {"TaskChannel": "voice"}).json()
    assert 0 < voice["total_tasks"] < everything["total_tasks"]
