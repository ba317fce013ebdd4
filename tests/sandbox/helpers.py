"""Constants and helpers shared by the sandbox tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, SandboxStore, workforce
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
    with store.write() as conn:
        store_module.update_task(conn, sid, {"assignment_status": status})


# --- Workforce scenarios ---------------------------------------------------------------------


class Clock:
    """A sandbox clock a test moves by hand (``SandboxApp(clock=...)``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @property
    def us(self) -> int:
        return store_module.to_us(self.now)


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
