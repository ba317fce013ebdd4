"""Constants and helpers shared by the sandbox tests (fixtures are in conftest.py)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    SandboxApp,
    SandboxStore,
    ensure_seeded,
    in_process_adapter,
    workforce,
)
from tasks_app.sandbox import store as store_module
from tasks_app.sandbox.ledger import Context
from tasks_app.sandbox.seed import seeded_sid

SEED = 7
SEED_TASKS = 600
AUTH = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)
KEY_AUTH = (DEVELOPMENT_CREDENTIALS.api_key, DEVELOPMENT_CREDENTIALS.api_secret)
IN_PROCESS_URL = "http://taskrouter.sandbox.invalid"

SUPPORT = seeded_sid("WS", SEED, "ws/support")
SALES = seeded_sid("WS", SEED, "ws/sales")
TRAINING = seeded_sid("WS", SEED, "ws/training")


class SeededTemplate:
    """A seeded sandbox file for tests to copy, seeded again once a minute old.

    Every sandbox runs TaskRouter's housekeeping: the seed's closed tasks (closed up to two
    minutes before seeding) are purged 5 to 8 minutes after closing. A copy must read as
    seeded moments ago, or a long test run would see them vanish halfway.

    Seeding takes seconds of CPU (some 3 to 6 s for 600 tasks), and a run seeds again every
    minute: done by every worker for itself, and again for the sandbox's own tests, that
    was a large share of the suite's work. So the seeded files are shared by every worker of
    the run (``shared``, a folder of the run's own): the first to find the newest one a
    minute old seeds the next, under a lock, and the others copy it. The age is the one the
    file states (its ``seeded_at``, taken as seeding starts). Each worker still copies the
    shared file to a template of its own in ``directory``, as before: tests may open it.
    """

    max_age = 60.0
    # A shared file no copy can still be taken from (path() hands out files under a minute
    # old, and a test copies its template within its own few minutes) is removed.
    forget_after = 15 * 60.0

    def __init__(
        self,
        directory: Path,
        *,
        tasks: int = SEED_TASKS,
        seed: int = SEED,
        shared: Path | None = None,
    ) -> None:
        self.directory = directory
        self.tasks, self.seed = tasks, seed
        self.shared = shared or directory
        self._path: Path | None = None
        self._seeded = 0.0  # when the template was seeded, on time.monotonic()'s clock

    def path(self) -> Path:
        if self._path is None or time.monotonic() - self._seeded > self.max_age:
            shared, age = self._fresh_shared_file()
            path = self.directory / f"sandbox-{time.monotonic_ns()}.sqlite3"
            shutil.copyfile(shared, path)
            if self._path is not None:  # copied by the tests that came before, done now
                # With its -wal and -shm, and the copy a kept first round was read from
                # (tests/index_helpers.py): in memory, and kept with a failed run.
                stem = self._path.stem
                for pattern in (f"{stem}.sqlite3*", f"{stem}-first-round.sqlite3*"):
                    for old in self.directory.glob(pattern):
                        old.unlink()
            self._path, self._seeded = path, time.monotonic() - age
        return self._path

    def _fresh_shared_file(self) -> tuple[Path, float]:
        """The newest shared seeded file and its age in seconds, seeding one when the
        newest is a minute old (or none is there yet)."""
        self.shared.mkdir(parents=True, exist_ok=True)
        prefix = f"seeded-{self.tasks}-{self.seed}-"
        with (self.shared / f"{prefix}lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            now = time.time()
            found = sorted(
                (int(path.stem.removeprefix(prefix)), path)
                for path in self.shared.glob(f"{prefix}*.sqlite3")
            )
            for seeded_us, path in found[:-1]:
                if now - seeded_us / 1e6 > self.forget_after:
                    path.unlink(missing_ok=True)
            if found and now - found[-1][0] / 1e6 < self.max_age:
                seeded_us, path = found[-1]
                return path, max(0.0, now - seeded_us / 1e6)
            seeding = self.shared / f"{prefix}seeding.sqlite3"
            for leftover in self.shared.glob(f"{seeding.name}*"):
                leftover.unlink()
            template = SandboxStore(seeding)
            ensure_seeded(template, tasks=self.tasks, seed=self.seed)
            with template.read() as conn:
                seeded_us = int(
                    conn.execute("SELECT value FROM meta WHERE key = 'seeded_at'").fetchone()[0]
                )
            template.close()  # the last connection: its WAL is folded in and removed
            path = seeding.rename(self.shared / f"{prefix}{seeded_us}.sqlite3")
            return path, max(0.0, time.time() - seeded_us / 1e6)


def run_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this test run's own, shared by its xdist workers (each worker's base
    temporary folder is one of the run's, named after the worker)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


@dataclass
class Api:
    """requests against one sandbox, with paths relative to ``/v1``."""

    base_url: str
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}/v1{path}"

    def get(self, path: str, params: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.url(path), params=params, **kwargs)

    def post(self, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.post(self.url(path), data=data, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.delete(self.url(path), **kwargs)

    def tasks(self, workspace: str = SUPPORT) -> str:
        return f"/Workspaces/{workspace}/Tasks"


def task_in_status(store: SandboxStore, status: str, workspace: str = SUPPORT) -> str:
    """A seeded task's SID in ``status`` (the seed covers every status)."""
    with store.read() as conn:
        row = conn.execute(
            "SELECT sid FROM tasks WHERE workspace_sid = ? AND assignment_status = ? "
            "ORDER BY sid LIMIT 1",
            (workspace, status),
        ).fetchone()
    return row["sid"]


def set_status(store: SandboxStore, sid: str, status: str) -> None:
    """Put a task in ``status`` as of now (a closed one is purged 5 to 8 minutes later)."""
    with store.write() as conn:
        store_module.update_task(
            conn, sid, {"assignment_status": status, "date_updated": store_module.now_us()}
        )


@dataclass
class Clock:
    """An injected clock for a sandbox app: it moves only when told to."""

    moment: datetime

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)

    @property
    def us(self) -> int:
        return store_module.to_us(self.moment)


def seeded_at(store: SandboxStore) -> datetime:
    with store.read() as conn:
        value = conn.execute("SELECT value FROM meta WHERE key = 'seeded_at'").fetchone()[0]
    return datetime.fromtimestamp(int(value) / 1_000_000, UTC)


def clocked(store: SandboxStore, clock: Clock, **options: Any) -> Api:
    """An in-process client of an app on ``clock`` (``options`` go to SandboxApp)."""
    app = SandboxApp(store, credentials=DEVELOPMENT_CREDENTIALS, clock=clock, **options)
    client = Api(IN_PROCESS_URL)
    client.session.auth = AUTH
    client.session.mount(IN_PROCESS_URL, in_process_adapter(app))
    return client


def record_reservation(
    store: SandboxStore, task: dict, *, reservation: str, worker: str, now: int
) -> None:
    """Record a ``reservation.created`` for ``task`` the way the sandbox's workforce will:
    through ``events.emit``, in a write transaction."""
    from tasks_app.sandbox import events

    workspace = task["workspace_sid"]
    data = {
        "reservation_sid": reservation,
        "task_channel_sid": task["task_channel_sid"],
        "task_queue_sid": task["task_queue_sid"],
        "task_sid": task["sid"],
        "worker_sid": worker,
        "workflow_sid": task["workflow_sid"],
    }
    event = events.Event(
        event_type="reservation.created",
        description=f"Task {task['sid']} reserved for worker {worker}",
        resource_type="reservation",
        resource_sid=reservation,
        resource_url=f"/Workspaces/{workspace}/Tasks/{task['sid']}/Reservations/{reservation}",
        data=data,
        task_sid=task["sid"],
        task_queue_sid=task["task_queue_sid"],
        workflow_sid=task["workflow_sid"],
        task_channel_sid=task["task_channel_sid"],
        worker_sid=worker,
        reservation_sid=reservation,
    )
    with store.write() as conn:
        events.emit(conn, workspace, events.system(workspace), [event], now=now)


# --- Workforce scenarios ---------------------------------------------------------------------


def add_queue(
    store: SandboxStore,
    workspace: str,
    name: str,
    target_workers: str = "1 == 1",
    *,
    task_order: str = "FIFO",
    max_reserved_workers: int = 1,
) -> str:
    """A TaskQueue the sandbox's API cannot create: written directly, its members found."""
    sid = "WQ" + uuid.uuid4().hex
    now = store_module.now_us()
    with store.write() as conn:
        conn.execute(
            "INSERT INTO task_queues VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?)",
            (sid, workspace, name, target_workers, task_order, max_reserved_workers, now, now),
        )
        workforce.refresh_queue(Context(conn, now), sid)
    return sid


def add_workflow(
    store: SandboxStore,
    workspace: str,
    name: str,
    configuration: dict[str, Any],
    *,
    reservation_timeout: int = 120,
) -> str:
    """A Workflow the sandbox's API cannot create: written directly."""
    sid = "WW" + uuid.uuid4().hex
    now = store_module.now_us()
    with store.write() as conn:
        conn.execute(
            "INSERT INTO workflows VALUES (?, ?, ?, ?, NULL, NULL, 'application/json', ?, ?, ?)",
            (sid, workspace, name, json.dumps(configuration), reservation_timeout, now, now),
        )
    return sid


def activity_sids(api: Api, workspace: str) -> dict[str, str]:
    body = api.get(f"/Workspaces/{workspace}/Activities").json()
    return {a["friendly_name"]: a["sid"] for a in body["activities"]}


def all_events(api: Api, workspace: str, **params: Any) -> list[dict]:
    """Every Event of ``workspace`` matching ``params``, across all pages."""
    body = api.get(f"/Workspaces/{workspace}/Events", {"PageSize": 1000, **params}).json()
    found = body["events"]
    while body["meta"]["next_page_url"]:
        body = api.get(body["meta"]["next_page_url"]).json()
        found += body["events"]
    return found


def event_types(found: list[dict]) -> list[str]:
    return [event["event_type"] for event in found]


# --- Scenarios in the Training workspace (no tasks; workers the test hires) -----------------


def hire(api: Api, name: str, activity: str | None, **attributes) -> dict:
    form = {"FriendlyName": name, "Attributes": json.dumps(attributes)}
    if activity:
        form["ActivitySid"] = activity
    response = api.post(f"/Workspaces/{TRAINING}/Workers", form)
    assert response.status_code == 201, response.text
    return response.json()


def new_task(api: Api, workflow: str | None = None, channel: str = "voice", **attributes) -> dict:
    form = {"Attributes": json.dumps(attributes), "TaskChannel": channel}
    if workflow:
        form["WorkflowSid"] = workflow
    response = api.post(f"/Workspaces/{TRAINING}/Tasks", form)
    assert response.status_code == 201, response.text
    return response.json()


def reservations(api: Api, task: dict, **params) -> list[dict]:
    return api.get(f"{task['url']}/Reservations", params).json()["reservations"]


def status(api: Api, task: dict) -> str:
    return api.get(task["url"]).json()["assignment_status"]


def worker(api: Api, who: dict) -> dict:
    return api.get(who["url"]).json()


def answer(api: Api, reservation: dict, status: str, **form) -> dict:
    response = api.post(reservation["url"], {"ReservationStatus": status, **form})
    assert response.status_code == 200, response.text
    return response.json()
