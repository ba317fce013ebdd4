"""The fleet-wide rate budget: several Taskdeck processes share TaskRouter's per-account
limits through Redis, against a sandbox that enforces them as TaskRouter does."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks_app.sandbox import Credentials, SandboxApp, SandboxServer
from tasks_app.sandbox.ratelimit import RateLimiter
from tasks_app.taskrouter import limits
from tests.backends import require_redis

ROOT = Path(__file__).resolve().parent.parent
CALLS = 20  # per process: two processes together go over the 30 a 10-s window allows

# Each process lists tasks filtered by an expression (TaskRouter allows 3 a second,
# averaged over 10 s) and reports how many calls failed.
SCRIPT = f"""
import json
from tasks_app.taskrouter import service as taskrouter
ws = taskrouter.default_workspace().sid
query = taskrouter.TaskQuery(evaluate_task_attributes="priority >= 0")
errors = []
for _ in range({CALLS}):
    try:
        taskrouter.list_tasks(workspace_sid=ws, query=query, page_size=1)
    except taskrouter.TaskRouterError as error:
        errors.append(type(error).__name__)
print(json.dumps(errors))
"""


@pytest.fixture
def limited_sandbox(sandbox) -> Iterator[tuple[str, Credentials, RateLimiter]]:
    # An account of its own, so nothing else on this Redis shares its budget.
    credentials = Credentials(
        account_sid="AC" + secrets.token_hex(16), auth_token=secrets.token_hex(16)
    )
    limiter = RateLimiter()
    app = SandboxApp(sandbox.store, credentials=credentials, rate_limits=limiter)
    server = SandboxServer(app).start()
    yield server.url, credentials, limiter
    server.stop()


def run_two_processes(url: str, credentials: Credentials, tmp_path: Path, **env) -> list:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "budget-tests-only",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'taskdeck.sqlite3'}",
        "CACHE_URL": require_redis(),
        "TASKROUTER_BASE_URL": url,
        "TWILIO_ACCOUNT_SID": credentials.account_sid,
        "TWILIO_AUTH_TOKEN": credentials.auth_token,
        # A 429 would surface as an error instead of being retried away.
        "TASKROUTER_MAX_RETRIES": "0",
        # These processes stand for background readers: they may wait out the window.
        "TASKDECK_BUDGET_READ_WAIT": "30",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    processes = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SCRIPT],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def test_two_processes_sharing_redis_stay_within_taskrouters_limit_and_get_no_429(
    limited_sandbox, tmp_path
):
    url, credentials, limiter = limited_sandbox
    assert limits.limit_for("Task-List-EvaluateTaskAttributes") == 3

    # Without the budget the same calls go over the limit: the sandbox refuses some.
    unbudgeted = run_two_processes(url, credentials, tmp_path, TASKDECK_RATE_BUDGET="0")
    assert limiter.refused > 0
    assert sum(len(errors) for errors in unbudgeted) == limiter.refused

    limiter.reset()
    budgeted = run_two_processes(url, credentials, tmp_path)
    assert budgeted == [[], []]
    assert limiter.refused == 0
    assert limiter.admitted == 2 * CALLS


def test_the_sandbox_answers_429_with_twilios_body_and_retry_after_over_the_limit(
    limited_sandbox,
):
    import requests

    url, credentials, _ = limited_sandbox
    auth = (credentials.account_sid, credentials.auth_token)
    workspaces = requests.get(f"{url}/v1/Workspaces", auth=auth, timeout=5).json()
    tasks = f"{url}/v1/Workspaces/{workspaces['workspaces'][0]['sid']}/Tasks"
    params = {"EvaluateTaskAttributes": "priority >= 0", "PageSize": "1"}
    answers = [requests.get(tasks, params=params, auth=auth, timeout=5) for _ in range(31)]
    assert [a.status_code for a in answers[:30]] == [200] * 30
    refused = answers[30]
    assert refused.status_code == 429
    assert refused.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    # Other endpoints have their own budget: a plain list still answers.
    assert requests.get(tasks, params={"PageSize": "1"}, auth=auth, timeout=5).status_code == 200


def test_the_budget_names_each_call_as_taskrouter_does_in_x_rate_limit_config(limited_sandbox):
    import requests

    url, credentials, _ = limited_sandbox
    auth = (credentials.account_sid, credentials.auth_token)
    ws = requests.get(f"{url}/v1/Workspaces", auth=auth, timeout=5).json()["workspaces"][0]
    tasks = f"/v1/Workspaces/{ws['sid']}/Tasks"
    listed = requests.get(url + tasks, params={"PageSize": "1"}, auth=auth, timeout=5).json()
    task = f"{tasks}/{listed['tasks'][0]['sid']}"
    calls = [
        ("GET", "/v1/Workspaces", {}),
        ("GET", f"/v1/Workspaces/{ws['sid']}", {}),
        ("GET", tasks, {"PageSize": "1"}),
        ("GET", tasks, {"EvaluateTaskAttributes": "priority >= 0"}),
        ("GET", task, {}),
        ("POST", task, {"Attributes": "{}"}),
        ("GET", f"/v1/Workspaces/{ws['sid']}/TaskQueues", {}),
        ("GET", f"/v1/Workspaces/{ws['sid']}/Workflows", {}),
    ]
    for method, path, params in calls:
        answer = requests.request(
            method,
            url + path,
            params=params if method == "GET" else None,
            data=params if method == "POST" else None,
            auth=auth,
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Rate-Limit-Config"] == limits.resource_key(method, path, params)
