"""A busy contact centre for the sandbox: tasks arrive, get reserved, assigned, wrapped, completed.

Each :meth:`Simulator.step` first does TaskRouter's housekeeping (:mod:`.housekeeping`: TTL
expiry and the purge of closed tasks, which run without a simulator too), then one random
lifecycle step, each in its own write transaction with its Events (:mod:`.events`) and each
bumping the task's version (DECISION: TaskRouter's own transitions change the version too;
Twilio does not say). Steps, weighted like a busy contact centre: a new task arrives (routed
through its workflow), pending -> reserved, reserved -> assigned, reserved -> pending
(reservation rejected or timed out), assigned -> wrapping, wrapping -> completed, a task's
attributes touched (a pending one is routed again).

DECISIONS on who acts (the ``actor`` of the Events): new tasks and attribute touches stand for
integrations calling the REST API (the account, no IP address); reservation steps, wrap-up
and completion are TaskRouter's (the workspace) until the sandbox has workers, whose actions
they will then be.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from tasks_app.taskrouter import routing, rules

from . import engine, events, seed, store
from .auth import DEVELOPMENT_CREDENTIALS
from .housekeeping import Housekeeper

__all__ = ["SimEvent", "Simulator"]

US = 1_000_000

EVENTS = {
    "create": 22,
    "reserve": 20,
    "accept": 16,
    "reject": 5,
    "wrap": 13,
    "complete": 14,
    "touch": 10,
}
# event -> (from status, to status)
TRANSITIONS = {
    "reserve": (rules.PENDING, rules.RESERVED),
    "accept": (rules.RESERVED, rules.ASSIGNED),
    "reject": (rules.RESERVED, rules.PENDING),
    "wrap": (rules.ASSIGNED, rules.WRAPPING),
    "complete": (rules.WRAPPING, rules.COMPLETED),
}
COMPLETION_REASONS = ("resolved", "Customer issue resolved", "Call completed", "Follow-up booked")


@dataclass(frozen=True, slots=True)
class SimEvent:
    kind: str  # create, reserve, accept, reject, wrap, complete, touch, expire, purge
    task_sid: str | None = None
    count: int = 1


class Simulator:
    """``Simulator(store).run(stop_event)`` drives about ``rate`` events per second."""

    def __init__(
        self,
        store: store.SandboxStore,
        rate: float = 2.0,
        seed: int | None = None,
        *,
        housekeeper: Housekeeper | None = None,
        account_sid: str = DEVELOPMENT_CREDENTIALS.account_sid,
    ):
        if rate <= 0:
            raise ValueError("rate must be more than 0 events per second")
        self.store = store
        self.rate = rate
        self.rng = random.Random(seed)
        self.housekeeper = housekeeper or Housekeeper(store)
        self.integration = events.api_client(account_sid, None)  # creates and touches tasks

    def run(self, stop_event: threading.Event) -> None:
        """Step until ``stop_event`` is set, about ``rate`` times a second (Poisson arrivals)."""
        while not stop_event.is_set():
            self.step()
            stop_event.wait(self.rng.expovariate(self.rate))

    def step(self, now: int | None = None) -> list[SimEvent]:
        """Housekeeping, then one random event; returns what happened."""
        now = store.now_us() if now is None else now
        events = self.housekeeping(now)
        kind = self.rng.choices(list(EVENTS), weights=list(EVENTS.values()))[0]
        event = self.act(kind, now)
        if event is None and kind != "create":
            event = self.act("create", now)  # nothing to move: a new task arrives instead
        if event is not None:
            events.append(event)
        return events

    # Housekeeping -------------------------------------------------------------------------

    def housekeeping(self, now: int) -> list[SimEvent]:
        outcome = self.housekeeper.run(now)
        found = []
        if outcome.expired:
            found.append(SimEvent("expire", count=len(outcome.expired)))
        if outcome.purged:
            found.append(SimEvent("purge", count=len(outcome.purged)))
        return found

    # Events -------------------------------------------------------------------------------

    def act(self, kind: str, now: int) -> SimEvent | None:
        """One lifecycle step of ``kind`` (a key of EVENTS) at ``now``; None if no task fits."""
        if kind == "create":
            return self._create(now)
        if kind == "touch":
            return self._touch(now)
        source, target = TRANSITIONS[kind]
        with self.store.write() as conn:
            row = self._pick(conn, source)
            if row is None:
                return None
            changes: dict[str, Any] = {"assignment_status": target}
            if target == rules.COMPLETED:
                changes["reason"] = self.rng.choice(COMPLETION_REASONS)
            self._apply(conn, row, changes, now, events.system(row["workspace_sid"]))
        return SimEvent(kind, row["sid"])

    def _create(self, now: int) -> SimEvent | None:
        with self.store.write() as conn:
            workspaces = [
                (w, p)
                for w in store.fetch_workspaces(conn)
                for p in seed.WORKSPACE_PROFILES
                if p.friendly_name == w["friendly_name"] and p.share > 0
            ]
            if not workspaces:
                return None
            workspace, profile = self.rng.choices(
                workspaces, weights=[p.share for _, p in workspaces]
            )[0]
            ws = workspace["sid"]
            workflows = store.fetch_workflows(conn, ws)
            channels = store.fetch_task_channels(conn, ws)
            if not workflows or not channels:
                return None
            workflow = self.rng.choice(workflows)
            channel = self.rng.choice(channels)
            attributes = seed.random_attributes(self.rng, profile.kind, channel["unique_name"])
            route = routing.route(workflow["configuration"], attributes)
            timeout = self.rng.choice((3_600, 7_200, 86_400, 86_400, 86_400))
            sid = engine.new_sid("WT")
            task = {
                "sid": sid,
                "workspace_sid": ws,
                "assignment_status": rules.PENDING,
                "attributes": json.dumps(attributes, ensure_ascii=False),
                "addons": "{}",
                "has_addons": 0,
                "date_created": now,
                "date_updated": now,
                "task_queue_entered_date": now if route.task_queue_sid else None,
                "virtual_start_time": now,
                "priority": route.priority if route.priority is not None else 0,
                "reason": None,
                "task_queue_sid": route.task_queue_sid,
                "task_channel_sid": channel["sid"],
                "timeout": timeout,
                "workflow_sid": workflow["sid"],
                "ignore_capacity": 0,
                "routing_target": None,
                "version": 0,
                "expires_at": now + timeout * US,
            }
            store.insert_tasks(conn, [task])
            events.task_created(conn, task, actor=self.integration, now=now, route=route)
        return SimEvent("create", sid)

    def _touch(self, now: int) -> SimEvent | None:
        """An integration writes to a live task's attributes (a note, a sentiment score)."""
        with self.store.write() as conn:
            status = self.rng.choice(rules.OPEN_STATUSES)
            row = self._pick(conn, status)
            if row is None:
                return None
            try:
                attributes = json.loads(row["attributes"])
            except ValueError:
                attributes = {}
            if not isinstance(attributes, dict):
                attributes = {}
            attributes["sentiment"] = self.rng.choice(("positive", "neutral", "negative"))
            attributes["touches"] = int(attributes.get("touches", 0) or 0) + 1
            text = json.dumps(attributes, ensure_ascii=False)
            if len(text) > rules.ATTRIBUTES_MAX_CHARS:
                return None
            changes: dict[str, Any] = {"attributes": text}
            route = None
            if status == rules.PENDING and row["workflow_sid"]:
                workflow = store.fetch_workflow(conn, row["workspace_sid"], row["workflow_sid"])
                if workflow is not None:
                    route = routing.route(workflow["configuration"], attributes)
                    if route.task_queue_sid and route.task_queue_sid != row["task_queue_sid"]:
                        changes["task_queue_sid"] = route.task_queue_sid
                        changes["task_queue_entered_date"] = now
                    if route.priority is not None:
                        changes["priority"] = route.priority
            self._apply(conn, row, changes, now, self.integration, route)
        return SimEvent("touch", row["sid"])

    def _pick(self, conn: sqlite3.Connection, status: str) -> sqlite3.Row | None:
        """A random task in ``status``: seek from a random rowid (no full scan)."""
        bounds = conn.execute("SELECT MIN(rowid), MAX(rowid) FROM tasks").fetchone()
        if bounds[0] is None:
            return None
        start = self.rng.randint(bounds[0], bounds[1])
        columns = ", ".join(store.TASK_COLUMNS)
        for sql, param in (
            (f"SELECT {columns} FROM tasks WHERE rowid >= ? AND assignment_status = ? "  # noqa: S608
             "ORDER BY rowid LIMIT 1", start),
            (f"SELECT {columns} FROM tasks WHERE rowid < ? AND assignment_status = ? "  # noqa: S608
             "ORDER BY rowid LIMIT 1", start),
        ):  # fmt: skip
            row = conn.execute(sql, (param, status)).fetchone()
            if row is not None:
                return row
        return None

    @staticmethod
    def _apply(
        conn: sqlite3.Connection,
        row: sqlite3.Row,
        changes: dict,
        now: int,
        actor: events.Actor,
        route: routing.Route | None = None,
    ) -> None:
        changes["version"] = row["version"] + 1
        changes["date_updated"] = max(now, row["date_updated"])
        store.update_task(conn, row["sid"], changes)
        events.task_updated(conn, row, {**dict(row), **changes}, actor=actor, now=now, route=route)
