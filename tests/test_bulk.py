"""Bulk actions: a previewed set, each task written with its own If-Match, per-task results."""

from __future__ import annotations

import re
import time

import pytest

from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.signals import task_written
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db

HTMX = htmx_headers("bulk-panel")


@pytest.fixture(autouse=True)
def fast_bulk(settings):
    settings.TASKDECK_BULK_RATE = 500.0
    settings.TASKDECK_BULK_CHUNK_SECONDS = 0.02  # ten writes a chunk: several chunks per job


def preview(client, **data) -> tuple[object, str]:
    response = client.post("/w/Support/tasks/bulk/", data, **HTMX)
    body = response.content.decode()
    token = re.search(r"/bulk/([\w-]+)/run/", body)
    return response, token.group(1) if token else ""


def run_to_the_end(client, token: str) -> str:
    body = client.post(f"/w/Support/tasks/bulk/{token}/run/", {"step": "start"}, **HTMX)
    body = body.content.decode()
    for _ in range(100):
        if 'value="continue"' not in body:
            return body
        body = client.post(
            f"/w/Support/tasks/bulk/{token}/run/", {"step": "continue"}, **HTMX
        ).content.decode()
    raise AssertionError("the job never finished")


def results(body: str) -> dict[str, str]:
    return dict(
        re.findall(r'id="bulk-item-(WT\w+)">.*?<span class="result result-(\w+)">', body, re.S)
    )


def test_a_bulk_cancel_of_20_tasks_one_changed_meanwhile_reports_19_done_and_1_conflict(
    client, sandbox
):
    sids = sandbox.task_sids("pending", limit=20)
    response, token = preview(client, action="cancel", reason="duplicate", task=sids)
    body = response.content.decode()
    assert response.status_code == 200
    assert "20 to change" in body and "Cancel 20 tasks" in body
    # Someone else touches one task between the preview and the run.
    ws = sandbox.workspace_sid()
    changed = taskrouter.fetch_task(workspace_sid=ws, task_sid=sids[7])
    taskrouter.update_task(
        actor="tests@example.com",
        workspace_sid=ws,
        task_sid=sids[7],
        if_match=changed.etag,
        priority=3,
    )

    final = run_to_the_end(client, token)
    outcome = results(final)
    assert "19 done, 1 conflict" in final
    assert outcome[sids[7]] == "conflict"
    assert sum(state == "done" for state in outcome.values()) == 19
    assert taskrouter.fetch_task(workspace_sid=ws, task_sid=sids[7]).assignment_status == "pending"
    assert taskrouter.fetch_task(workspace_sid=ws, task_sid=sids[0]).reason == "duplicate"


def test_every_bulk_write_carries_the_version_read_at_preview(client, sandbox):
    sids = sandbox.task_sids("assigned", limit=5)
    ws = sandbox.workspace_sid()
    versions = {s: taskrouter.fetch_task(workspace_sid=ws, task_sid=s).etag for s in sids}
    seen = []

    def record(**kwargs):
        seen.append((kwargs["task_sid"], kwargs["if_match"]))

    task_written.connect(record)
    try:
        _, token = preview(client, action="complete", reason="shift handover", task=sids)
        run_to_the_end(client, token)
    finally:
        task_written.disconnect(record)
    assert sorted(seen) == sorted(versions.items())


def test_tasks_in_a_state_the_action_cannot_apply_to_are_skipped_with_the_reason(client, sandbox):
    pending = sandbox.task_sids("pending", limit=2)
    assigned = sandbox.task_sids("assigned", limit=2)
    response, token = preview(client, action="cancel", reason="cleanup", task=pending + assigned)
    body = response.content.decode()
    assert "2 to change, 2 skipped" in body
    assert body.count("Cannot cancel: it is not pending or reserved (it is assigned).") == 2
    final = run_to_the_end(client, token)
    assert "2 done, 2 skipped" in final


def test_everything_matching_the_filter_can_be_chosen(client, sandbox):
    query = "status=pending&queue=Technical%20Support"
    response, token = preview(
        client, action="priority", priority="42", everything="on", query=query
    )
    ws = sandbox.workspace_sid()
    matching = list(
        taskrouter.iter_tasks(
            workspace_sid=ws,
            query=taskrouter.TaskQuery(statuses=("pending",), task_queue_name="Technical Support"),
        )
    )
    assert len(results(response.content.decode())) == len(matching) > 0
    final = run_to_the_end(client, token)
    assert f"{len(matching)} done" in final
    assert {
        t.priority
        for t in taskrouter.iter_tasks(
            workspace_sid=ws,
            query=taskrouter.TaskQuery(statuses=("pending",), task_queue_name="Technical Support"),
        )
    } == {42}


def test_a_cancel_or_complete_needs_a_reason_and_a_priority_change_needs_a_priority(
    client, sandbox
):
    sids = sandbox.task_sids("pending", limit=2)
    no_reason, _ = preview(client, action="cancel", reason="", task=sids)
    assert no_reason.status_code == 422
    assert "Say why you cancel these tasks" in no_reason.content.decode()
    no_priority, _ = preview(client, action="priority", task=sids)
    assert "Enter the new priority" in no_priority.content.decode()
    nothing, _ = preview(client, action="priority", priority="3")
    assert "Select some tasks" in nothing.content.decode()


def test_failed_writes_can_be_retried_and_then_succeed(client, sandbox, loopback_sandbox):
    sids = sandbox.task_sids("pending", limit=6)
    _, token = preview(client, action="priority", priority="17", task=sids)
    loopback_sandbox.faults.set("503;times=2;methods=POST")
    final = run_to_the_end(client, token)
    assert "4 done, 2 failed" in final
    assert "Retry the 2 failed" in final
    retried = client.post(f"/w/Support/tasks/bulk/{token}/run/", {"step": "retry"}, **HTMX)
    body = retried.content.decode()
    while 'value="continue"' in body:
        body = client.post(
            f"/w/Support/tasks/bulk/{token}/run/", {"step": "continue"}, **HTMX
        ).content.decode()
    assert "6 done" in body


def test_results_stay_available_on_the_jobs_page(client, sandbox):
    sids = sandbox.task_sids("pending", limit=3)
    _, token = preview(client, action="priority", priority="8", task=sids)
    run_to_the_end(client, token)
    page = client.get(f"/w/Support/tasks/bulk/{token}/")
    assert page.status_code == 200
    assert "3 done" in page.content.decode() and "<html" in page.content.decode()


def test_a_job_belongs_to_the_session_that_made_it(client, sandbox, signed_in):
    _, token = preview(client, action="priority", priority="8", task=sandbox.task_sids("pending"))
    assert signed_in("admin").get(f"/w/Support/tasks/bulk/{token}/").status_code == 404


def test_writes_are_paced_within_the_configured_rate(client, sandbox, settings):
    settings.TASKDECK_BULK_RATE = 20.0
    settings.TASKDECK_BULK_CHUNK_SECONDS = 1.0
    sids = sandbox.task_sids("pending", limit=10)
    _, token = preview(client, action="priority", priority="5", task=sids)
    started = time.monotonic()
    run_to_the_end(client, token)
    # Ten writes at 20 a second: the last may start 0.45 s after the first.
    assert time.monotonic() - started >= 0.45


def test_everything_matching_with_taskrouter_down_is_explained_not_a_server_error(
    client, sandbox, loopback_sandbox
):
    loopback_sandbox.faults.set("503;path=/TaskQueues")
    response, _ = preview(
        client, action="priority", priority="4", everything="on", query="status=pending"
    )
    assert response.status_code == 503
    assert "TaskRouter had a problem" in response.content.decode()
