"""Shared reads across instances: processes sharing Redis ask TaskRouter once for the same
page (single flight through a Redis lock), and a write made through any of them is seen at
once by its writer on all of them."""

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

from tasks_app.sandbox import Credentials, SandboxApp
from tasks_app.taskrouter import service as taskrouter
from tests.backends import require_redis
from tests.conftest import taskdeck_reaches

ROOT = Path(__file__).resolve().parent.parent

READER = """
import json, os
from tasks_app.taskrouter import service as taskrouter
ws = taskrouter.default_workspace().sid
query = taskrouter.TaskQuery(statuses=("pending",))
viewer = os.environ.get("VIEWER") or None
for _ in range(int(os.environ["READS"])):
    page = taskrouter.list_tasks(
        workspace_sid=ws, query=query, page_size=20, max_age=60, viewer=viewer
    )
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

    # This test process is one more instance on the same Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": require_redis(),
            "KEY_PREFIX": "taskdeck",
        }
    }
    with taskdeck_reaches(counting, settings, credentials) as server:
        counted.url = server.url
        yield counted


def readers(
    counted: CountingSandbox, tmp_path: Path, *, count: int, reads: int, viewer: str = ""
) -> list[dict]:
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
        "TASKROUTER_SHARED_READ_SECONDS": "60",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", READER],
            cwd=ROOT,
            env={**environment, "READS": str(reads), "VIEWER": viewer},
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
def test_processes_sharing_redis_read_a_page_once_and_a_writer_sees_their_write_on_any_of_them(
    counting_sandbox, sandbox, tmp_path, settings
):
    settings.TASKROUTER_SHARED_READ_SECONDS = 60
    pages = readers(counting_sandbox, tmp_path, count=3, reads=10)
    # Thirty reads by three instances of one page within its minute: one request.
    assert sum(counting_sandbox.lists.values()) == 1
    assert pages[0] == pages[1] == pages[2] and len(pages[0]) == 20

    # A supervisor changes a task on that page through this process (one instance) ...
    sid = sorted(pages[0])[0]
    task = taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sid)
    taskrouter.update_task(
        actor="lead@example.com",
        workspace_sid=task.workspace_sid,
        task_sid=sid,
        if_match=task.etag,
        priority=task.priority + 7,
    )
    # ... the other instances keep serving everyone else the shared read (the write
    # expires nobody's view) ...
    (other,) = readers(counting_sandbox, tmp_path, count=1, reads=5)
    assert sum(counting_sandbox.lists.values()) == 1
    assert other[sid] == task.priority
    # ... while the writer, on whichever instance serves them, sees the change at once
    # (one read, shared from then on).
    theirs = readers(counting_sandbox, tmp_path, count=2, reads=5, viewer="lead@example.com")
    assert sum(counting_sandbox.lists.values()) == 2
    assert theirs[0][sid] == theirs[1][sid] == task.priority + 7
