"""The service module against the sandbox over a real loopback socket: every operation,
typed results, paging, and every kind of error a supervisor can meet."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tasks_app.taskrouter import client, rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.query import TaskQuery
from tasks_app.taskrouter.rules import OrderKey
from tests.conftest import wait_until

# Every write leaves an audit record in Taskdeck's database (tasks_app/audit.py).
pytestmark = pytest.mark.django_db


@pytest.fixture
def ws(loopback_sandbox, sandbox) -> str:
    return sandbox.workspace_sid("Support")


# --- reading -------------------------------------------------------------------------------


def test_list_tasks_returns_typed_tasks_with_parsed_attributes_and_aware_dates(ws):
    page = taskrouter.list_tasks(workspace_sid=ws, page_size=5)
    assert len(page) == 5
    task = page.tasks[0]
    assert isinstance(task, taskrouter.Task)
    assert task.sid.startswith("WT") and task.workspace_sid == ws
    assert isinstance(task.attributes, dict)
    assert task.date_created.tzinfo is not None
    assert task.assignment_status in rules.STATUSES


def test_list_tasks_filters_by_several_statuses_and_orders_by_priority(ws):
    query = taskrouter.TaskQuery(
        statuses=("pending", "reserved"), ordering=(OrderKey("Priority", descending=True),)
    )
    page = taskrouter.list_tasks(workspace_sid=ws, query=query, page_size=50)
    assert {t.assignment_status for t in page} <= {"pending", "reserved"}
    priorities = [t.priority for t in page]
    assert priorities == sorted(priorities, reverse=True)


def test_list_tasks_filters_with_an_expression(ws):
    query = taskrouter.TaskQuery(evaluate_task_attributes='language == "es"')
    page = taskrouter.list_tasks(workspace_sid=ws, query=query, page_size=100)
    assert len(page) > 0
    assert all(t.attributes["language"] == "es" for t in page)


def test_paging_follows_page_tokens_without_repeating_or_skipping_tasks(ws):
    query = taskrouter.TaskQuery(
        statuses=("pending",), ordering=(OrderKey("Priority", descending=True),)
    )
    first = taskrouter.list_tasks(workspace_sid=ws, query=query, page_size=10)
    second = taskrouter.list_tasks(
        workspace_sid=ws, query=query, page_size=10, page_token=first.next_page_token
    )
    back = taskrouter.list_tasks(
        workspace_sid=ws, query=query, page_size=10, page_token=second.previous_page_token
    )
    everything = list(taskrouter.iter_tasks(workspace_sid=ws, query=query, page_size=10))
    assert [t.sid for t in first] + [t.sid for t in second] == [t.sid for t in everything[:20]]
    assert [t.sid for t in back] == [t.sid for t in first]
    assert len({t.sid for t in everything}) == len(everything)


def test_iter_tasks_stops_at_the_limit_across_pages(ws):
    tasks = list(taskrouter.iter_tasks(workspace_sid=ws, page_size=7, limit=23))
    assert len(tasks) == 23
    assert len({t.sid for t in tasks}) == 23


def test_fetch_task_carries_the_etag_it_was_read_at(ws, sandbox):
    sid = sandbox.task_sid("pending")
    task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
    assert task.sid == sid
    assert task.etag is not None and task.etag.isdigit()


def test_find_task_searches_every_workspace(sandbox, loopback_sandbox):
    sid = sandbox.task_sid("assigned", workspace="Sales & Renewals")
    task = taskrouter.find_task(task_sid=sid)
    assert task.workspace_sid == sandbox.workspace_sid("Sales & Renewals")


def test_directory_lists_are_typed_and_cached(ws, loopback_sandbox):
    queues = taskrouter.list_task_queues(workspace_sid=ws)
    workflows = taskrouter.list_workflows(workspace_sid=ws)
    channels = taskrouter.list_task_channels(workspace_sid=ws)
    assert len(queues) >= 5 and all(q.sid.startswith("WQ") for q in queues)
    assert workflows and isinstance(workflows[0].configuration, dict)
    assert {"default", "voice", "chat", "sms"} <= {c.unique_name for c in channels}
    # Cached: with TaskRouter failing, the directory still answers.
    loopback_sandbox.faults.set("503")
    assert taskrouter.list_task_queues(workspace_sid=ws) == queues


def test_a_page_that_writes_then_reads_sees_its_own_write_through_shared_reads(ws, sandbox):
    # A page keeps what it read from the shared cache (the read generation among it); its
    # own write must still end the shared reads it makes afterwards.
    query = TaskQuery(statuses=("pending",))
    with client.page_deadline():
        before = taskrouter.list_tasks(workspace_sid=ws, query=query, max_age=60)
        task = before.tasks[0]
        taskrouter.update_task(
            workspace_sid=ws,
            task_sid=task.sid,
            if_match=sandbox.fetch(task.sid).etag,
            attributes={**(task.attributes or {}), "note": "seen by the same page"},
            actor="tester",
        )
        after = taskrouter.list_tasks(workspace_sid=ws, query=query, max_age=60)
    changed = {t.sid: t for t in after.tasks}[task.sid]
    assert changed.attributes["note"] == "seen by the same page"


def test_resolve_workspace_accepts_a_sid_or_a_friendly_name_in_any_case(ws, loopback_sandbox):
    assert taskrouter.resolve_workspace(ws).sid == ws
    assert taskrouter.resolve_workspace("support").sid == ws
    with pytest.raises(taskrouter.NotFound):
        taskrouter.resolve_workspace("No Such Workspace")


# --- writing -------------------------------------------------------------------------------


def test_create_task_returns_the_new_task_at_version_zero(ws):
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0]
    task = taskrouter.create_task(
        actor="tests@example.com",
        workspace_sid=ws,
        workflow_sid=workflow.sid,
        attributes={"customer": {"name": "Ada"}, "language": "fr"},
        priority=7,
        timeout=600,
        task_channel="chat",
    )
    assert task.assignment_status == "pending"
    assert task.etag == "0"
    assert task.attributes == {"customer": {"name": "Ada"}, "language": "fr"}
    assert task.task_channel_unique_name == "chat"
    assert task.timeout == 600


def test_update_task_with_the_current_etag_applies_and_returns_the_next_version(ws, sandbox):
    sid = sandbox.task_sid("pending")
    task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
    updated = taskrouter.update_task(
        actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match=task.etag, priority=42
    )
    assert int(updated.etag) == int(task.etag) + 1


def test_update_task_with_a_stale_etag_is_a_precondition_failure(ws, sandbox):
    sid = sandbox.task_sid("pending")
    task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
    taskrouter.update_task(
        actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match=task.etag, priority=1
    )
    with pytest.raises(taskrouter.PreconditionFailed) as caught:
        taskrouter.update_task(
            actor="tests@example.com",
            workspace_sid=ws,
            task_sid=sid,
            if_match=task.etag,
            priority=2,
        )
    assert caught.value.http_status == 412 and caught.value.code == 20412


def test_a_refused_transition_carries_taskrouters_words(ws, sandbox):
    sid = sandbox.task_sid("assigned")
    task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
    with pytest.raises(taskrouter.Rejected) as caught:
        taskrouter.update_task(
            actor="tests@example.com",
            workspace_sid=ws,
            task_sid=sid,
            if_match=task.etag,
            assignment_status="canceled",
            reason="duplicate",
        )
    assert caught.value.code == 20001
    assert "because it is not pending or reserved" in caught.value.user_message


def test_delete_task_needs_the_current_version(ws, sandbox):
    sid = sandbox.task_sid("completed")
    task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
    with pytest.raises(taskrouter.PreconditionFailed):
        taskrouter.delete_task(
            actor="tests@example.com",
            workspace_sid=ws,
            task_sid=sid,
            if_match=str(int(task.etag) + 5),
        )
    taskrouter.delete_task(
        actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match=task.etag
    )
    with pytest.raises(taskrouter.NotFound):
        taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)


def test_no_write_is_sent_without_if_match(ws, sandbox, loopback_sandbox):
    sid = sandbox.task_sid("pending")
    loopback_sandbox.faults.set("500")  # would fail any request that went out
    with pytest.raises(taskrouter.InvalidParameter):
        taskrouter.update_task(
            actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match="", priority=3
        )
    with pytest.raises(taskrouter.InvalidParameter):
        taskrouter.delete_task(
            actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match="  "
        )


def test_every_write_is_announced_with_its_outcome(ws, sandbox):
    from tasks_app.taskrouter.signals import task_written

    seen = []

    def listener(**kwargs):
        seen.append(kwargs)

    task_written.connect(listener)
    try:
        sid = sandbox.task_sid("pending")
        with pytest.raises(taskrouter.PreconditionFailed):
            taskrouter.update_task(
                actor="tests@example.com",
                workspace_sid=ws,
                task_sid=sid,
                if_match="999",
                priority=3,
            )
    finally:
        task_written.disconnect(listener)
    assert seen[0]["operation"] == "update"
    assert seen[0]["if_match"] == "999"
    assert isinstance(seen[0]["outcome"], taskrouter.PreconditionFailed)


# --- validation before sending -----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (
            lambda ws: taskrouter.create_task(
                actor="tests@example.com", workspace_sid=ws, priority=-1
            ),
            "Priority",
        ),
        (
            lambda ws: taskrouter.create_task(
                actor="tests@example.com", workspace_sid=ws, timeout=0
            ),
            "Timeout",
        ),
        (
            lambda ws: taskrouter.create_task(
                actor="tests@example.com", workspace_sid=ws, timeout=1_209_601
            ),
            "Timeout",
        ),
        (
            lambda ws: taskrouter.create_task(
                actor="tests@example.com", workspace_sid=ws, attributes={"x": "y" * 5000}
            ),
            "Attributes",
        ),
        (
            lambda ws: taskrouter.create_task(
                actor="tests@example.com",
                workspace_sid=ws,
                virtual_start_time=datetime.now(UTC) + timedelta(hours=1),
            ),
            "VirtualStartTime",
        ),
        (
            lambda ws: taskrouter.create_task(
                actor="tests@example.com", workspace_sid=ws, workflow_sid="WW123"
            ),
            "WorkflowSid",
        ),
        (lambda ws: taskrouter.list_tasks(workspace_sid=ws, page_size=1001), "PageSize"),
        (lambda ws: taskrouter.list_tasks(workspace_sid="Support"), "WorkspaceSid"),
        (
            lambda ws: taskrouter.TaskQuery(evaluate_task_attributes="language == "),
            "EvaluateTaskAttributes",
        ),
        (
            lambda ws: taskrouter.TaskQuery(
                ordering=(OrderKey("DateCreated"), OrderKey("VirtualStartTime"))
            ),
            "Ordering",
        ),
        (lambda ws: taskrouter.TaskQuery(statuses=("open",)), "AssignmentStatus"),
        (lambda ws: taskrouter.fetch_task(workspace_sid=ws, task_sid="WT-nope"), "TaskSid"),
    ],
)
def test_invalid_input_is_refused_before_anything_is_sent(ws, loopback_sandbox, call, param):
    loopback_sandbox.faults.set("500")  # any request that went out would fail differently
    with pytest.raises(taskrouter.InvalidParameter) as caught:
        call(ws)
    assert caught.value.param == param
    assert caught.value.user_message


def test_attributes_with_a_status_change_to_wrapping_are_refused_as_two_requests(ws, sandbox):
    with pytest.raises(taskrouter.InvalidParameter, match="send two requests"):
        taskrouter.update_task(
            actor="tests@example.com",
            workspace_sid=ws,
            task_sid=sandbox.task_sid("assigned"),
            if_match="0",
            attributes={"a": 1},
            assignment_status="wrapping",
        )


# --- errors and retries ------------------------------------------------------------------


def test_an_unknown_task_is_not_found(ws):
    with pytest.raises(taskrouter.NotFound) as caught:
        taskrouter.fetch_task(workspace_sid=ws, task_sid="WT" + "0" * 32)
    assert caught.value.http_status == 404 and caught.value.code == 20404


def test_wrong_credentials_are_an_authentication_failure(ws, settings):
    settings.TWILIO_AUTH_TOKEN = "wrong"
    with pytest.raises(taskrouter.AuthenticationFailed) as caught:
        taskrouter.list_tasks(workspace_sid=ws)
    assert caught.value.code == 20003
    assert "wrong" not in caught.value.user_message


def test_api_key_credentials_are_accepted(ws, settings):
    from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS

    settings.TWILIO_API_KEY = DEVELOPMENT_CREDENTIALS.api_key
    settings.TWILIO_API_SECRET = DEVELOPMENT_CREDENTIALS.api_secret
    assert len(taskrouter.list_tasks(workspace_sid=ws, page_size=1)) == 1


def test_reads_are_retried_through_server_errors(ws, loopback_sandbox):
    loopback_sandbox.faults.set("503;times=2")
    assert len(taskrouter.list_tasks(workspace_sid=ws, page_size=3)) == 3


def test_reads_give_up_after_the_allowed_retries(ws, loopback_sandbox):
    loopback_sandbox.faults.set("502")
    with pytest.raises(taskrouter.Unavailable) as caught:
        taskrouter.list_tasks(workspace_sid=ws)
    assert caught.value.http_status == 502


def test_a_write_is_not_retried_after_a_server_error(ws, sandbox, loopback_sandbox):
    sid = sandbox.task_sid("pending")
    etag = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid).etag
    loopback_sandbox.faults.set("503;times=1;methods=POST")
    # Had it been retried, the retry would have succeeded (the fault is used up).
    with pytest.raises(taskrouter.Unavailable):
        taskrouter.update_task(
            actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match=etag, priority=9
        )
    assert taskrouter.fetch_task(workspace_sid=ws, task_sid=sid).etag == etag


def test_a_write_is_retried_after_429_because_taskrouter_did_not_process_it(
    ws, sandbox, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    etag = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid).etag
    loopback_sandbox.faults.set("429;times=2;methods=POST")
    updated = taskrouter.update_task(
        actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match=etag, priority=9
    )
    assert updated.priority == 9 or updated.etag == str(int(etag) + 1)


def test_persistent_rate_limiting_is_reported_as_such(ws, loopback_sandbox):
    loopback_sandbox.faults.set("429")
    with pytest.raises(taskrouter.RateLimited) as caught:
        taskrouter.list_tasks(workspace_sid=ws)
    assert caught.value.code == 20429


def test_retry_after_is_honoured(ws, loopback_sandbox):
    loopback_sandbox.faults.set("429;times=1;retry_after=1")
    started = time.monotonic()
    taskrouter.list_tasks(workspace_sid=ws, page_size=1)
    assert time.monotonic() - started >= 1.0


def test_a_slow_read_times_out_is_retried_and_then_reported(ws, settings, loopback_sandbox):
    settings.TASKROUTER_TIMEOUT = 0.3
    loopback_sandbox.faults.set("delay=1;times=1;methods=GET")
    assert len(taskrouter.list_tasks(workspace_sid=ws, page_size=2)) == 2  # retried
    loopback_sandbox.faults.set("delay=1;methods=GET")
    with pytest.raises(taskrouter.Unavailable, match="did not answer in time"):
        taskrouter.list_tasks(workspace_sid=ws, page_size=2)


def test_a_write_that_times_out_is_not_resent_and_says_it_may_have_applied(
    ws, sandbox, settings, loopback_sandbox
):
    settings.TASKROUTER_TIMEOUT = 0.3
    sid = sandbox.task_sid("pending")
    etag = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid).etag
    loopback_sandbox.faults.set("delay=1;times=1;methods=POST")
    with pytest.raises(taskrouter.Unavailable, match="cannot tell whether the change was saved"):
        taskrouter.update_task(
            actor="tests@example.com", workspace_sid=ws, task_sid=sid, if_match=etag, priority=11
        )

    def written() -> taskrouter.Task | None:
        task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
        return task if task.etag != etag else None

    # The sandbox finishes the delayed write after the client gave up on it.
    landed = wait_until(written, timeout=10)
    # Exactly one write reached TaskRouter: the version moved by one, not two.
    assert (landed.etag, landed.priority) == (str(int(etag) + 1), 11)


def test_a_dropped_connection_is_unavailable(ws, loopback_sandbox):
    loopback_sandbox.faults.set("drop")
    with pytest.raises(taskrouter.Unavailable):
        taskrouter.list_tasks(workspace_sid=ws)


def test_a_body_that_is_not_json_is_unavailable(ws, loopback_sandbox):
    loopback_sandbox.faults.set("malformed")
    with pytest.raises(taskrouter.Unavailable, match="could not read"):
        taskrouter.list_tasks(workspace_sid=ws)


def test_nobody_listening_is_unavailable(ws, settings, loopback_sandbox):
    loopback_sandbox.server.stop()  # settings still point at its address, now closed
    with pytest.raises(taskrouter.Unavailable, match="could not connect"):
        taskrouter.list_tasks(workspace_sid=ws)


def test_a_real_twilio_url_without_credentials_is_misconfigured(settings):
    settings.TASKROUTER_BASE_URL = "https://taskrouter.twilio.com"
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = ""
    with pytest.raises(taskrouter.Misconfigured, match="no TaskRouter credentials"):
        taskrouter.list_workspaces()


def test_a_malformed_base_url_is_misconfigured(settings):
    settings.TASKROUTER_BASE_URL = "taskrouter.twilio.com"
    with pytest.raises(taskrouter.Misconfigured, match="TASKROUTER_BASE_URL"):
        taskrouter.list_workspaces()


@pytest.mark.parametrize("token", ["PXWT" + "0" * 32, "PA", "PAWQ" + "0" * 32, "PA<script>"])
def test_a_page_token_not_of_taskrouters_shape_is_refused_before_sending(ws, token):
    with pytest.raises(taskrouter.InvalidParameter) as caught:
        taskrouter.list_tasks(workspace_sid=ws, page_token=token)
    assert caught.value.param == "PageToken"
