"""A contact centre's shift over the sandbox: tasks arrive, agents work them.

``runsandbox --simulate`` runs :meth:`Simulator.run`; tests drive :meth:`Simulator.step` with
their own clock. Each step does what the time since the last one brought, every change
through the same functions the REST API uses (:mod:`.engine`, :mod:`.assignment`,
:mod:`.workforce`), so the simulated shift reserves, times out, rescinds and records its
statistics exactly as requests would:

* TaskRouter's clock (:mod:`.housekeeping`): reservations and workflow targets that time
  out, tasks past their TTL canceled, closed tasks purged minutes after they close.
* Arrivals: new tasks, about ``rate`` a second across the workspaces (Poisson), each routed
  through its workflow; one Support task in ten asks for the agent who served the customer
  last (``preferred_agent``, a known-worker target of a minute).
* Agents answer their reservations a few seconds after they are offered one (2 to 10 s):
  most accept, now and then one rejects, now and then one lets it time out (then TaskRouter
  moves them Offline, and they sign in again a few minutes later).
* They handle an accepted task for minutes (about 2 to 8 for a call, longer for chats and
  video), wrap it up (15 to 60 s), then complete it; the capacity it held goes to the next
  waiting task at once.
* Shifts: an agent on shift works a stint of 45 to 120 minutes, then takes a Break (10 to 15
  minutes), goes to Lunch (30 to 45) or signs out; most go unavailable with their pending
  reservations rejected, some forget. ``staffing`` (0 to 1) is the share of each
  workspace's agents on shift (always the same ones): the others sign out and stay out.
  An agent coming on shift or back opens their channels at the capacities their skills
  give (:func:`.roster.standard_capacities`).
* Now and then an integration writes to a live task's attributes (a sentiment score), and a
  pending task is routed again.

Queue waits therefore come from staffing: fewer agents on a queue, longer waits, visible in
the statistics (``wait_duration_until_accepted``, ``split_by_wait_time``).

Who acts, in the Events: new tasks and attribute touches stand for integrations calling the
REST API (the account); an agent's answers, wrap-ups, completions, breaks and channel
changes are the worker's (:func:`.events.worker_actor`); timeouts, TTL expiry and purges are
TaskRouter's (the workspace).

Every agent decision is a function of the resource it concerns (a hash of the reservation's
or worker's SID and of the moment of its last change), so the simulation needs no memory of
its own: it can stop and start again, and several simulators would agree. DECISION:
``rate`` is arrivals per second; agents act on the real time of their reservations, so a
higher rate queues more work for the same staff.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from tasks_app.taskrouter import rules

from . import assignment, engine, events, roster, seed, store, workforce
from .auth import DEVELOPMENT_CREDENTIALS
from .housekeeping import Housekeeper
from .ledger import Context

__all__ = ["SimEvent", "Simulator"]

US = 1_000_000
COMPLETION_REASONS = ("resolved", "Customer issue resolved", "Call completed", "Follow-up booked")
AGENTS_EVERY = 5 * US  # how often agents' shifts are looked at
TOUCH_SHARE = 0.05  # of arrivals: an integration touches a live task instead
PREFERRED_AGENT_SHARE = 0.1
# Handling time by channel: (shortest, typical) seconds.
HANDLING = {"voice": (60, 240), "chat": (120, 420), "sms": (90, 360), "video": (180, 600)}


@dataclass(frozen=True, slots=True)
class SimEvent:
    """What one step did. ``kind``: create, touch, accept, reject, wrap, complete, sign-in,
    sign-out, break, back, timeout, expire, purge."""

    kind: str
    task_sid: str | None = None
    count: int = 1
    worker_sid: str | None = None


def _fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the same decision every time it is asked."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Simulator:
    """``Simulator(store).run(stop_event)``: a shift, in real time, until stopped."""

    def __init__(
        self,
        store: store.SandboxStore,
        rate: float = 0.5,
        seed: int | None = None,
        *,
        staffing: float = 0.8,
        workspaces: tuple[str, ...] | None = None,
        housekeeper: Housekeeper | None = None,
        account_sid: str = DEVELOPMENT_CREDENTIALS.account_sid,
    ):
        if rate <= 0:
            raise ValueError("rate must be more than 0 tasks per second")
        if not 0 <= staffing <= 1:
            raise ValueError("staffing must be between 0 and 1")
        self.store = store
        self.rate = rate
        self.staffing = staffing
        self.workspaces = workspaces  # None: every workspace that gets tasks
        self.rng = random.Random(seed)
        self.housekeeper = housekeeper or Housekeeper(store)
        self.integration = events.api_client(account_sid, None)  # creates and touches tasks
        self._next_arrival: int | None = None
        self._agents_at: int | None = None

    def run(self, stop_event: threading.Event, tick: float = 0.5) -> None:
        """Step every ``tick`` seconds until ``stop_event`` is set."""
        while not stop_event.is_set():
            self.step()
            stop_event.wait(tick)

    def _sid(self, prefix: str) -> str:
        return prefix + self.rng.randbytes(16).hex()

    def _context(self, conn: sqlite3.Connection, now: int) -> Context:
        return Context(conn, now, sids=self._sid)

    @staticmethod
    def _as_worker(ctx: Context, row: sqlite3.Row) -> None:
        """What follows is the worker's own doing (in the Events)."""
        ctx.actor = events.worker_actor(row["workspace_sid"], row["worker_sid"])

    def step(self, now: int | None = None) -> list[SimEvent]:
        """Everything due by ``now`` (microseconds; the system clock by default)."""
        now = store.now_us() if now is None else now
        happened = self.housekeeping(now)
        happened += self._arrivals(now)
        happened += self._answers(now)
        happened += self._work(now)
        if self._agents_at is None or now - self._agents_at >= AGENTS_EVERY:
            self._agents_at = now
            happened += self._shifts(now)
        return happened

    # TaskRouter's housekeeping ----------------------------------------------------------------

    def housekeeping(self, now: int) -> list[SimEvent]:
        """TaskRouter's clock: timeouts, TTL expiry, the purge of closed tasks."""
        outcome = self.housekeeper.run(now)
        found = []
        if outcome.timed_out:
            found.append(SimEvent("timeout", count=outcome.timed_out))
        if outcome.expired:
            found.append(SimEvent("expire", count=len(outcome.expired)))
        if outcome.purged:
            found.append(SimEvent("purge", count=len(outcome.purged)))
        return found

    # Arrivals ------------------------------------------------------------------------------

    def _arrivals(self, now: int) -> list[SimEvent]:
        if self._next_arrival is None:
            self._next_arrival = now
        happened = []
        while self._next_arrival <= now and len(happened) < 1000:
            touch = self.rng.random() < TOUCH_SHARE
            event = self._touch(now) if touch else self._create(now)
            if event is not None:
                happened.append(event)
            self._next_arrival += max(1, int(self.rng.expovariate(self.rate) * US))
        return happened

    def _workspaces(self, conn: sqlite3.Connection) -> list[tuple[Any, seed.WorkspaceProfile]]:
        found = []
        for workspace in store.fetch_workspaces(conn):
            for profile in seed.WORKSPACE_PROFILES:
                if profile.friendly_name != workspace["friendly_name"]:
                    continue
                if self.workspaces is not None:
                    if workspace["sid"] in self.workspaces:
                        found.append((workspace, profile))
                elif profile.share > 0:
                    found.append((workspace, profile))
        return found

    def _create(self, now: int) -> SimEvent | None:
        with self.store.read() as conn:
            choices = self._workspaces(conn)
            if not choices:
                return None
            workspace, profile = self.rng.choices(
                choices, weights=[p.share or 1.0 for _, p in choices]
            )[0]
            ws = workspace["sid"]
            workflows = store.fetch_workflows(conn, ws)
            channels = [c["unique_name"] for c in store.fetch_task_channels(conn, ws)]
            agents = [
                r[0] for r in conn.execute("SELECT sid FROM workers WHERE workspace_sid = ?", (ws,))
            ]
        if not workflows or not channels:
            return None
        workflow = self.rng.choice(workflows)
        channel = self.rng.choices(
            channels, weights=[seed.CHANNEL_WEIGHTS.get(c, 5) for c in channels]
        )[0]
        attributes = seed.random_attributes(self.rng, profile.kind, channel)
        if profile.kind == "support" and agents and self.rng.random() < PREFERRED_AGENT_SHARE:
            attributes["preferred_agent"] = self.rng.choice(agents)
        form = {
            "WorkflowSid": workflow["sid"],
            "TaskChannel": channel,
            "Attributes": json.dumps(attributes, ensure_ascii=False),
            "Timeout": str(self.rng.choice((3_600, 7_200, 86_400, 86_400))),
        }
        row = engine.create_task(
            self.store,
            workspace_sid=ws,
            form=form,
            now=store.from_us(now),
            actor=self.integration,
            sids=self._sid,
        )
        return SimEvent("create", row["sid"])

    def _touch(self, now: int) -> SimEvent | None:
        """An integration writes to a live task's attributes (a note, a sentiment score)."""
        with self.store.read() as conn:
            row = self._pick(conn, self.rng.choice(rules.OPEN_STATUSES))
        if row is None:
            return None
        attributes = rules.stored_attributes(row["attributes"])
        attributes["sentiment"] = self.rng.choice(("positive", "neutral", "negative"))
        attributes["touches"] = int(attributes.get("touches", 0) or 0) + 1
        text = json.dumps(attributes, ensure_ascii=False)
        if len(text) > rules.ATTRIBUTES_MAX_CHARS:
            return None
        try:
            engine.update_task(
                self.store,
                account_sid="",
                workspace_sid=row["workspace_sid"],
                task_sid=row["sid"],
                form={"Attributes": text},
                if_match=str(row["version"]),
                now=store.from_us(now),
                actor=self.integration,
            )
        except engine.ApiError:
            return None  # it changed meanwhile: the integration gives up, as a client would
        return SimEvent("touch", row["sid"])

    def _pick(self, conn: sqlite3.Connection, status: str) -> sqlite3.Row | None:
        """A random task in ``status``: seek from a random rowid (no full scan)."""
        bounds = conn.execute("SELECT MIN(rowid), MAX(rowid) FROM tasks").fetchone()
        if bounds[0] is None:
            return None
        start = self.rng.randint(bounds[0], bounds[1])
        columns = ", ".join(store.TASK_COLUMNS)
        for sql in (
            f"SELECT {columns} FROM tasks WHERE rowid >= ? AND assignment_status = ? "  # noqa: S608
            "ORDER BY rowid LIMIT 1",
            f"SELECT {columns} FROM tasks WHERE rowid < ? AND assignment_status = ? "  # noqa: S608
            "ORDER BY rowid LIMIT 1",
        ):
            row = conn.execute(sql, (start, status)).fetchone()
            if row is not None and self._ours(row["workspace_sid"]):
                return row
        return None

    def _ours(self, workspace_sid: str) -> bool:
        return self.workspaces is None or workspace_sid in self.workspaces

    # Agents answering, working, wrapping up ------------------------------------------------

    def _answers(self, now: int) -> list[SimEvent]:
        """Pending reservations whose agent has had the time to answer."""
        happened = []
        with self.store.write() as conn:
            ctx = self._context(conn, now)
            rows = conn.execute(
                "SELECT sid, task_sid, worker_sid, workspace_sid, date_created FROM reservations "
                "WHERE reservation_status = 'pending' AND date_created <= ? "
                "ORDER BY date_created LIMIT 500",
                (now - 2 * US,),
            ).fetchall()
            for row in rows:
                if not self._ours(row["workspace_sid"]):
                    continue
                delay = 2 + 8 * _fraction(row["sid"], "delay")
                if row["date_created"] + int(delay * US) > now:
                    continue
                choice = _fraction(row["sid"], "answer")
                if choice < 0.04:
                    continue  # never answers: the reservation times out
                current = assignment._reservation(ctx, row["sid"])
                if current is None or current["reservation_status"] != "pending":
                    continue
                self._as_worker(ctx, row)
                if choice < 0.09:
                    assignment.reject(ctx, row["sid"])
                    happened.append(
                        SimEvent("reject", row["task_sid"], worker_sid=row["worker_sid"])
                    )
                else:
                    assignment.accept(ctx, row["sid"])
                    happened.append(
                        SimEvent("accept", row["task_sid"], worker_sid=row["worker_sid"])
                    )
        return happened

    def _work(self, now: int) -> list[SimEvent]:
        """Accepted tasks handled long enough are wrapped up; wrapped ones completed."""
        happened = []
        with self.store.write() as conn:
            ctx = self._context(conn, now)
            names = {
                r["sid"]: r["unique_name"]
                for r in conn.execute("SELECT sid, unique_name FROM task_channels")
            }
            rows = conn.execute(
                "SELECT sid, task_sid, worker_sid, workspace_sid, task_channel_sid, "
                "reservation_status, date_updated FROM reservations "
                "WHERE reservation_status IN ('accepted', 'wrapping') AND date_updated <= ? "
                "ORDER BY date_updated LIMIT 500",
                (now - 15 * US,),
            ).fetchall()
            for row in rows:
                if not self._ours(row["workspace_sid"]):
                    continue
                self._as_worker(ctx, row)
                if row["reservation_status"] == "accepted":
                    shortest, typical = HANDLING.get(names.get(row["task_channel_sid"]), (60, 240))
                    spell = shortest + (typical - shortest) * 2 * _fraction(row["sid"], "handle")
                    if row["date_updated"] + int(spell * US) <= now:
                        assignment.wrap(ctx, row["sid"])
                        happened.append(
                            SimEvent("wrap", row["task_sid"], worker_sid=row["worker_sid"])
                        )
                else:
                    spell = 15 + 45 * _fraction(row["sid"], "wrap")
                    if row["date_updated"] + int(spell * US) <= now:
                        reason = COMPLETION_REASONS[int(_fraction(row["sid"], "reason") * 4)]
                        assignment.complete(ctx, row["sid"], reason=reason)
                        happened.append(
                            SimEvent("complete", row["task_sid"], worker_sid=row["worker_sid"])
                        )
        return happened

    # Shifts --------------------------------------------------------------------------------

    def _shifts(self, now: int) -> list[SimEvent]:
        happened = []
        with self.store.write() as conn:
            ctx = self._context(conn, now)
            activities: dict[str, dict[str, Any]] = {}
            for row in conn.execute("SELECT * FROM activities"):
                activities.setdefault(row["workspace_sid"], {})[row["friendly_name"]] = dict(row)
            workers = conn.execute(
                "SELECT w.sid, w.workspace_sid, w.attributes, w.date_status_changed, "
                "a.friendly_name AS activity FROM workers w JOIN activities a "
                "ON a.sid = w.activity_sid ORDER BY w.sid"
            ).fetchall()
            on_shift = self._on_shift(workers)
            for worker in workers:
                if not self._ours(worker["workspace_sid"]):
                    continue
                names = activities.get(worker["workspace_sid"], {})
                event = self._shift(ctx, worker, names, now, on_shift=worker["sid"] in on_shift)
                if event is not None:
                    happened.append(event)
        return happened

    def _on_shift(self, workers: list[sqlite3.Row]) -> set[str]:
        """``staffing`` of each workspace's agents (rounded), always the same ones."""
        by_workspace: dict[str, list[str]] = {}
        for worker in workers:
            by_workspace.setdefault(worker["workspace_sid"], []).append(worker["sid"])
        chosen: set[str] = set()
        for sids in by_workspace.values():
            sids.sort(key=lambda sid: _fraction(sid, "shift"))
            chosen.update(sids[: int(self.staffing * len(sids) + 0.5)])
        return chosen

    def _shift(
        self,
        ctx: Context,
        worker: sqlite3.Row,
        names: dict[str, dict],
        now: int,
        *,
        on_shift: bool,
    ) -> SimEvent | None:
        sid = worker["sid"]
        ctx.actor = events.worker_actor(worker["workspace_sid"], sid)
        since = now - worker["date_status_changed"]
        spell = _fraction(sid, worker["date_status_changed"], "spell")
        current = worker["activity"]

        def move(name: str, kind: str, *, reject: bool = False) -> SimEvent | None:
            if name not in names:
                return None
            workforce.set_activity(ctx, sid, names[name]["sid"], reject_pending=reject)
            if names[name]["available"]:
                self._open_channels(ctx, worker)
            return SimEvent(kind, worker_sid=sid)

        if current == "Available":
            if not on_shift:
                return move("Offline", "sign-out", reject=True)
            self._open_channels(ctx, worker)
            if since < int((45 + 75 * spell) * 60 * US):
                return None
            where = _fraction(sid, worker["date_status_changed"], "where")
            reject = _fraction(sid, worker["date_status_changed"], "reject") < 0.8
            if where < 0.7:
                return move("Break", "break", reject=reject)
            if where < 0.85:
                return move("Lunch", "break", reject=reject)
            return move("Offline", "sign-out", reject=reject)
        if not on_shift:
            return None
        back_after = {
            "Break": 10 + 5 * spell,
            "Lunch": 30 + 15 * spell,
            "Unavailable": 5 + 15 * spell,
            "Offline": 1 + 9 * spell,  # signing in (again, after a timeout) takes minutes
        }.get(current)
        if back_after is None or since < int(back_after * 60 * US):
            return None
        return move("Available", "sign-in" if current == "Offline" else "back")

    def _open_channels(self, ctx: Context, worker: sqlite3.Row) -> None:
        """An agent on shift takes work on the channels their skills give."""
        capacities = roster.standard_capacities(rules.stored_attributes(worker["attributes"]))
        for row in ctx.conn.execute(
            "SELECT wc.sid, wc.configured_capacity, wc.available, tc.unique_name FROM "
            "worker_channels wc JOIN task_channels tc ON tc.sid = wc.task_channel_sid "
            "WHERE wc.worker_sid = ?",
            (worker["sid"],),
        ).fetchall():
            capacity = capacities.get(row["unique_name"], 0)
            if row["configured_capacity"] != capacity or not row["available"]:
                workforce.update_channel(
                    ctx,
                    worker["workspace_sid"],
                    worker["sid"],
                    row["sid"],
                    capacity=capacity,
                    available=True,
                )
