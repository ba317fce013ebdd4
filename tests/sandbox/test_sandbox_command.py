"""``manage.py runsandbox``: serves the sandbox with Taskdeck's configured credentials."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, SandboxStore
from tasks_app.sandbox import store as store_module
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "AC" + "ab" * 16
TOKEN = "configured-token-that-must-stay-secret"
KEY = "SK" + "cd" * 16
SECRET = "configured-secret-that-must-stay-secret"


def _start(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen, str, list[str]]:
    # As a newcomer's shell has it: no Django, Twilio or sandbox settings at all.
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "SANDBOX_", "DJANGO_", "TASKROUTER_"))
    }
    clean.update(
        PYTHONUNBUFFERED="1",
        SANDBOX_DB_PATH=str(tmp_path / "from-settings.sqlite3"),
        **env,
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsandbox", "127.0.0.1:0", *args],
        cwd=REPO,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any("CONTROL-C" in line for line in lines):
        assert time.monotonic() < deadline, lines
        line = process.stdout.readline()
        assert line or process.poll() is None, lines
        lines.append(line)
    url = re.search(r"(http://127\.0\.0\.1:\d+)", "".join(lines)).group(1)
    return process, url, lines


def _stop(process: subprocess.Popen) -> None:
    # SIGTERM, not SIGINT: a job a shell starts in the background (`make test &`, a CI
    # runner) ignores SIGINT, and so would the sandbox. Status 0: it shut down cleanly.
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0


def test_runsandbox_serves_with_the_configured_credentials(tmp_path):
    process, url, lines = _start(
        tmp_path,
        "--tasks",
        "40",
        "--fault",
        "503;times=1;path=/Workspaces",
        "--list-attributes-null",
        "--simulate",
        "--rate",
        "50",
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_API_KEY=KEY,
        TWILIO_API_SECRET=SECRET,
    )
    try:
        output = "".join(lines)
        assert ACCOUNT in output
        assert KEY in output
        assert TOKEN not in output
        assert SECRET not in output
        assert (tmp_path / "from-settings.sqlite3").exists()
        workspaces = f"{url}/v1/Workspaces"
        assert requests.get(workspaces, auth=(ACCOUNT, TOKEN), timeout=5).status_code == 503
        body = requests.get(workspaces, auth=(ACCOUNT, TOKEN), timeout=5).json()
        assert body["workspaces"][0]["account_sid"] == ACCOUNT
        assert body["meta"]["url"].startswith(f"{url}/v1/Workspaces")
        assert requests.get(workspaces, auth=(KEY, SECRET), timeout=5).status_code == 200
        development = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)
        assert requests.get(workspaces, auth=development, timeout=5).status_code == 401
        tasks = body["workspaces"][0]["links"]["tasks"]
        page = requests.get(tasks, auth=(ACCOUNT, TOKEN), timeout=5).json()
        assert page["tasks"][0]["attributes"] is None
        before = {t["sid"]: t["assignment_status"] for t in page["tasks"]}

        def statuses() -> dict[str, str]:
            page = requests.get(tasks, auth=(ACCOUNT, TOKEN), timeout=5).json()
            return {t["sid"]: t["assignment_status"] for t in page["tasks"]}

        wait_until(lambda: statuses() != before, timeout=10)  # the simulator moves tasks
    finally:
        _stop(process)


def test_runsandbox_defaults_to_the_development_credentials_and_resets(tmp_path):
    db = tmp_path / "own.sqlite3"
    process, url, _ = _start(tmp_path, "--db", str(db), "--tasks", "30")
    development = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)
    try:
        workspaces = requests.get(f"{url}/v1/Workspaces", auth=development, timeout=5).json()
        support = workspaces["workspaces"][0]["links"]["tasks"]
        created = requests.post(support, auth=development, timeout=5)
        assert created.status_code == 400  # Support has two workflows: WorkflowSid needed
    finally:
        _stop(process)
    process, url, _ = _start(tmp_path, "--db", str(db), "--reset", "--tasks", "12")
    try:
        body = requests.get(f"{url}/v1/Workspaces", auth=development, timeout=5).json()
        counts = [
            len(requests.get(w["links"]["tasks"], auth=development, timeout=5).json()["tasks"])
            for w in body["workspaces"]
        ]
        assert sum(counts) == 12
    finally:
        _stop(process)


def test_the_readmes_simulate_command_runs_with_no_settings_in_the_environment(tmp_path):
    # manage.py runsandbox 127.0.0.1:8765 --simulate, with neither DJANGO_DEBUG nor
    # DJANGO_SECRET_KEY set (a free port here, so parallel runs do not collide).
    process, url, lines = _start(tmp_path, "--tasks", "20", "--simulate")
    development = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)
    try:
        assert any("simulating" in line for line in lines)
        workspaces = requests.get(f"{url}/v1/Workspaces", auth=development, timeout=5)
        assert workspaces.status_code == 200
    finally:
        _stop(process)


def test_runsandbox_purges_closed_tasks_after_purge_after_without_being_asked(tmp_path):
    db = tmp_path / "purging.sqlite3"
    process, url, lines = _start(tmp_path, "--db", str(db), "--tasks", "30", "--purge-after", "1")
    development = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)
    try:
        assert any("purging closed tasks 1 s after they close" in line for line in lines)
        workspaces = requests.get(f"{url}/v1/Workspaces", auth=development, timeout=5).json()
        sales = next(w for w in workspaces["workspaces"] if w["friendly_name"].startswith("Sales"))
        task = requests.post(sales["links"]["tasks"], auth=development, timeout=5).json()
        canceled = requests.post(
            task["url"], data={"AssignmentStatus": "canceled", "Reason": "test"},
            auth=development, timeout=5,
        )  # fmt: skip
        assert canceled.status_code == 200
        store = SandboxStore(db)

        def gone() -> bool:  # read from the file: no request reaches the server meanwhile
            with store.read() as conn:
                return store_module.fetch_task(conn, sales["sid"], task["sid"]) is None

        wait_until(gone, timeout=30)
        events = requests.get(
            sales["links"]["events"], params={"TaskSid": task["sid"]}, auth=development, timeout=5
        ).json()["events"]
        assert [e["event_type"] for e in events][-2:] == ["task.canceled", "task.system-deleted"]
        store.close()
    finally:
        _stop(process)
