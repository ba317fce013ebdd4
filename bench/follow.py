"""``python -m bench --follow``: how far behind TaskRouter the task index runs.

A sandbox with its clock running, and one worker (``manage.py worker --duties-only``, as
production runs the follower) following it with the default ``TASKDECK_FOLLOW_SECONDS``.
For ``seconds`` the bench changes tasks at ``rate`` events per second (priority updates,
one ``task.updated`` event each); then it reads, for every one of those events, the moment
TaskRouter recorded it (``event_date_ms``) and the moment the index applied it
(``indexed_at``): the lag. Target: p95 <= 3 s at 20 events/s.

Then the takeover: a second worker starts, the one holding the follow lease is killed
with SIGKILL, and the bench times how long a change made right after the kill takes to
reach the index (target: within 10 s).
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.stack import SANDBOX_AUTH, BenchError, Stack, workspace_sid

LAG_TARGET_P95_S = 3.0
TAKEOVER_TARGET_S = 10.0


def _query(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, params).fetchall()


def _wait(what: str, predicate: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise BenchError(f"gave up waiting for {what} after {timeout:.0f} s")


def _pending_sids(sandbox_url: str, ws: str, count: int) -> list[str]:
    answer = requests.get(
        f"{sandbox_url}/v1/Workspaces/{ws}/Tasks",
        params={"AssignmentStatus": "pending", "PageSize": count},
        auth=SANDBOX_AUTH,
        timeout=30,
    )
    answer.raise_for_status()
    return [task["sid"] for task in answer.json()["tasks"]]


def run_follow(
    *, rate: float = 20.0, seconds: float = 30.0, progress: Callable[[str], None]
) -> dict:
    with Stack() as stack:
        progress("seeding a sandbox whose clock runs")
        sandbox = stack.wait_sandbox(stack.start_sandbox("follow", seed_tasks=1000, static=False))
        env = stack.environ(taskrouter_url=sandbox.url)
        env["TASKDECK_WORKER_METRICS_PORT"] = "0"
        db = stack.dir / "taskdeck.sqlite3"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            check=True,
        )
        argv = [sys.executable, "manage.py", "worker", "--duties-only"]
        workers = [stack.spawn("worker-0", argv, env)]
        ws = workspace_sid(sandbox.url, "Support")
        progress("waiting for the follower's first complete read (30 days of events)")
        _wait(
            "the first read",
            lambda: bool(
                _query(
                    db,
                    "SELECT 1 FROM index_followcursor WHERE workspace_sid = ? "
                    "AND caught_up_at IS NOT NULL",
                    ws,
                )
            ),
            timeout=300,
        )
        sids = _pending_sids(sandbox.url, ws, 50)
        session = requests.Session()
        session.auth = SANDBOX_AUTH

        def change(priority: int, sid: str) -> str:
            answer = session.post(
                f"{sandbox.url}/v1/Workspaces/{ws}/Tasks/{sid}",
                data={"Priority": priority % 1000},
                timeout=30,
            )
            answer.raise_for_status()
            return answer.headers.get("ETag", "")

        progress(f"changing tasks at {rate:g} events/s for {seconds:g} s")
        started_ms = int(time.time() * 1000)
        begin = time.monotonic()
        made = 0
        for priority, sid in zip(itertools.count(1), itertools.cycle(sids)):
            due = begin + made / rate
            if due - begin >= seconds:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            change(priority, sid)
            made += 1
        ended_ms = int(time.time() * 1000)
        achieved = made / ((ended_ms - started_ms) / 1000)

        def applied() -> list[tuple]:
            return _query(
                db,
                "SELECT date_ms, indexed_at FROM index_taskevent WHERE workspace_sid = ? "
                "AND event_type = 'task.updated' AND date_ms >= ? AND date_ms <= ?",
                ws,
                started_ms,
                ended_ms,
            )

        _wait("every change to reach the index", lambda: len(applied()) >= made, timeout=120)
        lags = sorted(_lag_seconds(date_ms, indexed_at) for date_ms, indexed_at in applied())

        progress("takeover: a second worker starts, the holder is killed")
        workers.append(stack.spawn("worker-1", argv, env))
        time.sleep(3)  # the second worker is up and asking for leases
        holder = _query(db, "SELECT holder FROM fleet_lease WHERE name = ?", f"follow:{ws}")
        holder_pid = int(str(holder[0][0]).split(":")[1])
        victim = next((w for w in workers if w.pid == holder_pid), None)
        if victim is None:
            raise BenchError(f"no worker of this bench holds the follow lease ({holder})")
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        after_ms = int(time.time() * 1000)
        change(999, sids[0])
        _wait(
            "the other worker to take over",
            lambda: bool(
                _query(
                    db,
                    "SELECT 1 FROM index_taskevent WHERE workspace_sid = ? AND "
                    "event_type = 'task.updated' AND date_ms >= ?",
                    ws,
                    after_ms,
                )
            ),
            timeout=120,
        )
        takeover = time.monotonic() - killed

    result = {
        "events": made,
        "rate_per_s": round(achieved, 1),
        "lag_p50_s": round(statistics.median(lags), 2),
        "lag_p95_s": round(_percentile(lags, 95), 2),
        "lag_max_s": round(lags[-1], 2),
        "takeover_s": round(takeover, 1),
        "lease_seconds": float(os.environ.get("TASKDECK_LEASE_SECONDS") or 6),
    }
    result["ok"] = result["lag_p95_s"] <= LAG_TARGET_P95_S and takeover <= TAKEOVER_TARGET_S
    return result


def _lag_seconds(date_ms: int, indexed_at: str) -> float:
    moment = datetime.fromisoformat(str(indexed_at))
    if moment.tzinfo is None:  # Django keeps UTC in SQLite, without the offset
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() - date_ms / 1000


def _percentile(values: list[float], pct: float) -> float:
    index = max(0, min(len(values) - 1, round(pct / 100 * len(values)) - 1))
    return values[index]


def render_follow(result: dict) -> str:
    mark = "ok" if result["ok"] else "MISSED"
    return "\n".join(
        [
            "The task index behind TaskRouter (the follower in a worker, default settings)",
            f"  {result['events']} events at {result['rate_per_s']} events/s: lag p50 "
            f"{result['lag_p50_s']} s, p95 {result['lag_p95_s']} s (target <= "
            f"{LAG_TARGET_P95_S:g} s), max {result['lag_max_s']} s",
            f"  takeover after SIGKILL of the follower: {result['takeover_s']} s (target <= "
            f"{TAKEOVER_TARGET_S:g} s; lease {result['lease_seconds']:g} s)  [{mark}]",
        ]
    )
