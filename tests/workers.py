"""Taskdeck's worker side in processes of its own, as production runs it: for tests of
what the workers do (bulk jobs, the fleet's duties) with real processes, real databases
and SIGKILL."""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tasks_app.sandbox.store import SandboxStore
from tests.backends import require_postgres, require_redis
from tests.conftest import wait_until
from tests.serving import free_port

# --- Real workers --------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
FINAL = ("done", "kept", "conflict", "invalid", "failed", "skipped")


@dataclass
class WorkerSite:
    """Taskdeck's worker side in processes of its own: its own database (a SQLite file,
    or a PostgreSQL database shared by this module's tests), production settings, the
    database task backend or RQ (on a queue of this test's own), the sandbox over
    loopback. Workers run as `manage.py worker` does in production, each in a process
    group of its own, serving its metrics on a port of its own."""

    env: dict[str, str]
    database: str  # a SQLite file, or a PostgreSQL URL
    logs: Path
    workers: list[subprocess.Popen] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def drain_the_database_queue(self) -> None:
        """Run what the database queue holds, then stop (db_worker --batch)."""
        self.manage(
            "db_worker", "--batch", "--no-startup-delay", "--no-reload",
            "--queue-name", "default",
        )  # fmt: skip

    def worker(self, **env: str) -> Worker:
        """``manage.py worker``, started and answering its metrics port."""
        return self.started_workers(1, **env)[0]

    def started_workers(self, number: int, **env: str) -> list[Worker]:
        """``number`` workers started together (each takes seconds to load Django on a busy
        machine: side by side rather than one after another), all answering their ports."""
        started = [self._spawn(**env) for _ in range(number)]
        for worker in started:
            wait_until(worker.answers, timeout=60)
        return started

    def _spawn(self, **env: str) -> Worker:
        port = free_port()
        while port in self.ports:  # workers started together: none may get another's port
            port = free_port()
        self.ports.add(port)
        log = self.logs / f"worker-{len(self.workers)}.log"
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "worker"],
            env={**self.env, "TASKDECK_WORKER_METRICS_PORT": str(port), **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            start_new_session=True,  # its own process group: a kill takes its children too
        )
        self.workers.append(process)
        return Worker(process, f"http://127.0.0.1:{port}/metrics", log)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def create_job(self, sids: list[str], workspace_sid: str, reason: str) -> int:
        code = (
            "from tasks_app import bulk;"
            "job = bulk.create(actor='ops@example.com', owner='worker-test', "
            f"workspace_sid={workspace_sid!r}, action='cancel', reason={reason!r}, "
            f"priority=None, selection=bulk.Selection(sids=tuple({sids!r})));"
            "print(job.pk)"
        )
        return int(self.manage("shell", "-c", code).split()[-1])

    def start_job(self, job_id: int) -> None:
        self.manage(
            "shell", "-c",
            f"from tasks_app import bulk; from tasks_app.models import BulkJob; "
            f"bulk.start(BulkJob.objects.get(pk={job_id}))",
        )  # fmt: skip

    def query(self, sql: str, *params) -> list[tuple]:
        if self.database.startswith("postgres://"):
            with psycopg.connect(self.database, autocommit=True) as conn:
                cursor = conn.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        with sqlite3.connect(self.database, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def states(self, job_id: int) -> dict[str, int]:
        return dict(
            self.query(
                "SELECT state, COUNT(*) FROM tasks_app_bulkitem WHERE job_id = ? GROUP BY state",
                job_id,
            )
        )

    def wait_for(self, job_id: int, condition, *, seconds: float = 60) -> dict[str, int]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = self.states(job_id)
            if condition(states):
                return states
            time.sleep(0.05)
        states = self.states(job_id)
        raise AssertionError(f"gave up waiting; items are {states}\n{self._warnings()}")

    def _warnings(self) -> str:
        """What the workers logged above INFO (the last few thousand characters)."""
        logs = "\n".join(
            line
            for log in sorted(self.logs.glob("worker-*.log"))
            for line in log.read_text().splitlines()
            if '"INFO"' not in line
        )
        return logs[-4000:]

    def explain(self, job_id: int, store: SandboxStore) -> str:
        """Each item of the job that is not done, with its message, its task's audit
        records since the job and what TaskRouter's Events say happened to it (and who
        did it): a rare failure carries its evidence."""
        lines = []
        for sid, state, message, write_id in self.query(
            "SELECT task_sid, state, message, write_id FROM tasks_app_bulkitem "
            "WHERE job_id = ? AND state <> 'done' ORDER BY position",
            job_id,
        ):
            lines.append(f"{sid} {state} (write {write_id}): {message}")
            for record in self.query(
                "SELECT write_id, outcome, message, version_after FROM tasks_app_auditrecord "
                "WHERE task_sid = ? AND started >= (SELECT created FROM tasks_app_bulkjob "
                "WHERE id = ?) ORDER BY started, id",
                sid,
                job_id,
            ):
                lines.append(f"    audit {record}")
            with store.read() as conn:
                for event in conn.execute(
                    "SELECT event_date_ms, event_type, actor_type, actor_sid, description "
                    "FROM events WHERE task_sid = ? ORDER BY seq",
                    (sid,),
                ):
                    lines.append(f"    event {tuple(event)}")
        return "\n".join(lines) + "\n" + self._warnings()

    def audit_outcomes(self, job_id: int, sids: list[str]) -> dict[str, list[str]]:
        """The outcome of each of the job's audit records by task ("open" for an intent
        never completed), oldest first. (The module's tests share one database, and
        their sandboxes the same task SIDs: only records since the job count.)"""
        rows = self.query(
            "SELECT task_sid, outcome, completed IS NOT NULL FROM tasks_app_auditrecord "
            "WHERE started >= (SELECT created FROM tasks_app_bulkjob WHERE id = ?) "
            "ORDER BY started, id",
            job_id,
        )
        found: dict[str, list[str]] = {sid: [] for sid in sids}
        for sid, outcome, completed in rows:
            if sid in found:
                found[sid].append(outcome if completed else "open")
        return found


@dataclass
class Worker:
    process: subprocess.Popen
    metrics_url: str
    log: Path

    def answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return requests.get(self.metrics_url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> float:
        """SIGKILL to the worker and every process of its group (an RQ work-horse
        included, were one forked); returns the moment it happened (time.monotonic)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        self.process.wait(timeout=10)
        return killed

    def metrics(self) -> str:
        return requests.get(self.metrics_url, timeout=5).text

    def writes(self) -> float:
        """TaskRouter writes this worker made (what its own metrics say)."""
        found = re.findall(
            r'taskdeck_taskrouter_calls_total\{endpoint="Task-Update"[^}]*\} ([0-9.e+]+)',
            self.metrics(),
        )
        return sum(float(value) for value in found)


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """One PostgreSQL database for this module's worker tests, dropped after them."""
    server = require_postgres()
    name = f"taskdeck_workers_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def site_environment(database_url: str, sandbox_url: str, backend: str, queue: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "worker-tests-only",
        "DJANGO_DEBUG": "0",
        "TASKDECK_SSO_DISABLED": "1",
        "DATABASE_URL": database_url,
        "CACHE_URL": "",
        "REDIS_URL": require_redis() if backend == "rq" else "",
        "TASKDECK_TASKS_BACKEND": backend,
        # A prefix (and so an RQ queue) of the test's own: other runs share this Redis.
        "TASKDECK_CACHE_PREFIX": queue,
        "TASKROUTER_BASE_URL": sandbox_url,
        "TWILIO_ACCOUNT_SID": DEVELOPMENT_CREDENTIALS.account_sid,
        "TWILIO_AUTH_TOKEN": DEVELOPMENT_CREDENTIALS.auth_token,
        "TASKDECK_BULK_RATE": "50",
        "TASKDECK_BULK_CHUNK_SECONDS": "0.2",
        "TASKDECK_BULK_STALE_SECONDS": "2",
        "TASKDECK_LEASE_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def worker_site(request, tmp_path: Path, loopback_sandbox) -> Iterator[WorkerSite]:
    """The worker side: "sqlite-db" (a file of its own, the database queue), or
    "postgresql-db" and "postgresql-rq" (this module's database, with the database queue
    or with RQ on a queue of this test's own). Tests pick with `sites(...)`."""
    engine, backend = request.param.split("-")
    if engine == "sqlite":
        database = str(tmp_path / "taskdeck.sqlite3")
        url = f"sqlite:///{database}"
    else:
        database = url = request.getfixturevalue("postgres_database")
    queue = f"taskdeck-test-{secrets.token_hex(4)}"
    env = site_environment(url, loopback_sandbox.url, backend, queue)
    site = WorkerSite(env=env, database=database, logs=tmp_path)
    site.manage("migrate", "--noinput")
    yield site
    site.stop_workers()
    if engine != "sqlite":  # the module's database outlives the test: leave no job behind
        site.query("DELETE FROM tasks_app_bulkitem")
        site.query("DELETE FROM tasks_app_bulkjob")
        site.query("DELETE FROM django_tasks_database_dbtaskresult")
    if backend == "rq":
        connection = redis.Redis.from_url(require_redis())
        for key in connection.scan_iter(f"rq:*{queue}*"):
            connection.delete(key)


def sites(*variants: str) -> pytest.MarkDecorator:
    """The worker_site variants a test runs with."""
    return pytest.mark.parametrize("worker_site", variants, indirect=True)
