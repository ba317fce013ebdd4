"""Shared reads across instances: processes sharing Redis ask TaskRouter once for the same
page (single flight through a Redis lock), and a write by any of them is seen by all."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tasks_app.sandbox import Credentials, SandboxApp, SandboxServer
from tasks_app.taskrouter import client as taskrouter_client
from tasks_app.taskrouter import service as taskrouter
from tests.backends import require_redis

ROOT = Path(__file__).resolve().parent.parent

READER = """
import json, os
from tasks_app.taskrouter import service as taskrouter
ws = taskrouter.default_workspace().sid
query = taskrouter.TaskQuery(statuses=("pending",))
for _ in range(int(os.environ["READS"])):
    page = taskrouter.list_tasks(workspace_sid=ws, query=query, page_size=20, max_age=60)
print(json.dumps({task.sid: task.priority for task in page.tasks}))
"""


@dataclass
class CountingSandbox:
    """The sandbox over loopback, counting the task lists it is asked for."""

    url: str
    credentials: Credentials
    lists: Counter = field(default_factory=Counter)


@pytest.fixture
def counting_sandbox(sandbox, settings) -> Iterator[CountingSandbox]:
    credentials = Credentials(
        account_sid="AC" + secrets.token_hex(16), auth_token=secrets.token_hex(16)
    )
    app = SandboxApp(sandbox.store, credentials=credentials)
    counted = CountingSandbox(url="", credentials=credentials)
    lock = threading.Lock()

    def counting(environ, start_response):
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].endswith("/Tasks"):
            with lock:
                counted.lists[environ["PATH_INFO"]] += 1
        return app(environ, start_response)

    server = SandboxServer(counting).start()
    counted.url = server.url
    # This test process is one more instance on the same Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": require_redis(),
            "KEY_PREFIX": "taskdeck",
        }
    }
    settings.TASKROUTER_BASE_URL = server.url
    settings.TWILIO_ACCOUNT_SID = credentials.account_sid
    settings.TWILIO_AUTH_TOKEN = credentials.auth_token
    taskrouter_client.reset_sessions()
    yield counted
    server.stop()
    taskrouter_client.reset_sessions()


def readers(counted: CountingSandbox, tmp_path: Path, *, count: int, reads: int) -> list[dict]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "shared-read-tests-only",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'taskdeck.sqlite3'}",
        "CACHE_URL": require_redis(),
        "TASKROUTER_BASE_URL": counted.url,
        "TWILIO_ACCOUNT_SID": counted.credentials.account_sid,
        "TWILIO_AUTH_TOKEN": counted.credentials.auth_token,
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", READER],
            cwd=ROOT,
            env={**environment, "READS": str(reads)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    pages = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        pages.append(json.loads(out.strip().splitlines()[-1]))
    return pages


@pytest.mark.django_db
def test_processes_sharing_redis_read_a_page_from_taskrouter_once_and_see_each_others_writes(
    counting_sandbox, sandbox, tmp_path
):
    pages = readers(counting_sandbox, tmp_path, count=3, reads=10)
    # Thirty reads by three instances of one page within its minute: one request.
    assert sum(counting_sandbox.lists.values()) == 1
    assert pages[0] == pages[1] == pages[2] and len(pages[0]) == 20

    # Another instance (this process) changes a task on that page ...
    sid = sorted(pages[0])[0]
    task = taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sid)
    taskrouter.update_task(
        actor="tests@example.com",
        workspace_sid=task.workspace_sid,
        task_sid=sid,
        if_match=task.etag,
        priority=task.priority + 7,
    )
    # ... and every instance drops what it had cached: the next readers see the change.
    after = readers(counting_sandbox, tmp_path, count=2, reads=5)
    assert sum(counting_sandbox.lists.values()) == 2
    assert after[0][sid] == after[1][sid] == task.priority + 7
