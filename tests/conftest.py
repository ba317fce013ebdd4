"""Fixtures shared by every test.

TaskRouter is faked with the sandbox itself, never with mocks of our client: each test
gets its own copy of a seeded sandbox file (seeded once a minute for the whole run, shared
by its workers: tests/sandbox/helpers.py, SeededTemplate; copied per test), reached
in-process by default, or over a real loopback socket with `loopback_sandbox`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.test import Client

from tasks_app import embedded_sandbox
from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    Credentials,
    FaultPlan,
    SandboxApp,
    SandboxServer,
    SandboxStore,
)
from tasks_app.taskrouter import client
from tasks_app.taskrouter import service as taskrouter
from tests import index_helpers, shared_connection
from tests.identities import IDENTITIES
from tests.sandbox.helpers import SeededTemplate, run_folder
from tests.xdist_groups import keep_xdist_group

T = TypeVar("T")

# Every test copies the seeded sandbox (about 14 MB) into its tmp_path, and SQLite syncs
# that copy when its last connection closes: on a disk, each test then waited for some
# 14 MB to be written (a run wrote over 30 GB) and for the file's deletion, though the copy
# is thrown away as the test passes. On a RAM-backed file system both are memory
# operations. tmp_path and tmp_path_factory keep their behaviour (a failing test's folder
# stays, for the run's life and pytest's usual three runs); only where they live changes.
# A temporary root chosen by whoever runs the tests (PYTEST_DEBUG_TEMPROOT, --basetemp)
# still wins.
RAM_DISK = Path("/dev/shm")
if RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK | os.X_OK):
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(RAM_DISK))

# Real worker processes (tests/workers.py): its fixtures serve every test module.
pytest_plugins = ["tests.workers"]

# Module-scoped worlds that take long to build: under ``make test`` (``--dist loadgroup``)
# the tests using one go to one worker in a group of their own, so one worker builds it.
# Spread over both workers, each built its own: a second 100,000-task seed (30 to 70 s), a
# second gunicorn with collectstatic, a second nginx and gunicorn, a second 4,000-task seed.
SHARED_WORLDS = {
    "hundred_thousand": "sandbox-100k",
    "big_store": "sandbox-4000",
    "served": "production-serving",
    "proxied": "nginx-proxy",
}


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    for item in items:
        for fixture, group in SHARED_WORLDS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
                break
    result = yield  # xdist's worker adds the "@group" suffix here (or should: see below)
    if getattr(config.option, "loadgroup", False):
        # Every xdist_group mark, wherever it was set (here, tests/browser/conftest.py, a
        # module's pytestmark): this hook sees every item once all marks are on.
        groups: dict[str, list[pytest.Item]] = {}
        for item in items:
            if mark := item.get_closest_marker("xdist_group"):
                name = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
                groups.setdefault(name, []).append(item)
        for group, members in groups.items():
            keep_xdist_group(members, group)
    return result


def wait_until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that; fail the test
    when ``timeout`` seconds pass first. For events that happen in another thread or
    process: a fixed sleep is either too short on a loaded machine or wasted on an idle one.
    Give ``timeout`` a wide margin; a fast machine returns at once."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not true after {timeout:g} s: {predicate!r}")
        time.sleep(interval)
    return result


def unless_locked(predicate: Callable[[], T]) -> Callable[[], T | bool]:
    """A poll beside a worker's thread in a transactional test: the test database (SQLite
    in memory, one shared cache for every connection) refuses a read while another thread
    writes, at once and without waiting as a file would; that is "not yet". Any other
    database error is the test's answer and is raised."""

    def poll() -> T | bool:
        try:
            return predicate()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            return False

    return poll


def htmx_headers(target: str | None = None) -> dict[str, str]:
    """The headers htmx sends with a request, as Django test client keyword arguments:
    ``client.get(url, **htmx_headers("task-rows"))`` asks for what an htmx swap into
    ``#task-rows`` would."""
    headers = {"HTTP_HX_REQUEST": "true"}
    if target:
        headers["HTTP_HX_TARGET"] = target
    return headers


@pytest.fixture(autouse=True)
def worker_threads_share_the_test_database(monkeypatch) -> Iterator[None]:
    """Bulk writes run in worker threads, and the audit trail records each from there. In
    production every thread has its own database connection; a test's database lives in
    one uncommitted transaction, which other connections cannot write beside, so worker
    threads borrow the test's connection (as Django's live server thread does), one
    statement at a time."""
    original = ThreadPoolExecutor.__init__
    serialized = []

    def init(self, *args, initializer=None, initargs=(), **kwargs):
        shared = connections[DEFAULT_DB_ALIAS]
        if shared_connection.one_statement_at_a_time not in shared.execute_wrappers:
            shared.execute_wrappers.append(shared_connection.one_statement_at_a_time)
            serialized.append(shared)

        def borrow(*args):
            shared.inc_thread_sharing()
            connections[DEFAULT_DB_ALIAS] = shared
            if initializer is not None:
                initializer(*args)

        original(self, *args, initializer=borrow, initargs=initargs, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "__init__", init)
    yield
    for shared in serialized:
        shared.execute_wrappers.remove(shared_connection.one_statement_at_a_time)


@pytest.fixture(name="client")
def admin_client_behind_sso() -> Client:
    """A browser behind the SSO proxy, signed in as an admin (so every action is allowed;
    tests of roles use `signed_in`)."""
    return Client(headers=IDENTITIES["admin"])


@pytest.fixture
def signed_in():
    """``signed_in("viewer")``: a new browser session of a person with that role."""

    def make(role: str) -> Client:
        return Client(headers=IDENTITIES[role])

    return make


@pytest.fixture(scope="session")
def seeded_sandbox_templates(tmp_path_factory: pytest.TempPathFactory) -> SeededTemplate:
    return SeededTemplate(
        tmp_path_factory.mktemp("sandbox-template"),
        shared=run_folder(tmp_path_factory, "seeded-sandboxes"),
    )


@pytest.fixture
def seeded_sandbox_file(seeded_sandbox_templates: SeededTemplate) -> Path:
    """A seeded sandbox file, seeded at most a minute ago (TaskRouter's housekeeping purges
    closed tasks minutes after they close: an older copy would lose them mid-test)."""
    return seeded_sandbox_templates.path()


@dataclass
class Sandbox:
    """The test's own sandbox: direct access to its data, beside the HTTP API."""

    store: SandboxStore

    def workspace_sid(self, friendly_name: str = "Support") -> str:
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT sid FROM workspaces WHERE friendly_name = ?", (friendly_name,)
            ).fetchone()
        return row["sid"]

    def task_sids(self, status: str, *, workspace: str = "Support", limit: int = 1) -> list[str]:
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT sid FROM tasks WHERE workspace_sid = ? AND assignment_status = ? "
                "ORDER BY sid LIMIT ?",
                (self.workspace_sid(workspace), status, limit),
            ).fetchall()
        return [row["sid"] for row in rows]

    def task_sid(self, status: str = "pending", *, workspace: str = "Support") -> str:
        return self.task_sids(status, workspace=workspace)[0]

    def vip_pending_sid(self) -> str:
        """A pending task of the VIP Care queue, whose workflow target fixes its priority
        (100): TaskRouter keeps that priority whatever is saved."""
        with self.store.read() as conn:
            return conn.execute(
                "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
                "WHERE q.friendly_name = 'VIP Care' AND t.assignment_status = 'pending' LIMIT 1"
            ).fetchone()["sid"]

    def fetch(self, sid: str, *, workspace: str = "Support") -> taskrouter.Task:
        """The task as TaskRouter has it now (through the service module)."""
        return taskrouter.fetch_task(workspace_sid=self.workspace_sid(workspace), task_sid=sid)

    def change(self, sid: str, *, workspace: str = "Support", **changes) -> taskrouter.Task:
        """Someone else (a colleague, an agent, TaskRouter itself) changes the task. Its
        audit record goes to the database a page the browser has open may be reading."""
        with shared_connection.LOCK:
            task = self.fetch(sid, workspace=workspace)
            return taskrouter.update_task(
                actor="colleague@example.com",
                workspace_sid=task.workspace_sid,
                task_sid=sid,
                if_match=task.etag,
                **changes,
            )


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, settings, seeded_sandbox_file: Path) -> Iterator[Sandbox]:
    """Every test runs against a fresh copy of the seeded sandbox (in-process)."""
    path = tmp_path / "sandbox.sqlite3"
    index_helpers.FIRST_ROUNDS.copied_ms = int(time.time() * 1000)
    shutil.copyfile(seeded_sandbox_file, path)
    settings.SANDBOX_DB_PATH = path
    settings.TASKROUTER_BASE_URL = settings.EMBEDDED_SANDBOX_URL
    for alias in settings.CACHES:  # the shared cache, and each process's fragments
        caches[alias].clear()
    store = SandboxStore(path)
    index_helpers.FIRST_ROUNDS.seed = seeded_sandbox_file  # the copy's origin, for follow_now
    yield Sandbox(store)
    index_helpers.FIRST_ROUNDS.seed = None
    store.close()
    client.reset_sessions()
    embedded_sandbox.reset()


@dataclass
class LoopbackSandbox:
    server: SandboxServer
    faults: FaultPlan
    store: SandboxStore

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def taskdeck_reaches(
    app: Callable, settings, credentials: Credentials = DEVELOPMENT_CREDENTIALS
) -> Iterator[SandboxServer]:
    """``app`` (a sandbox, or a WSGI wrapper of one) served over a real socket on 127.0.0.1,
    with Taskdeck pointed at it as it would be at taskrouter.twilio.com; stopped, and
    Taskdeck's HTTP sessions dropped, on leaving."""
    server = SandboxServer(app).start()
    settings.TASKROUTER_BASE_URL = server.url
    settings.TWILIO_ACCOUNT_SID = credentials.account_sid
    settings.TWILIO_AUTH_TOKEN = credentials.auth_token
    client.reset_sessions()
    try:
        yield server
    finally:
        server.stop()
        client.reset_sessions()


@pytest.fixture
def loopback_sandbox(sandbox: Sandbox, settings) -> Iterator[LoopbackSandbox]:
    """The same sandbox served over a real socket on 127.0.0.1, with injectable faults;
    Taskdeck is pointed at it as it would be at taskrouter.twilio.com."""
    faults = FaultPlan()
    app = SandboxApp(sandbox.store, credentials=DEVELOPMENT_CREDENTIALS, faults=faults)
    with taskdeck_reaches(app, settings) as server:
        settings.TASKROUTER_TIMEOUT = 2.0
        yield LoopbackSandbox(server=server, faults=faults, store=sandbox.store)


@pytest.fixture
def writes() -> Iterator[list[dict]]:
    """Every write Taskdeck starts to send to TaskRouter during the test (what the service
    module announces before the request goes out)."""
    from tasks_app.taskrouter.signals import task_write_started

    seen: list[dict] = []

    def record(sender, **kwargs):
        seen.append(kwargs)

    task_write_started.connect(record, dispatch_uid="tests-writes")
    yield seen
    task_write_started.disconnect(dispatch_uid="tests-writes")
