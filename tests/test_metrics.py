"""What operations sees: Prometheus metrics on /metrics and JSON log lines with a request id."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import requests
from django.test import Client

from tasks_app.requestlog import JsonFormatter, RequestIdFilter
from tasks_app.taskrouter import service as taskrouter
from tests.test_serving import serve

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_need_no_sign_in_and_count_pages_and_taskrouter_calls_by_endpoint_class(
    sandbox, signed_in
):
    anonymous = Client()
    before = anonymous.get("/metrics").content.decode()
    assert signed_in("viewer").get("/w/Support/tasks/").status_code == 200
    response = anonymous.get("/metrics")
    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    key = {"endpoint": "Task-List", "outcome": "ok"}
    assert sample(text, "taskdeck_taskrouter_calls_total", **key) == (
        sample(before, "taskdeck_taskrouter_calls_total", **key) + 1
    )
    assert sample(text, "taskdeck_page_seconds_count", view="task_list", method="GET") >= 1
    assert "taskdeck_bulk_queue_depth 0.0" in text


def test_a_refused_write_counts_as_a_conflict_and_a_retry_as_a_retry(
    client, sandbox, loopback_sandbox
):
    def now() -> str:
        return client.get("/metrics").content.decode()

    before = now()
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    sandbox.change(sid, priority=task.priority + 1)
    with pytest.raises(taskrouter.PreconditionFailed):
        taskrouter.update_task(
            actor="tests@example.com",
            workspace_sid=task.workspace_sid,
            task_sid=sid,
            if_match=task.etag,
            priority=1,
        )
    loopback_sandbox.faults.set("503;times=1;methods=GET")
    sandbox.fetch(sid)
    after = now()
    conflicts = "taskdeck_conflicts_total"
    assert sample(after, conflicts) == sample(before, conflicts) + 1
    assert sample(after, "taskdeck_taskrouter_retries_total", endpoint="Task-Fetch") == (
        sample(before, "taskdeck_taskrouter_retries_total", endpoint="Task-Fetch") + 1
    )


def test_a_request_id_is_echoed_and_goes_on_the_taskrouter_call_log_lines(client, sandbox):
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tasks_app.taskrouter.client")
    logger.addHandler(handler)
    try:
        response = client.get("/w/Support/tasks/", HTTP_X_REQUEST_ID="lb-7f3a9c")
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-Id"] == "lb-7f3a9c"
    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert entries and {e["request_id"] for e in entries} == {"lb-7f3a9c"}
    assert any(e["message"].startswith("taskrouter GET /v1/Workspaces/") for e in entries)

    made_up = client.get("/livez", HTTP_X_REQUEST_ID='"><script>')["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made_up)


def test_under_gunicorn_every_worker_counts_towards_one_metrics_page(tmp_path):
    for url in serve(tmp_path, GUNICORN_WORKERS="2", GUNICORN_THREADS="2"):
        with requests.Session() as session:
            for _ in range(30):
                session.get(f"{url}/readyz", headers={"Connection": "close"}, timeout=10)
        scrapes = [requests.get(f"{url}/metrics", timeout=10).text for _ in range(4)]
        assert {sample(text, "taskdeck_page_seconds_count", view="readyz") for text in scrapes} == {
            30.0
        }
