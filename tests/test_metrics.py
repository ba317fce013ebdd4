"""What operations sees: Prometheus metrics on /metrics and JSON log lines with a request id."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

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


def test_calls_are_counted_from_the_clients_signal_not_its_log_lines(sandbox, monkeypatch):
    """Silencing the client's log lines (LOG_LEVEL=WARNING) must not stop the counting."""
    anonymous = Client()
    monkeypatch.setattr(logging.getLogger("tasks_app.taskrouter.client"), "level", logging.ERROR)
    key = {"endpoint": "Task-Fetch", "outcome": "ok"}
    before = sample(
        anonymous.get("/metrics").content.decode(), "taskdeck_taskrouter_calls_total", **key
    )
    sandbox.fetch(sandbox.task_sid("pending"))
    after = sample(
        anonymous.get("/metrics").content.decode(), "taskdeck_taskrouter_calls_total", **key
    )
    assert after == before + 1


def test_an_open_breaker_shows_on_the_metrics_page(client, sandbox, loopback_sandbox, settings):
    settings.TASKROUTER_BREAKER_FAILURES = 1
    settings.TASKROUTER_MAX_RETRIES = 0
    loopback_sandbox.faults.set("503;methods=GET;path=/Tasks/")
    sid = sandbox.task_sid("pending")

    def breaker(text: str, kind: str) -> float:
        return sample(text, "taskdeck_taskrouter_breaker_open", endpoint_class=kind)

    assert breaker(client.get("/metrics").content.decode(), "task") == 0
    with pytest.raises(taskrouter.Unavailable):
        taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sid)
    text = client.get("/metrics").content.decode()
    assert breaker(text, "task") == 1
    assert breaker(text, "tasks") == 0  # the task list's breaker is another one


def test_waits_for_the_rate_budget_are_timed(client, sandbox, settings):
    from tasks_app.taskrouter import budget

    settings.TASKDECK_RATE_BUDGET = True
    settings.TASKDECK_RATE_LIMITS = "Task-Fetch=1"  # ten fetches per ten seconds

    def waits() -> float:
        text = client.get("/metrics").content.decode()
        return sample(text, "taskdeck_budget_wait_seconds_count", endpoint="Task-Fetch")

    before = waits()
    workspace, sid = sandbox.workspace_sid(), sandbox.task_sid("pending")
    with budget.patience(1.5):
        for _ in range(10):
            taskrouter.fetch_task(workspace_sid=workspace, task_sid=sid)
        # The eleventh waits for budget (up to the patience), then gives up.
        with pytest.raises(taskrouter.RateLimited):
            taskrouter.fetch_task(workspace_sid=workspace, task_sid=sid)
    assert waits() > before


def test_the_service_package_imports_nothing_of_taskdeck_above_it():
    """taskrouter/ reports through its signals; it never imports metrics, views, models..."""
    above = re.compile(
        r"^\s*(from|import) tasks_app(\.| import )"
        r"(metrics|views|forms|tables|models|bulk|audit|identity|editing)",
        re.M,
    )
    package = Path(__file__).resolve().parents[1] / "tasks_app" / "taskrouter"
    offenders = [p.name for p in package.glob("*.py") if above.search(p.read_text())]
    assert offenders == []
