"""The seeded workforce: each workspace's agents, their activities and what they hold.

Deterministic (its own random stream per workspace, so the tasks' stream is untouched) and
consistent with the seeded tasks: every reserved task has a pending reservation (offered in
the last few seconds), every assigned or wrapping task an accepted or wrapping one, every
completed task a completed one, each held by an agent of the task's queue who matches its
target and has the capacity for it on the task's channel. A few tasks also show an earlier
reservation someone rejected or let time out.

Agents are created as the held tasks need them (an agent of the right skills, languages or
team for the queue), and a third more join them who hold nothing: mostly Offline, some on a
Break, at Lunch or Unavailable. A few agents holding tasks have gone on a Break or to Lunch
anyway: the supervisor's "who went to lunch holding three reserved chats".

Each agent's attributes look like a contact centre's: ``skills``, ``languages``, ``team``,
``channels`` (the channels they take), ``level`` (1 to 5, for ``order_by``),
``contact_uri``, ``email`` and ``location``. Their channel capacities follow ``channels``
(:func:`standard_capacities`: one call, two chats, two SMS, one video, one default task).

Then TaskRouter does what it would: every waiting task, highest priority and oldest first,
is offered to the available agents with room (:func:`.assignment.offer_task`), so the
seeded state is one where no waiting task could be reserved. Finally the agents who are
signed in pause the channels
they still have room on (``available`` false on that WorkerChannel, capacity kept): the
seeded centre is busy, every signed-in agent has as much as they take, and a new task waits
in its queue until someone frees up or signs in (the simulator's agents unpause their
channels when they come back from a break or sign in).

The ledger (statistics' history) gets what the seeded tasks went through: created, entered
their queue, reserved, accepted, completed or canceled, at the seeded moments.

Training has five trainees, all Offline, and no tasks: the place to watch assignment
happen one task at a time.
"""

from __future__ import annotations

import json
import random
import sqlite3
import unicodedata
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasks_app.taskrouter import routing, rules

from . import assignment

__all__ = [
    "ACTIVITIES",
    "ROSTER_MINIMUM",
    "Offered",
    "Workspace",
    "seed_roster",
    "standard_capacities",
]

US = 1_000_000
# (name, available), in the order they are created. Offline is the default and timeout
# activity; Busy and Reserved are the queues' assignment and reservation activities (which
# only single-tasking workspaces use).
ACTIVITIES: tuple[tuple[str, bool], ...] = (
    ("Offline", False),
    ("Available", True),
    ("Unavailable", False),
    ("Break", False),
    ("Lunch", False),
    ("Busy", False),
    ("Reserved", False),
)
# Workers a workspace with tasks has at least (tasks routed to a worker name one of them).
ROSTER_MINIMUM = 12
TRAINEES = 5
EXTRA_SHARE = 0.35  # agents holding nothing, per agent holding something
HOLDER_ACTIVITIES = (("Available", 93), ("Break", 4), ("Lunch", 3))
EXTRA_ACTIVITIES = (
    ("Offline", 60),
    ("Break", 14),
    ("Lunch", 10),
    ("Unavailable", 9),
    ("Available", 7),
)
EARLIER_RESERVATIONS = 0.12  # held tasks that someone rejected or let time out first


def standard_capacities(attributes: Mapping[str, Any]) -> dict[str, int]:
    """An agent's capacity per TaskChannel, from the channels they take."""
    taken = attributes.get("channels") or ()
    if not isinstance(taken, list):
        taken = ()
    return {
        "voice": 1 if "voice" in taken else 0,
        "chat": 2 if "chat" in taken else 0,
        "sms": 2 if "sms" in taken else 0,
        "video": 1 if "video" in taken else 0,
        "default": 1,
    }


@dataclass
class _Agent:
    sid: str
    name: str
    attributes: dict[str, Any]
    capacity: dict[str, int]  # channel unique name -> capacity
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    queues: set[str] = field(default_factory=set)
    last_reserved: int = 0
    holds: bool = False

    def room(self, channel: str) -> bool:
        return self.held[channel] < self.capacity.get(channel, 0)


@dataclass(frozen=True)
class Offered:
    """A step of a seeded reservation (for its Events): when, which event, of what."""

    at: int
    kind: str
    task: Mapping[str, Any]
    reservation: Mapping[str, Any]
    agent: _Agent

    def worker(self, activity: tuple[str, str]) -> dict[str, Any]:
        """The worker as the event shows it (in the activity it had to be offered work)."""
        return {
            "sid": self.agent.sid,
            "friendly_name": self.agent.name,
            "attributes": _json(self.agent.attributes),
            "activity_sid": activity[0],
            "activity_name": activity[1],
            "version": 0,
        }


@dataclass
class Workspace:
    """What the roster needs to know of a seeded workspace."""

    key: str
    kind: str
    sid: str
    queues: Mapping[str, tuple[str, str]]  # queue sid -> (key, target_workers)
    channels: Mapping[str, str]  # channel sid -> unique name
    activities: Mapping[str, str]  # activity name -> sid
    routed_workers: list[str]  # the SIDs tasks routed to a worker name


# Attribute a queue requires of its agents, by queue key (each queue's target_workers).
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "billing": ("skills", "billing"),
    "technical": ("skills", "technical"),
    "spanish": ("languages", "es"),
    "french": ("languages", "fr"),
    "vip": ("team", "vip"),
    "messaging": ("channels", "chat"),
    "renewals": ("skills", "renewals"),
    "enterprise": ("team", "enterprise"),
    "dach": ("languages", "de"),
    "outbound": ("skills", "prospecting"),
    "disputes": ("skills", "billing"),
}


class _Roster:
    def __init__(self, workspace: Workspace, *, seed: int, names: tuple, now: int) -> None:
        self.ws = workspace
        self.rng = random.Random(f"{seed}/{workspace.key}/roster")
        self.seed = seed
        self.first_names, self.last_names = names
        self.now = now
        self.agents: list[_Agent] = []
        self.by_sid: dict[str, _Agent] = {}
        self.taken_names: set[str] = set()
        # (queue sid, channel) -> agents who may have room there, tried in turn
        self.rooms: dict[tuple[str, str], deque[_Agent]] = defaultdict(deque)
        self.by_queue: dict[str, list[_Agent]] = defaultdict(list)
        self.has_tasks = False

    # Agents -------------------------------------------------------------------------------

    def persona(self) -> dict[str, Any]:
        rng = self.rng
        first, last = rng.choice(self.first_names), rng.choice(self.last_names)
        name = f"{first} {last}"
        count = 2
        while name.lower() in self.taken_names:
            name = f"{first} {last} {count}"
            count += 1
        self.taken_names.add(name.lower())
        ascii_name = unicodedata.normalize("NFKD", f"{first}_{last}").encode("ascii", "ignore")
        handle = ascii_name.decode().lower().replace("'", "").replace(" ", "_")
        if count > 2:
            handle += str(count - 1)
        if self.ws.kind == "sales":
            skills_pool = ("renewals", "prospecting", "enterprise", "pricing", "contracts")
            languages = ["en"] + [
                code for code, share in (("de", 0.22), ("fr", 0.1), ("es", 0.08))
                if rng.random() < share
            ]  # fmt: skip
            team = rng.choices(("inbound", "enterprise", "renewals"), (70, 15, 15))[0]
        else:
            skills_pool = ("billing", "refunds", "technical", "returns", "onboarding", "retention")
            languages = ["en"] + [
                code for code, share in (("es", 0.16), ("fr", 0.12), ("de", 0.08))
                if rng.random() < share
            ]  # fmt: skip
            team = rng.choices(("general", "vip", "billing", "technical"), (66, 14, 10, 10))[0]
        channels = ["voice"]
        if rng.random() < 0.65:
            channels.append("chat")
        if rng.random() < 0.45:
            channels.append("sms")
        if rng.random() < 0.12:
            channels.append("video")
        return {
            "name": name,
            "attributes": {
                "email": f"{handle}@example.com",
                "contact_uri": f"client:{handle}",
                "skills": sorted(rng.sample(skills_pool, rng.choice((1, 2, 2, 3)))),
                "languages": languages,
                "team": team,
                "channels": channels,
                "level": rng.randint(1, 5),
                "location": rng.choice(("us-east", "us-west", "eu-west", "eu-central")),
            },
        }

    def add(self, persona: dict[str, Any]) -> _Agent:
        index = len(self.agents)
        sid = (
            self.ws.routed_workers[index]
            if index < len(self.ws.routed_workers)
            else _sid("WK", self.seed, f"ws/{self.ws.key}/worker/{index}")
        )
        attributes = persona["attributes"]
        agent = _Agent(
            sid=sid,
            name=persona["name"],
            attributes=attributes,
            capacity=standard_capacities(attributes),
        )
        view = _view(agent)
        for queue_sid, (_key, target_workers) in self.ws.queues.items():
            if routing.queue_accepts(target_workers, view):
                agent.queues.add(queue_sid)
                self.by_queue[queue_sid].append(agent)
                for channel in self.ws.channels.values():
                    if agent.capacity.get(channel, 0):
                        self.rooms[(queue_sid, channel)].append(agent)
        self.agents.append(agent)
        self.by_sid[sid] = agent
        return agent

    def agent_for(self, queue_sid: str, channel: str, fits: Callable[[_Agent], bool]) -> _Agent:
        """An agent of the queue with room on the channel whom ``fits`` accepts; a new one
        made for it when none."""
        rooms = self.rooms[(queue_sid, channel)]
        for _ in range(min(len(rooms), 30)):
            agent = rooms[0]
            if not agent.room(channel):
                rooms.popleft()
                continue
            rooms.rotate(-1)
            if fits(agent):
                return agent
        for _ in range(200):
            persona = self.persona()
            attributes = persona["attributes"]
            requirement = REQUIREMENTS.get(self.ws.queues[queue_sid][0])
            if requirement is not None:
                name, value = requirement
                if name == "team":
                    attributes["team"] = value
                elif value not in attributes[name]:
                    attributes[name] = sorted([*attributes[name], value])
            if channel != "default" and channel not in attributes["channels"]:
                attributes["channels"].append(channel)
            candidate = _Agent("", persona["name"], attributes, standard_capacities(attributes))
            if routing.queue_accepts(self.ws.queues[queue_sid][1], _view(candidate)) and fits(
                candidate
            ):
                return self.add(persona)
            self.taken_names.discard(persona["name"].lower())
        raise RuntimeError(f"no agent can be made for queue {queue_sid}")  # seeds are valid


def _sid(prefix: str, seed: int, name: str) -> str:
    from .seed import seeded_sid

    return seeded_sid(prefix, seed, name)


def _view(agent: _Agent) -> dict[str, Any]:
    return routing.worker_view(
        agent.attributes,
        sid=agent.sid,
        friendly_name=agent.name,
        activity_sid=None,
        activity_name=None,
    )


def seed_roster(
    conn: sqlite3.Connection,
    workspace: Workspace,
    *,
    seed: int,
    now: int,
    names: tuple[tuple[str, ...], tuple[str, ...]],
) -> list[Offered]:
    """Seed one workspace's workforce, reservations and history (see the module's text);
    returns the reservation steps, for the seed's history of Events."""
    roster = _Roster(workspace, seed=seed, names=names, now=now)
    rng = roster.rng
    tasks = [
        dict(row)
        for row in conn.execute(
            "SELECT * FROM tasks WHERE workspace_sid = ? ORDER BY date_created, sid",
            (workspace.sid,),
        )
    ]
    roster.has_tasks = bool(tasks)
    workers_wanted = ROSTER_MINIMUM if tasks else TRAINEES
    for _ in range(workers_wanted):
        roster.add(roster.persona())
    reservations: list[dict[str, Any]] = []
    ledger: list[tuple] = []
    configurations: dict[str, routing.WorkflowConfiguration] = {
        row["sid"]: routing.parse_configuration(row["configuration"])
        for row in conn.execute(
            "SELECT sid, configuration FROM workflows WHERE workspace_sid = ?", (workspace.sid,)
        )
    }

    steps: list[Offered] = []

    def record(kind: str, at: int, task: Mapping[str, Any], worker: str | None = None) -> None:
        if at > now:
            return
        entered = task["task_queue_entered_date"]
        ledger.append(
            (workspace.sid, at, kind, task["sid"], task["task_queue_sid"], task["workflow_sid"],
             task["task_channel_sid"], worker, max(0, at - task["date_created"]),
             max(0, at - entered) if entered is not None else None)
        )  # fmt: skip

    for task in tasks:
        record("task.created", task["date_created"], task)
        if task["task_queue_entered_date"] is not None:
            record("task-queue.entered", task["task_queue_entered_date"], task)
        status = task["assignment_status"]
        if status == rules.CANCELED:
            record("task.canceled", task["date_updated"], task)
        if status in (rules.PENDING, rules.CANCELED) or not task["task_queue_sid"]:
            continue
        channel = workspace.channels[task["task_channel_sid"]]
        attributes = rules.stored_attributes(task["attributes"])
        parsed = configurations.get(task["workflow_sid"])
        target = routing.Target(queue=task["task_queue_sid"])
        if parsed is not None and task["routing_filter"] is not None:
            target = routing.target_at(
                parsed, routing.Position(task["routing_filter"], task["routing_step"] or 0)
            )
        holding = status != rules.COMPLETED
        routed = task["routing_target"]
        if routed in roster.by_sid:
            agent = roster.by_sid[routed]
        else:

            def fits(
                agent: _Agent, target: routing.Target = target, attributes: dict = attributes
            ) -> bool:
                return routing.target_accepts(target, attributes, _view(agent))

            agent = roster.agent_for(task["task_queue_sid"], channel, fits)
        # When it was offered, accepted, wrapped: within its life, before its last change.
        if status == rules.RESERVED:
            # Offered in the last few seconds: its timeout is two minutes away.
            offered = max(task["date_created"], now - int(rng.uniform(0.5, 5) * US))
        else:
            offered = max(
                task["date_created"], task["date_updated"] - int(rng.uniform(20, 600) * US)
            )
        if rng.random() < EARLIER_RESERVATIONS:
            members = roster.by_queue[task["task_queue_sid"]]
            earlier = members[rng.randrange(len(members))] if members else agent
            if earlier is not agent:
                outcome = rng.choice((rules.RESERVATION_REJECTED, rules.RESERVATION_TIMEOUT))
                first = max(task["date_created"], offered - int(rng.uniform(20, 120) * US))
                ended = min(offered, first + int(rng.uniform(3, 110) * US))
                old = _reservation(workspace, task, earlier, outcome, first, ended, seed, "earlier")
                reservations.append(old)
                record("reservation.created", first, task, earlier.sid)
                record(f"reservation.{outcome}", ended, task, earlier.sid)
                steps.append(Offered(first, "reservation.created", task, old, earlier))
                steps.append(Offered(ended, f"reservation.{outcome}", task, old, earlier))
        reservation_status = {
            rules.RESERVED: rules.RESERVATION_PENDING,
            rules.ASSIGNED: rules.RESERVATION_ACCEPTED,
            rules.WRAPPING: rules.RESERVATION_WRAPPING,
            rules.COMPLETED: rules.RESERVATION_COMPLETED,
        }[status]
        updated = offered if status == rules.RESERVED else max(offered, task["date_updated"])
        reservation = _reservation(
            workspace, task, agent, reservation_status, offered, updated, seed, "held"
        )
        if status == rules.RESERVED:
            reservation["timeout_at"] = offered + _reservation_timeout(conn, task) * US
        reservations.append(reservation)
        record("reservation.created", offered, task, agent.sid)
        steps.append(Offered(offered, "reservation.created", task, reservation, agent))
        if status != rules.RESERVED:
            accepted = min(updated, offered + int(rng.uniform(2, 15) * US))
            record("reservation.accepted", accepted, task, agent.sid)
            steps.append(Offered(accepted, "reservation.accepted", task, reservation, agent))
        if status == rules.COMPLETED:
            record("task.completed", task["date_updated"], task, agent.sid)
            steps.append(
                Offered(task["date_updated"], "reservation.completed", task, reservation, agent)
            )
        if holding:
            agent.held[channel] += 1
            agent.holds = True
        agent.last_reserved = max(agent.last_reserved, offered)

    extras = max(3, int(sum(a.holds for a in roster.agents) * EXTRA_SHARE)) if tasks else 0
    for _ in range(extras):
        roster.add(roster.persona())
    _insert_workforce(conn, roster, reservations, now=now)
    conn.executemany(
        "INSERT INTO ledger (workspace_sid, at, kind, task_sid, task_queue_sid, workflow_sid, "
        "task_channel_sid, worker_sid, wait, queue_wait) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        sorted(ledger, key=lambda row: row[1]),
    )
    return [step for step in steps if step.at <= now]


def _reservation_timeout(conn: sqlite3.Connection, task: Mapping[str, Any]) -> int:
    row = conn.execute(
        "SELECT task_reservation_timeout FROM workflows WHERE sid = ?", (task["workflow_sid"],)
    ).fetchone()
    return row[0] if row is not None else assignment.DEFAULT_RESERVATION_TIMEOUT


def _reservation(
    workspace: Workspace,
    task: Mapping[str, Any],
    agent: _Agent,
    status: str,
    created: int,
    updated: int,
    seed: int,
    kind: str,
) -> dict[str, Any]:
    return {
        "sid": _sid("WR", seed, f"{kind}/{task['sid']}"),
        "workspace_sid": workspace.sid,
        "task_sid": task["sid"],
        "worker_sid": agent.sid,
        "worker_name": agent.name,
        "task_channel_sid": task["task_channel_sid"],
        "task_queue_sid": task["task_queue_sid"],
        "workflow_sid": task["workflow_sid"],
        "reservation_status": status,
        "date_created": created,
        "date_updated": updated,
        "timeout_at": None,
        "version": {"pending": 0, "accepted": 1, "wrapping": 2}.get(status, 1 if kind else 3),
        "post_work_activity_sid": None,
    }


def _insert_workforce(
    conn: sqlite3.Connection, roster: _Roster, reservations: list[dict[str, Any]], *, now: int
) -> None:
    ws = roster.ws
    rng = roster.rng
    activities = ws.activities
    available_sid = activities["Available"]
    channel_by_name = {name: sid for sid, name in ws.channels.items()}
    rows, channels, members, spans = [], [], [], []
    for agent in roster.agents:
        if not roster.has_tasks:
            name = "Offline"  # trainees, before their first shift
        elif agent.holds:
            name = rng.choices(*zip(*HOLDER_ACTIVITIES, strict=True))[0]
        else:
            name = rng.choices(*zip(*EXTRA_ACTIVITIES, strict=True))[0]
        activity_sid = activities[name]
        available = int(activity_sid == available_sid)
        if name == "Offline":
            changed = now - int(rng.uniform(3_600, 16 * 3_600) * US)
        elif name in ("Break", "Lunch"):
            changed = now - int(rng.uniform(60, 40 * 60) * US)
        else:
            changed = now - int(rng.uniform(10 * 60, 4 * 3_600) * US)
        created = now - int(rng.uniform(30, 400) * 86_400 * US)
        idle_since = max(changed if available else 0, agent.last_reserved) or changed
        rows.append(
            (agent.sid, ws.sid, agent.name, _json(agent.attributes), activity_sid, available,
             created, max(created, changed), changed, idle_since, rng.randint(1, 30))
        )  # fmt: skip
        for unique, channel_sid in channel_by_name.items():
            held = agent.held.get(unique, 0)
            capacity = agent.capacity.get(unique, 0)
            channels.append(
                [
                    _sid("WC", roster.seed, f"ws/{ws.key}/{agent.sid}/{unique}"),
                    ws.sid,
                    agent.sid,
                    channel_sid,
                    capacity,
                    0 if available and held < capacity else 1,  # paused with room to spare
                    available,
                    held,
                    0,  # assigned: counted from the reservations below
                    created,
                    created,
                ]
            )
        members += [(queue_sid, agent.sid) for queue_sid in sorted(agent.queues)]
        spans.append((ws.sid, agent.sid, activity_sid, changed))
    assigned_counts: dict[tuple[str, str], int] = defaultdict(int)
    for reservation in reservations:
        if reservation["reservation_status"] in (
            rules.RESERVATION_ACCEPTED,
            rules.RESERVATION_WRAPPING,
        ):
            assigned_counts[(reservation["worker_sid"], reservation["task_channel_sid"])] += 1
    for row in channels:
        row[8] = assigned_counts.get((row[2], row[3]), 0)
    conn.executemany(
        "INSERT INTO workers (sid, workspace_sid, friendly_name, attributes, activity_sid, "
        "available, date_created, date_updated, date_status_changed, idle_since, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO worker_channels (sid, workspace_sid, worker_sid, task_channel_sid, "
        "configured_capacity, available, worker_available, held, assigned, date_created, "
        "date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        channels,
    )
    conn.executemany(
        "INSERT INTO queue_members (task_queue_sid, worker_sid) VALUES (?, ?)", members
    )
    conn.executemany(
        "INSERT INTO activity_spans (workspace_sid, worker_sid, activity_sid, started) "
        "VALUES (?, ?, ?, ?)",
        spans,
    )
    if reservations:
        columns = list(reservations[0])
        conn.executemany(
            f"INSERT INTO reservations ({', '.join(columns)}) "  # noqa: S608 - our own keys
            f"VALUES ({', '.join('?' for _ in columns)})",
            [[r[c] for c in columns] for r in reservations],
        )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
