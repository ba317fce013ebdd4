"""Injected faults, over a real socket and in-process."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tasks_app.sandbox import Fault, FaultPlan
from tasks_app.taskrouter.errors import InvalidParameter
from tests.conftest import wait_until
from tests.sandbox.helpers import SALES, SUPPORT

TASKS = f"/Workspaces/{SUPPORT}/Tasks"


@pytest.mark.parametrize(
    ("spec", "status", "code", "message"),
    [
        ("429", 429, 20429, "Too Many Requests"),
        ("500", 500, 20500, "Internal Server Error"),
        ("502", 502, 20500, "Bad Gateway"),
        ("503", 503, 20503, "Service Unavailable"),
        ("504", 504, 20500, "Gateway Timeout"),
    ],
)
def test_error_faults_answer_in_twilios_shape(api, faults, spec, status, code, message):
    faults.set(spec)
    response = api.get(TASKS)
    assert response.status_code == status
    assert response.json() == {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Retry-After" not in response.headers


def test_a_429_can_say_retry_after(api, faults):
    faults.set("429;retry_after=3")
    response = api.get(TASKS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_a_429_is_never_processed(api, faults, store):
    task = api.post(f"/Workspaces/{SALES}/Tasks", {}).json()
    faults.set("429")
    assert api.post(task["url"], {"Priority": "9"}).status_code == 429
    faults.set(None)
    after = api.get(task["url"])
    assert after.json()["priority"] == 0
    assert after.headers["ETag"] == "0"


def test_faults_come_before_authentication(api, faults):
    faults.set("503")
    api.session.auth = None
    assert api.get(TASKS).status_code == 503


def test_times_limits_a_fault_to_the_next_n_requests(api, faults):
    faults.set("503;times=2")
    assert [api.get(TASKS).status_code for _ in range(4)] == [503, 503, 200, 200]
    assert faults.faults == ()


def test_methods_and_path_choose_which_requests_fail(api, faults):
    faults.set("500;methods=POST;path=/Tasks")
    assert api.get(TASKS).status_code == 200
    assert api.get(f"/Workspaces/{SUPPORT}/TaskQueues").status_code == 200
    assert api.post(f"/Workspaces/{SALES}/Tasks", {}).status_code == 500


def test_delay_slows_the_answer_and_then_answers(api, faults):
    faults.set("delay=0.3;times=1")
    started = time.monotonic()
    response = api.get(TASKS)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_delay_beyond_the_read_timeout_is_a_read_timeout(api, faults):
    faults.set("delay=1.5;times=1")
    with pytest.raises(requests.ReadTimeout):
        api.get(TASKS, timeout=(2, 0.3))


def test_a_request_waiting_in_a_delay_is_answered_at_once_when_its_server_stops(
    api, server, faults, store, caplog
):
    """A request still waiting when its server stops (a test ending, runsandbox's Ctrl-C)
    gets the answer of a server going away long before its 15 s delay would end, and
    touches no storage: the store's folder may be gone with the server."""
    faults.set("delay=15;times=1")
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(api.get, TASKS)
        wait_until(lambda: not faults.faults, timeout=10)  # in, waiting out its delay
        store.close()
        store.path.rename(store.path.with_suffix(".gone"))
        server.stop()
        response = answer.result(timeout=10)
    assert response.status_code == 503
    assert response.json()["message"] == "Service Unavailable"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_drop_closes_the_connection_without_an_answer(api, faults):
    faults.set("drop;times=1")
    with pytest.raises(requests.ConnectionError):
        api.get(TASKS)
    assert api.get(TASKS).status_code == 200


def test_malformed_is_a_200_whose_body_is_not_json(api, faults):
    faults.set("malformed;times=1")
    response = api.get(TASKS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_a_request_can_carry_its_own_fault(api):
    response = api.get(TASKS, headers={"X-Sandbox-Fault": "503"})
    assert response.status_code == 503
    assert api.get(TASKS).status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.get(TASKS, headers={"X-Sandbox-Fault": "drop"})


def test_a_bad_fault_header_is_400(api):
    response = api.get(TASKS, headers={"X-Sandbox-Fault": "explode"})
    assert response.status_code == 400
    assert "explode" in response.json()["message"]


def test_several_faults_add_delays_then_answer_with_the_first_other_kind(api, faults):
    faults.set(["delay=0.2;times=1", "502;times=1", "503;times=1"])
    started = time.monotonic()
    assert api.get(TASKS).status_code == 502
    assert time.monotonic() - started >= 0.2
    assert api.get(TASKS).status_code == 503
    assert api.get(TASKS).status_code == 200


@pytest.mark.parametrize(
    "spec", ["", "teapot", "delay", "delay=-1", "503;times=0", "503;times=x", "503;color=red"]
)
def test_invalid_fault_specs_are_refused(spec):
    with pytest.raises(InvalidParameter):
        Fault.parse(spec)


def test_a_fault_plan_parses_several_specs_and_prints_them():
    plan = FaultPlan.parse("503;times=2", "delay=1.5;methods=GET;path=/Tasks")
    assert [str(f) for f in plan.faults] == ["503;times=2", "delay=1.5;methods=GET;path=/Tasks"]


# In-process: the adapter reproduces the network's failures.


def test_drop_in_process_is_a_connection_error(inproc, faults):
    faults.set("drop;times=1")
    with pytest.raises(requests.ConnectionError):
        inproc.get(TASKS)
    assert inproc.get(TASKS).status_code == 200


def test_a_delay_beyond_the_read_timeout_in_process_is_a_read_timeout(inproc, faults):
    faults.set("delay=10;times=1")
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        inproc.get(TASKS, timeout=(3.05, 0.2))
    elapsed = time.monotonic() - started
    # Cut short at the read timeout, not after the delay: half the delay is a wide margin.
    assert 0.2 <= elapsed < 5


def test_a_write_that_timed_out_in_process_still_happens_later(inproc, faults):
    task = inproc.post(f"/Workspaces/{SALES}/Tasks", {}).json()
    faults.set("delay=0.4;times=1")
    with pytest.raises(requests.ReadTimeout):
        inproc.post(task["url"], {"Priority": "4"}, timeout=0.1)
    wait_until(lambda: inproc.get(task["url"]).json()["priority"] == 4, timeout=10)


def test_a_short_delay_in_process_answers(inproc, faults):
    faults.set("delay=0.1;times=1")
    assert inproc.get(TASKS, timeout=2).status_code == 200


def test_error_faults_in_process(inproc, faults):
    faults.set("429;retry_after=1;times=1")
    response = inproc.get(TASKS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert inproc.get(TASKS).status_code == 200


def test_times_is_exact_under_concurrent_requests(api, faults):
    from concurrent.futures import ThreadPoolExecutor

    faults.set("503;times=5")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: api.get(TASKS).status_code, range(24)))
    assert statuses.count(503) == 5
    assert statuses.count(200) == 19
