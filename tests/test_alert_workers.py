"""Alerts evaluated by real `manage.py worker` processes (the database queue, and RQ),
delivered to a webhook receiver on 127.0.0.1, with the evaluator killed by SIGKILL.

The view comes in through `manage.py taskdeck_views import`, as a runbook would bring it.
The workers follow the sandbox (over loopback) into the index and evaluate the alert every
TASKDECK_ALERT_SECONDS; the test changes TaskRouter and watches what the receiver gets."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tasks_app.taskrouter import service as taskrouter
from tests.backends import require_postgres, require_redis
from tests.conftest import wait_until
from tests.webhook_receiver import WebhookReceiver
from tests.workers import Worker, WorkerSite, site_environment

# The test's own writes to TaskRouter are audited in the test's database.
pytestmark = pytest.mark.django_db

INTERVAL = 2.0  # TASKDECK_ALERT_SECONDS in these tests
LEASE = 2.0  # TASKDECK_LEASE_SECONDS: a dead evaluator's lease lapses after this
PROBE = "alerts_worker_probe"
LEFT_BEHIND = (
    "saved_views_deliveryattempt", "saved_views_alertdelivery", "saved_views_alertstate",
    "saved_views_landingview", "saved_views_savedview", "fleet_lease",
    "index_indexedtask", "index_taskevent", "index_followcursor",
)  # fmt: skip


@pytest.fixture(scope="module")
def alerts_database() -> Iterator[str]:
    """A PostgreSQL database of this module's own, dropped after it."""
    server = require_postgres()
    name = f"alerts_workers_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.stop()


def open_probes(site: WorkerSite) -> int:
    """Open tasks with the probe attribute, as the workers' index has them now."""
    return site.query(
        "SELECT COUNT(*) FROM index_indexedtask WHERE attributes->>%s = 'true' "
        "AND deleted_at IS NULL AND status IN ('pending', 'reserved', 'assigned', 'wrapping')",
        PROBE,
    )[0][0]


def evaluator(site: WorkerSite, workers: list[Worker]) -> Worker | None:
    """The worker holding the alerts duty's lease now."""
    rows = site.query("SELECT holder FROM fleet_lease WHERE name = 'alerts' AND expires > NOW()")
    if not rows:
        return None
    pid = int(rows[0][0].split(":")[1])
    return next((w for w in workers if w.process.pid == pid and w.process.poll() is None), None)


def followed(site: WorkerSite, ws: str) -> bool:
    """The workers' follower has read the workspace to its end once."""
    return bool(
        site.query(
            "SELECT 1 FROM index_followcursor WHERE caught_up_at IS NOT NULL "
            "AND workspace_sid = %s",
            ws,
        )
    )


def create_probes(ws: str, number: int) -> list[str]:
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0].sid
    return [
        taskrouter.create_task(
            actor="tests", workspace_sid=ws, attributes={PROBE: True}, workflow_sid=workflow
        ).sid
        for _ in range(number)
    ]


def close(ws: str, sids: list[str]) -> None:
    for sid in sids:
        task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
        closed = "canceled" if task.assignment_status in ("pending", "reserved") else "completed"
        taskrouter.update_task(
            actor="tests", workspace_sid=ws, task_sid=sid, if_match=task.etag,
            assignment_status=closed, reason="alert test",
        )  # fmt: skip


def deliveries(site: WorkerSite) -> list[str]:
    """Every message the outbox holds, oldest first."""
    return [row[0] for row in site.query("SELECT state FROM saved_views_alertdelivery ORDER BY id")]


def stays(receiver: WebhookReceiver, expected: list[str], seconds: float) -> None:
    """Nothing more arrives for ``seconds`` (several intervals: silence while unchanged)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert receiver.states() == expected, receiver.states()
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["db", "rq"])
def test_an_imported_alert_fires_once_resolves_once_and_survives_a_sigkill_of_its_evaluator(
    backend, tmp_path: Path, sandbox, loopback_sandbox, alerts_database, receiver
):
    queue = f"alerts-test-{secrets.token_hex(4)}"
    env = site_environment(alerts_database, loopback_sandbox.url, backend, queue) | {
        "TASKDECK_ALERT_SECONDS": str(INTERVAL),
        "TASKDECK_LEASE_SECONDS": str(LEASE),
        "TASKDECK_FOLLOW_SECONDS": "0.5",
        "TASKDECK_ALERT_WEBHOOK_HOSTS": receiver.host,
        "TASKDECK_ALERT_SIGNING_SECRET": "worker-test-secret",
        "TASKDECK_ALERT_RETRY_SECONDS": "0.5",
    }
    site = WorkerSite(env=env, database=alerts_database, logs=tmp_path)
    site.manage("migrate", "--noinput")
    for table in LEFT_BEHIND:  # by the other backend's run, with its own sandbox
        site.query(f"DELETE FROM {table}")  # noqa: S608 - a table name of this module's
    views = tmp_path / "views.json"
    views.write_text(json.dumps({"views": [{
        "name": "Probe waiting", "workspace": "Support", "shared": True,
        "query": f"where={PROBE}%20%3D%3D%20true",
        "alert": {"count_above": 1, "webhook": receiver.url},
    }]}))  # fmt: skip
    assert "1 created" in site.manage("taskdeck_views", "import", str(views))
    ws = sandbox.workspace_sid()
    workers = site.started_workers(3)
    try:
        wait_until(lambda: evaluator(site, workers), timeout=60)
        wait_until(lambda: followed(site, ws), timeout=90)
        stays(receiver, [], 2 * INTERVAL)

        # 1. The condition starts: one firing, within two intervals of the index seeing it.
        first = create_probes(ws, 2)
        wait_until(lambda: open_probes(site) >= 2, timeout=60)
        started = time.monotonic()
        wait_until(lambda: receiver.states() == ["firing"], timeout=60)
        took = time.monotonic() - started
        print(f"firing ({backend}) {took:.1f} s after the index saw the condition")
        assert took <= 2 * INTERVAL, f"fired {took:.1f} s after the condition started"
        stays(receiver, ["firing"], 3 * INTERVAL)
        # 2. It stops: one resolved.
        close(ws, first)
        wait_until(lambda: open_probes(site) == 0, timeout=60)
        started = time.monotonic()
        wait_until(lambda: receiver.states() == ["firing", "resolved"], timeout=60)
        assert time.monotonic() - started <= 2 * INTERVAL
        stays(receiver, ["firing", "resolved"], 2 * INTERVAL)

        # 3. The evaluator is SIGKILLed as the condition starts again: its successor fires,
        # once (whether or not the dead one got to it), never twice and not never.
        second = create_probes(ws, 2)
        wait_until(lambda: open_probes(site) >= 2, timeout=60)
        killed = wait_until(lambda: evaluator(site, workers), timeout=30)
        killed.kill()
        wait_until(lambda: receiver.states() == ["firing", "resolved", "firing"],
                   timeout=LEASE + 4 * INTERVAL + 30)  # fmt: skip
        successor = wait_until(lambda: evaluator(site, workers), timeout=30)
        assert successor is not killed
        stays(receiver, ["firing", "resolved", "firing"], 3 * INTERVAL)

        # 4. The evaluator is SIGKILLed while the alert fires: the next one repeats nothing,
        # and sends the resolved once when the condition stops.
        successor.kill()
        third = wait_until(lambda: evaluator(site, workers), timeout=LEASE + 30)
        stays(receiver, ["firing", "resolved", "firing"], 2 * INTERVAL)
        close(ws, second)
        wait_until(lambda: open_probes(site) == 0, timeout=60)
        wait_until(lambda: receiver.states() == ["firing", "resolved", "firing", "resolved"],
                   timeout=LEASE + 4 * INTERVAL + 30)  # fmt: skip
        stays(receiver, ["firing", "resolved", "firing", "resolved"], 2 * INTERVAL)
        assert third.process.poll() is None
    finally:
        site.stop_workers()
        if backend == "rq":  # other runs share this Redis: leave nothing of this queue
            connection = redis.Redis.from_url(require_redis())
            for key in connection.scan_iter(f"rq:*{queue}*"):
                connection.delete(key)
    # The outbox holds exactly the four transitions; each message was signed.
    assert deliveries(site) == ["firing", "resolved", "firing", "resolved"]
    assert all(r.headers["Taskdeck-Signature"].startswith("sha256=") for r in receiver.received)
    assert {r.json["view"] for r in receiver.received} == {"Probe waiting"}
    repeats = len(receiver.received) - len(receiver.states())
    print(f"({backend}) messages received: {len(receiver.received)}, repeats: {repeats}")
