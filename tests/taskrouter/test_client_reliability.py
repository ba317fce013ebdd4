"""The client against a misbehaving TaskRouter: a deadline per page, a circuit breaker
shared through the cache, and credentials that never follow an answer to another host.

Delays are injected by the loopback sandbox; every time bound is a wide margin around the
configured deadline, never a claim that the machine is fast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, SandboxApp, SandboxServer
from tasks_app.taskrouter import client
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db  # writes record an audit entry

# --- next_page_url never takes the credentials elsewhere -----------------------------------


class _Recorder(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_GET(self) -> None:
        type(self).calls.append({"path": self.path, "auth": self.headers.get("Authorization")})
        body = b'{"tasks": [], "meta": {"page_size": 50, "next_page_url": null}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def foreign_server() -> Iterator[tuple[str, list[dict]]]:
    """Another server on 127.0.0.1 that records every request it gets."""
    calls: list[dict] = []
    handler = type("Recorder", (_Recorder,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox_naming_another_host(sandbox, settings, foreign_server):
    """The loopback sandbox, answering as if it lived at the foreign server's address: its
    next_page_url (built from the Host it is asked for) names that other server."""
    foreign_url, _ = foreign_server
    app = SandboxApp(sandbox.store, credentials=DEVELOPMENT_CREDENTIALS)

    def naming_foreign_host(environ, start_response):
        environ["HTTP_HOST"] = foreign_url.removeprefix("http://")
        return app(environ, start_response)

    server = SandboxServer(naming_foreign_host).start()
    settings.TASKROUTER_BASE_URL = server.url
    settings.TWILIO_ACCOUNT_SID = DEVELOPMENT_CREDENTIALS.account_sid
    settings.TWILIO_AUTH_TOKEN = DEVELOPMENT_CREDENTIALS.auth_token
    client.reset_sessions()
    yield
    server.stop()
    client.reset_sessions()


def test_a_next_page_url_on_another_host_is_refused_and_never_receives_the_credentials(
    sandbox, sandbox_naming_another_host, foreign_server
):
    _, calls = foreign_server
    tasks = taskrouter.iter_tasks(workspace_sid=sandbox.workspace_sid(), page_size=5)
    first_page = [next(tasks) for _ in range(5)]
    assert len(first_page) == 5
    with pytest.raises(taskrouter.Unavailable, match="another server"):
        next(tasks)
    assert calls == []


@pytest.mark.parametrize(
    "url",
    [
        "https://taskrouter.twilio.com.evil.example/v1/Workspaces",
        "https://evil.example/v1/Workspaces",
        "http://taskrouter.twilio.com/v1/Workspaces",  # the same host over plain HTTP
        "https://taskrouter.twilio.com:8443/v1/Workspaces",
        "https://user@evil.example/v1/Workspaces",
    ],
)
def test_only_the_configured_origin_is_followed(settings, url):
    settings.TASKROUTER_BASE_URL = "https://taskrouter.twilio.com"
    with pytest.raises(taskrouter.Unavailable, match="another server"):
        client.request("GET", url)


def test_the_configured_origin_is_followed_with_or_without_its_default_port(sandbox):
    workspaces = client.request("GET", "/v1/Workspaces").body["workspaces"]
    assert client.request("GET", workspaces[0]["url"]).body["sid"] == workspaces[0]["sid"]


# --- the deadline ---------------------------------------------------------------------------


def test_a_slow_taskrouter_costs_one_page_deadline_not_timeout_times_retries(
    sandbox, loopback_sandbox, settings
):
    settings.TASKROUTER_TIMEOUT = 10.0
    settings.TASKROUTER_MAX_RETRIES = 2
    settings.TASKROUTER_PAGE_DEADLINE = 2.0
    loopback_sandbox.faults.set("delay=15")
    ws, sid = sandbox.workspace_sid(), sandbox.task_sid()
    started = time.monotonic()
    with client.page_deadline():
        with pytest.raises(taskrouter.Unavailable):
            taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
        with pytest.raises(taskrouter.Unavailable):
            taskrouter.list_tasks(workspace_sid=ws)
    # Without the deadline this is 10 s x 3 attempts; 8 s is a wide margin over 2 s.
    assert time.monotonic() - started < 8


def test_every_call_of_one_page_shares_its_deadline(sandbox, loopback_sandbox, settings):
    settings.TASKROUTER_TIMEOUT = 10.0
    settings.TASKROUTER_PAGE_DEADLINE = 2.0
    loopback_sandbox.faults.set("delay=1.5")
    ws = sandbox.workspace_sid()
    started = time.monotonic()
    with client.page_deadline():
        taskrouter.list_tasks(workspace_sid=ws, page_size=1)  # 1.5 s of the 2 s
        with pytest.raises(taskrouter.Unavailable, match="did not answer"):
            taskrouter.list_tasks(workspace_sid=ws, page_size=2)
    assert time.monotonic() - started < 8


def test_retries_stop_when_the_deadline_is_spent(sandbox, loopback_sandbox, settings):
    settings.TASKROUTER_MAX_RETRIES = 50
    settings.TASKROUTER_RETRY_BACKOFF = 0.2
    settings.TASKROUTER_PAGE_DEADLINE = 1.5
    settings.TASKROUTER_BREAKER_FAILURES = 1000
    loopback_sandbox.faults.set("503")
    started = time.monotonic()
    with pytest.raises(taskrouter.Unavailable):
        taskrouter.list_tasks(workspace_sid=sandbox.workspace_sid())
    assert time.monotonic() - started < 8


def test_a_page_with_time_left_still_reads_normally(sandbox, loopback_sandbox, settings):
    settings.TASKROUTER_PAGE_DEADLINE = 6.0
    loopback_sandbox.faults.set("delay=0.3;times=1")
    with client.page_deadline():
        page = taskrouter.list_tasks(workspace_sid=sandbox.workspace_sid(), page_size=3)
    assert len(page) == 3


# --- the circuit breaker --------------------------------------------------------------------


@pytest.fixture
def breaker(settings):
    settings.TASKROUTER_MAX_RETRIES = 0
    settings.TASKROUTER_BREAKER_FAILURES = 3
    settings.TASKROUTER_BREAKER_COOLDOWN = 1.0
    return settings


def _fail_task_lists_until_the_breaker_opens(ws: str) -> None:
    """Three failing task-list reads: the `breaker` fixture's threshold."""
    for _ in range(3):
        with pytest.raises(taskrouter.Unavailable, match="HTTP 503"):
            taskrouter.list_tasks(workspace_sid=ws)


def _requests_seen(loopback_sandbox) -> list[str]:
    seen: list[str] = []
    original = loopback_sandbox.server.app

    def counting(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return original(environ, start_response)

    loopback_sandbox.server._server.set_app(counting)
    return seen


def test_after_repeated_failures_the_breaker_fails_fast_without_calling_taskrouter(
    sandbox, loopback_sandbox, breaker
):
    ws = sandbox.workspace_sid()
    seen = _requests_seen(loopback_sandbox)
    loopback_sandbox.faults.set("503")
    _fail_task_lists_until_the_breaker_opens(ws)
    assert len(seen) == 3
    with pytest.raises(client.CircuitOpen, match="failing for the task list"):
        taskrouter.list_tasks(workspace_sid=ws)
    assert len(seen) == 3  # refused without a request


def test_an_open_breaker_is_shared_through_the_cache_by_every_worker(
    sandbox, loopback_sandbox, breaker
):
    ws = sandbox.workspace_sid()
    loopback_sandbox.faults.set("503")
    _fail_task_lists_until_the_breaker_opens(ws)
    config = client.ClientConfig.from_settings()
    breaker_key = client._Breaker.for_call(config, "GET", f"/v1/Workspaces/{ws}/Tasks").key
    assert cache.get(breaker_key + ":open")  # in the cache every worker reads
    client.reset_sessions()  # a fresh session, as another worker would have
    with pytest.raises(client.CircuitOpen):
        taskrouter.list_tasks(workspace_sid=ws)


def test_one_endpoint_class_failing_does_not_stop_the_others(sandbox, loopback_sandbox, breaker):
    ws = sandbox.workspace_sid()
    loopback_sandbox.faults.set("503;path=/Tasks")
    _fail_task_lists_until_the_breaker_opens(ws)
    with pytest.raises(client.CircuitOpen):
        taskrouter.list_tasks(workspace_sid=ws)
    assert taskrouter.list_task_queues(workspace_sid=ws)  # the directory still answers


def test_after_the_cool_down_one_probe_goes_through_and_success_closes_the_breaker(
    sandbox, loopback_sandbox, breaker
):
    ws = sandbox.workspace_sid()
    loopback_sandbox.faults.set("503")
    _fail_task_lists_until_the_breaker_opens(ws)
    loopback_sandbox.faults.clear()
    with pytest.raises(client.CircuitOpen):
        taskrouter.list_tasks(workspace_sid=ws)
    deadline = time.monotonic() + 10
    while True:  # the cool-down (1 s) ends: poll until the probe is let through
        try:
            page = taskrouter.list_tasks(workspace_sid=ws, page_size=2)
            break
        except client.CircuitOpen:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert len(page) == 2
    assert len(taskrouter.list_tasks(workspace_sid=ws, page_size=2)) == 2  # closed again


def test_a_failed_probe_opens_the_breaker_again_at_once(sandbox, loopback_sandbox, breaker):
    ws = sandbox.workspace_sid()
    loopback_sandbox.faults.set("503")
    _fail_task_lists_until_the_breaker_opens(ws)
    deadline = time.monotonic() + 10
    while True:
        try:
            taskrouter.list_tasks(workspace_sid=ws)
        except client.CircuitOpen:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        except taskrouter.Unavailable:
            break  # the probe reached TaskRouter and failed
    with pytest.raises(client.CircuitOpen):
        taskrouter.list_tasks(workspace_sid=ws)


def test_a_write_refused_by_the_open_breaker_says_nothing_was_sent(
    sandbox, loopback_sandbox, breaker
):
    task = sandbox.fetch(sandbox.task_sid())
    loopback_sandbox.faults.set("503;methods=POST")
    for _ in range(3):
        with pytest.raises(taskrouter.Unavailable, match="HTTP 503"):
            taskrouter.update_task(
                actor="a@example.com",
                workspace_sid=task.workspace_sid,
                task_sid=task.sid,
                if_match=task.etag,
                priority=9,
            )
    with pytest.raises(client.CircuitOpen, match="Nothing was sent"):
        taskrouter.update_task(
            actor="a@example.com",
            workspace_sid=task.workspace_sid,
            task_sid=task.sid,
            if_match=task.etag,
            priority=9,
        )
    loopback_sandbox.faults.clear()
    assert sandbox.fetch(task.sid).priority == task.priority


def test_a_sent_write_whose_answer_is_lost_still_says_it_may_have_been_saved(
    sandbox, loopback_sandbox, breaker
):
    breaker.TASKROUTER_BREAKER_FAILURES = 1
    task = sandbox.fetch(sandbox.task_sid())
    loopback_sandbox.faults.set("delay=5;methods=POST")
    breaker.TASKROUTER_TIMEOUT = 0.5
    with pytest.raises(taskrouter.Unavailable, match="cannot tell whether the change"):
        taskrouter.update_task(
            actor="a@example.com",
            workspace_sid=task.workspace_sid,
            task_sid=task.sid,
            if_match=task.etag,
            priority=9,
        )
    # The write went out once and was not resent; the breaker opened after it, for the
    # next writes only.
    with pytest.raises(client.CircuitOpen):
        taskrouter.update_task(
            actor="a@example.com",
            workspace_sid=task.workspace_sid,
            task_sid=task.sid,
            if_match=task.etag,
            priority=10,
        )
    loopback_sandbox.faults.clear()
    breaker.TASKROUTER_TIMEOUT = 10.0  # reads from here on check the outcome, unhurried
    breaker.TASKROUTER_BREAKER_FAILURES = 1000
    deadline = time.monotonic() + 10
    while sandbox.fetch(task.sid).priority != 9:  # the late write lands, exactly once
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_answers_that_are_refusals_do_not_count_as_failures(sandbox, loopback_sandbox, breaker):
    ws = sandbox.workspace_sid()
    for _ in range(5):
        with pytest.raises(taskrouter.NotFound):
            taskrouter.fetch_task(workspace_sid=ws, task_sid="WT" + "0" * 32)
    assert taskrouter.fetch_task(workspace_sid=ws, task_sid=sandbox.task_sid()).sid


# --- reads in flight ------------------------------------------------------------------------


def test_when_every_read_slot_waits_on_a_hanging_taskrouter_more_reads_fail_fast(
    sandbox, loopback_sandbox, settings
):
    settings.TASKROUTER_MAX_READS_IN_FLIGHT = 2
    settings.TASKROUTER_TIMEOUT = 10.0
    settings.TASKROUTER_PAGE_DEADLINE = 6.0
    settings.TASKROUTER_BREAKER_FAILURES = 1000
    ws = sandbox.workspace_sid()
    loopback_sandbox.faults.set("delay=15")

    def slow_read():
        with pytest.raises(taskrouter.Unavailable):
            taskrouter.list_tasks(workspace_sid=ws)

    holders = [threading.Thread(target=slow_read) for _ in range(2)]
    for holder in holders:
        holder.start()

    # Both holders must hold their slots before the first probe: a probe that got a slot
    # first would itself wait out the 6 s on the hanging TaskRouter (a loaded machine can
    # start the holders' threads that late). The client's slots are read for that alone.
    def both_slots_taken() -> bool:
        slots = client._slots.get(2)
        return slots is not None and slots._value == 0

    wait_until(both_slots_taken, timeout=10)
    deadline = time.monotonic() + 5
    while True:  # poll until both slots are taken and the fail-fast window has begun
        started = time.monotonic()
        try:
            taskrouter.list_tasks(workspace_sid=ws)
        except client.Busy:
            if time.monotonic() - started < 0.1:
                break
        except taskrouter.Unavailable:
            pass
        assert time.monotonic() < deadline
    assert time.monotonic() - started < 0.1  # not the 6 s the holders are spending
    for holder in holders:
        holder.join(timeout=20)


def test_writes_never_wait_for_a_read_slot(sandbox, loopback_sandbox, settings):
    settings.TASKROUTER_MAX_READS_IN_FLIGHT = 1
    settings.TASKROUTER_BREAKER_FAILURES = 1000
    task = sandbox.fetch(sandbox.task_sid())
    loopback_sandbox.faults.set("delay=15;methods=GET")

    def slow_read():
        with pytest.raises(taskrouter.Unavailable):
            taskrouter.list_tasks(workspace_sid=task.workspace_sid)

    holder = threading.Thread(target=slow_read)
    holder.start()
    deadline = time.monotonic() + 5
    while client._slots.get(1) is None or client._slots[1]._value != 0:  # slot taken
        assert time.monotonic() < deadline
        time.sleep(0.01)
    updated = taskrouter.update_task(
        actor="a@example.com",
        workspace_sid=task.workspace_sid,
        task_sid=task.sid,
        if_match=task.etag,
        priority=12,
    )
    assert updated.priority == 12
    holder.join(timeout=20)


def test_once_a_page_met_an_outage_its_later_reads_fail_at_once(
    sandbox, loopback_sandbox, settings
):
    settings.TASKROUTER_MAX_RETRIES = 2
    ws = sandbox.workspace_sid()
    with client.page_deadline():
        taskrouter.list_tasks(workspace_sid=ws, page_size=1)
        loopback_sandbox.faults.set("503;times=3")  # one read and its two retries fail
        with pytest.raises(taskrouter.Unavailable, match="HTTP 503") as first:
            taskrouter.list_task_queues(workspace_sid=ws)
        started = time.monotonic()
        with pytest.raises(taskrouter.Unavailable) as later:
            taskrouter.list_tasks(workspace_sid=ws, page_size=2)  # TaskRouter is fine again
        assert time.monotonic() - started < 1
    assert later.value.user_message == first.value.user_message
    assert len(taskrouter.list_tasks(workspace_sid=ws, page_size=2)) == 2  # the next page reads
