"""Deterministic, realistic sandbox data.

Same ``seed`` -> same SIDs, names, attributes and relative times; dates are offsets from the
moment of seeding, so a fresh sandbox always looks live. Four workspaces:

* **Support**: two workflows ("Support Routing": VIP -> priority 100 target, Spanish and
  French language routing, chat/SMS to a messaging queue, billing and technical skills;
  "After Hours": gold/platinum customers first), seven queues.
* **Sales & Renewals** (a space and an ampersand, so URLs and filters get exercised): one
  workflow (enterprise -> priority 50, renewals, German speakers, outbound leads), five queues.
* **Training**: one "Default Fifo Workflow" and one queue, no tasks (an empty workspace).
* **EMEA/Tier 2** (a ``/``, which cannot be one URL path segment, so Taskdeck's URLs use its
  SID): one workflow, two queues and a dozen tasks of its own, drawn from a random stream
  of their own so that adding it left the other workspaces' data exactly as it was.

Every workspace has the TaskChannels ``default``, ``voice``, ``chat``, ``sms`` and ``video``.
Tasks (split about 70/30 between Support and Sales) cover every status: mostly pending,
reserved, assigned and wrapping, some canceled and completed with a reason, closed within the
last two minutes (TaskRouter purges closed tasks 5 to 8 minutes after they close). Their
attributes look like a contact centre's: customer name and e-mail handle, language, a call SID
(``CA...``) or conversation SID (``CH...``), channel, skills, a VIP flag, a nested
``customer`` object with ``tier`` and ``account.id``/``account.region``, ticket numbers.
Some tasks were moved to the front (virtual start time before their creation), some have
add-ons, a few are routed to a specific worker. Queues and target priorities come from
evaluating each task's workflow with :mod:`.routing`, exactly as a task created through the
API would be routed.

Each task comes with its history of Events (:mod:`.events`), as the sandbox would have
recorded it: created, entered its workflow, matched a target and entered its queue, then one
event per change of its version (its reservation steps, wrap-up, cancel or completion, and
``task.updated`` touches), at moments between its creation and its last update. DECISION:
the history holds every event from the moment the ``history_tasks`` most recently changed
tasks (default 5,000) started changing: all of a default seed (600 tasks, about 3,000
events), the last minutes of a bench seed of 100,000 (whose complete history would be a
gigabyte). Tasks changed only before that moment have no events, as if created before a
follower's 30 days began.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasks_app.taskrouter import routing, rules

from . import events, roster, store
from .auth import DEVELOPMENT_CREDENTIALS

__all__ = ["WORKSPACE_PROFILES", "populate", "random_attributes", "seeded_sid"]

US = 1_000_000
DAY = 86_400 * US
HISTORY_TASKS = 5_000


def seeded_sid(prefix: str, seed: int, name: str) -> str:
    return prefix + hashlib.sha256(f"{seed}/{name}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class QueueSpec:
    key: str
    friendly_name: str
    target_workers: str


@dataclass(frozen=True)
class WorkflowSpec:
    key: str
    friendly_name: str
    # (filter name, expression, queue key, priority or None); the last queue key is the default
    filters: tuple[tuple[str, str, str, int | None], ...]
    default_queue: str
    share: float  # of the workspace's tasks
    # Filters whose targets say more than a queue and a priority: filter name -> targets,
    # each a target object whose "queue" is a queue key.
    targets: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkspaceProfile:
    key: str
    friendly_name: str
    queues: tuple[QueueSpec, ...]
    workflows: tuple[WorkflowSpec, ...]
    share: float  # of all seeded tasks
    kind: str  # which attributes its tasks get
    # A workspace with share 0 may still get this many tasks (fewer in a seed of under
    # 50 per task), from its own random stream: the shared stream, and so every other
    # workspace's data, stays as it is.
    own_tasks: int = 0


SUPPORT = WorkspaceProfile(
    key="support",
    friendly_name="Support",
    kind="support",
    share=0.7,
    queues=(
        QueueSpec("general", "General Support", "1 == 1"),
        QueueSpec("billing", "Billing", 'skills HAS "billing"'),
        QueueSpec("technical", "Technical Support", 'skills HAS "technical"'),
        QueueSpec("spanish", "Spanish Support", 'languages HAS "es"'),
        QueueSpec("french", "French Support", 'languages HAS "fr"'),
        QueueSpec("vip", "VIP Care", 'team == "vip"'),
        QueueSpec("messaging", "Messaging", 'channels HAS "chat"'),
    ),
    workflows=(
        WorkflowSpec(
            key="support-routing",
            friendly_name="Support Routing",
            share=0.85,
            filters=(
                # A returning customer's own agent first, for a minute (the simulator's
                # tasks carry preferred_agent; the seeded ones do not).
                ("Preferred agent", 'preferred_agent != ""', "general", None),
                ("VIP customers", "vip == true", "vip", 100),
                ("Spanish speakers", 'language == "es"', "spanish", None),
                ("French speakers", 'language == "fr"', "french", None),
                ("Chat and SMS", 'channel IN ["chat", "sms"]', "messaging", None),
                ("Billing", 'skills HAS "billing" OR type == "billing"', "billing", 10),
                ("Technical", 'skills HAS "technical"', "technical", None),
            ),
            default_queue="general",
            targets={
                "Preferred agent": (
                    {"queue": "general", "known_worker_sid": "task.preferred_agent", "timeout": 60},
                ),
            },
        ),
        WorkflowSpec(
            key="after-hours",
            friendly_name="After Hours",
            share=0.15,
            filters=(
                ("Top tiers", 'customer.tier IN ["platinum", "gold"]', "vip", 50),
                ("Messaging", 'channel IN ["chat", "sms"]', "messaging", None),
            ),
            default_queue="general",
            targets={
                # Five minutes with VIP Care's most senior agent free, then any senior agent.
                "Top tiers": (
                    {
                        "queue": "vip",
                        "priority": 50,
                        "timeout": 300,
                        "order_by": "worker.level DESC",
                    },
                    {"queue": "general", "priority": 50, "expression": "worker.level >= 3"},
                ),
            },
        ),
    ),
)

SALES = WorkspaceProfile(
    key="sales",
    friendly_name="Sales & Renewals",
    kind="sales",
    share=0.3,
    queues=(
        QueueSpec("inbound", "Inbound Sales", "1 == 1"),
        QueueSpec("renewals", "Renewals", 'skills HAS "renewals"'),
        QueueSpec("enterprise", "Enterprise Sales", 'team == "enterprise"'),
        QueueSpec("dach", "DACH Sales", 'languages HAS "de"'),
        QueueSpec("outbound", "Outbound Leads", 'skills HAS "prospecting"'),
    ),
    workflows=(
        WorkflowSpec(
            key="sales-routing",
            friendly_name="Sales Routing",
            share=1.0,
            filters=(
                ("Enterprise accounts", 'customer.tier == "enterprise"', "enterprise", 50),
                ("Renewals", 'type == "renewal"', "renewals", None),
                ("German speakers", 'language == "de"', "dach", None),
                ("Callback leads", 'type == "lead" AND direction == "outbound"', "outbound", 5),
            ),
            default_queue="inbound",
        ),
    ),
)

TRAINING = WorkspaceProfile(
    key="training",
    friendly_name="Training",
    kind="support",
    share=0.0,
    queues=(QueueSpec("sample", "Sample Queue", "1 == 1"),),
    workflows=(
        WorkflowSpec(
            key="default-fifo",
            friendly_name="Default Fifo Workflow",
            share=1.0,
            filters=(),
            default_queue="sample",
        ),
    ),
)

ESCALATIONS = WorkspaceProfile(
    key="emea-tier-2",
    friendly_name="EMEA/Tier 2",
    kind="support",
    share=0.0,
    own_tasks=12,
    queues=(
        QueueSpec("escalations", "Tier 2 Escalations", "1 == 1"),
        QueueSpec("disputes", "Billing Disputes", 'skills HAS "billing"'),
    ),
    workflows=(
        WorkflowSpec(
            key="tier-2-escalation",
            friendly_name="Tier 2 Escalation",
            share=1.0,
            filters=(("Billing disputes", 'skills HAS "billing"', "disputes", 20),),
            default_queue="escalations",
        ),
    ),
)

WORKSPACE_PROFILES: tuple[WorkspaceProfile, ...] = (SUPPORT, SALES, TRAINING, ESCALATIONS)

# (unique_name, friendly_name, channel_optimized_routing)
CHANNELS = (
    ("default", "Default", False),
    ("voice", "Voice", True),
    ("chat", "Chat", True),
    ("sms", "SMS", True),
    ("video", "Video", False),
)
CHANNEL_WEIGHTS = {"voice": 40, "chat": 30, "sms": 14, "default": 10, "video": 6}

STATUS_WEIGHTS = {
    rules.PENDING: 32,
    rules.RESERVED: 14,
    rules.ASSIGNED: 26,
    rules.WRAPPING: 12,
    rules.COMPLETED: 9,
    rules.CANCELED: 7,
}
REASONS = {
    rules.COMPLETED: ("resolved", "Customer issue resolved", "Call completed", "Follow-up booked"),
    rules.CANCELED: ("waiting too long", "Customer hung up", "Duplicate task", "Spam"),
}
TIMEOUTS = ((86_400, 70), (3_600, 15), (7_200, 10), (1_209_600, 5))
PRIORITIES = ((0, 80), (5, 8), (10, 8), (20, 4))  # when no workflow target sets one

FIRST_NAMES = (
    "Maria", "James", "Aiko", "Lucas", "Fatima", "Olivia", "Noah", "Chen", "Sofia", "Mateo",
    "Amelie", "Jonas", "Priya", "Liam", "Elena", "Kwame", "Hannah", "Diego", "Ines", "Yusuf",
    "Chloé", "Lena", "Raj", "Camille", "Tomás", "Grace", "Felix", "Zanele", "Marco", "Ava",
)  # fmt: skip
LAST_NAMES = (
    "Garcia", "Smith", "Tanaka", "Martin", "Haddad", "Johnson", "Müller", "Wang", "Rossi",
    "Fernández", "Dubois", "Schmidt", "Patel", "O'Brien", "Novak", "Mensah", "Weber", "López",
    "Moreau", "Kaya", "Bernard", "Fischer", "Singh", "Lefebvre", "Silva", "Kim", "Becker",
)  # fmt: skip
COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Foods",
    "Hooli", "Vandelay Imports", "Soylent Retail", "Tyrell Systems", "Cyberdyne Labs",
    "Wonka Confections", "Oceanic Air", "Pied Piper", "Massive Dynamic", "Nakatomi Trading",
)  # fmt: skip
REGIONS = ("us-east", "us-west", "eu-west", "eu-central", "ap-south", "sa-east")
DOMAINS = ("example.com", "example.org", "example.net")
SUPPORT_SUBJECTS = (
    "Refund not received", "Cannot log in", "Double charged this month", "App crashes on start",
    "Change delivery address", "Cancel my subscription", "Invoice shows wrong VAT",
    "Password reset link expired", "Order arrived damaged", "Upgrade my plan",
)  # fmt: skip
SALES_SUBJECTS = (
    "Pricing for 200 seats", "Renewal quote needed", "Demo request", "Contract amendment",
    "Volume discount", "Trial extension", "Switching from a competitor", "Add-on pricing",
)  # fmt: skip
SUPPORT_SKILLS = ("billing", "refunds", "technical", "returns", "onboarding", "retention")
SALES_SKILLS = ("renewals", "prospecting", "enterprise", "pricing", "contracts")
LANGUAGES = {"support": (("en", 62), ("es", 16), ("fr", 12), ("de", 10)),
             "sales": (("en", 62), ("de", 20), ("fr", 10), ("es", 8))}  # fmt: skip
TYPES = {
    "support": (
        ("support", 40),
        ("billing", 22),
        ("technical", 20),
        ("refund", 10),
        ("account", 8),
    ),
    "sales": (("inquiry", 40), ("renewal", 25), ("lead", 20), ("upgrade", 15)),
}
TIERS = {"support": ("standard", "silver", "gold", "platinum"),
         "sales": ("smb", "mid-market", "enterprise")}  # fmt: skip
ADDONS = (
    {"ibm_watson_sentiment": {"status": "successful", "result": {"sentiment": "negative",
                                                                  "score": -0.62}}},
    {"voicebase_transcription": {"status": "successful", "language": "en-US",
                                 "keywords": ["refund", "invoice"]}},
    {"marchex_cleancall": {"status": "successful", "result": {"recommendation": "PASS"}}},
)  # fmt: skip


_CUMULATIVE: dict[int, tuple[list[Any], list[float], float, Any]] = {}


def _weighted(rng: random.Random, pairs: Mapping[str, int] | tuple) -> Any:
    """A weighted choice; cumulative weights are cached by the table's identity.

    The entry keeps its table alive: an id is only unique among living objects, and a
    table built per seeding, once freed, could hand its id to the next one.
    """
    table = _CUMULATIVE.get(id(pairs))
    if table is None or table[3] is not pairs:
        items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
        cumulative = list(itertools.accumulate(w for _, w in items))
        table = ([k for k, _ in items], cumulative, cumulative[-1], pairs)
        _CUMULATIVE[id(pairs)] = table
    keys, cumulative, total, _ = table
    return keys[bisect.bisect(cumulative, rng.random() * total)]


def random_attributes(rng: random.Random, kind: str, channel: str) -> dict[str, Any]:
    """Attributes of one realistic task (``kind`` is "support" or "sales")."""
    kind = kind if kind in TYPES else "support"
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore")
    handle = ascii_name.decode().lower().replace("'", "").replace(" ", "")
    language = _weighted(rng, LANGUAGES[kind])
    task_type = _weighted(rng, TYPES[kind])
    skills_pool = SUPPORT_SKILLS if kind == "support" else SALES_SKILLS
    skills = sorted(rng.sample(skills_pool, rng.choice((1, 1, 2, 2, 3))))
    if task_type == "billing" and "billing" not in skills and rng.random() < 0.6:
        skills = sorted([*skills, "billing"])
    tier = rng.choice(TIERS[kind])
    company = rng.choice(COMPANIES)
    attributes: dict[str, Any] = {
        "type": task_type,
        "name": f"{first} {last}",
        "handle": f"{handle}@{rng.choice(DOMAINS)}",
        "language": language,
        "channel": channel,
        "direction": "outbound" if kind == "sales" and rng.random() < 0.25 else "inbound",
        "skills": skills,
        "vip": rng.random() < 0.08,
        "customer": {
            "name": company if rng.random() < 0.6 else f"{first} {last}",
            "tier": tier,
            "account": {
                "id": f"{company.split()[0].upper()[:6]}-{rng.randint(1, 99_999):05d}",
                "region": rng.choice(REGIONS),
            },
        },
        "ticket_number": f"TK-{rng.randint(100_000, 999_999)}",
        "subject": rng.choice(SUPPORT_SUBJECTS if kind == "support" else SALES_SUBJECTS),
    }
    if channel in ("voice", "video", "default"):
        attributes["call_sid"] = "CA" + rng.randbytes(16).hex()
        attributes["from"] = f"+1555{rng.randint(0, 9_999_999):07d}"
    else:
        attributes["conversation_sid"] = "CH" + rng.randbytes(16).hex()
    if rng.random() < 0.2:
        attributes["previous_tickets"] = [
            f"TK-{rng.randint(100_000, 999_999)}" for _ in range(rng.randint(1, 3))
        ]
    return attributes


def _routing_key(workflow_sid: str, attributes: Mapping[str, Any]) -> tuple:
    """Every attribute the seeded workflows' filters read: routing depends on nothing else."""
    customer = attributes.get("customer") or {}
    return (
        workflow_sid,
        attributes.get("vip"),
        attributes.get("language"),
        attributes.get("channel"),
        tuple(attributes.get("skills", ())),
        attributes.get("type"),
        attributes.get("direction"),
        customer.get("tier"),
    )


def workflow_configuration(spec: WorkflowSpec, queue_sids: Mapping[str, str]) -> str:
    def targets(name: str, queue: str, priority: int | None) -> list[dict[str, Any]]:
        if name in spec.targets:
            return [{**t, "queue": queue_sids[t["queue"]]} for t in spec.targets[name]]
        return [
            {"queue": queue_sids[queue], **({"priority": priority} if priority is not None else {})}
        ]

    document = {
        "task_routing": {
            "filters": [
                {
                    "filter_friendly_name": name,
                    "expression": expression,
                    "targets": targets(name, queue, p),
                }
                for name, expression, queue, p in spec.filters
            ],
            "default_filter": {"queue": queue_sids[spec.default_queue]},
        }
    }
    return json.dumps(document, indent=2)


def populate(conn: sqlite3.Connection, *, tasks: int, seed: int, now: int) -> list[roster.Offered]:
    """Insert the seed data into an open write transaction; returns the seeded
    reservations' steps (their Events are recorded with the tasks' history)."""
    rng = random.Random(seed)
    plans: list[tuple[WorkspaceProfile, str, list[tuple[str, str, float]], list[str]]] = []
    rosters: list[roster.Workspace] = []
    for w_index, profile in enumerate(WORKSPACE_PROFILES):
        ws = seeded_sid("WS", seed, f"ws/{profile.key}")
        created = now - (400 - 60 * w_index) * DAY
        activity = {
            name: seeded_sid("WA", seed, f"ws/{profile.key}/activity/{name}")
            for name, _ in roster.ACTIVITIES
        }
        conn.execute(
            "INSERT INTO workspaces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ws,
                profile.friendly_name,
                created,
                created + 3 * DAY,
                activity["Offline"],
                "Offline",
                activity["Offline"],
                "Offline",
                None,
                None,
                1,
                "FIFO",
            ),
        )
        for a_index, (name, available) in enumerate(roster.ACTIVITIES):
            a_created = created + a_index * US
            conn.execute(
                "INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?)",
                (activity[name], ws, name, int(available), a_created, a_created),
            )
        queue_sids = {}
        for q_index, queue in enumerate(profile.queues):
            sid = seeded_sid("WQ", seed, f"ws/{profile.key}/queue/{queue.key}")
            queue_sids[queue.key] = sid
            q_created = created + (q_index + 1) * 3_600 * US
            conn.execute(
                "INSERT INTO task_queues VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    ws,
                    queue.friendly_name,
                    queue.target_workers,
                    "FIFO",
                    1,
                    activity["Busy"],
                    "Busy",
                    activity["Reserved"],
                    "Reserved",
                    q_created,
                    q_created,
                ),
            )
        workflows = []
        for f_index, spec in enumerate(profile.workflows):
            sid = seeded_sid("WW", seed, f"ws/{profile.key}/workflow/{spec.key}")
            configuration = workflow_configuration(spec, queue_sids)
            f_created = created + (f_index + 1) * DAY
            conn.execute(
                "INSERT INTO workflows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    ws,
                    spec.friendly_name,
                    configuration,
                    None,
                    None,
                    "application/json",
                    120,
                    f_created,
                    f_created,
                ),
            )
            workflows.append((sid, configuration, spec.share))
        channel_sids = []
        for c_index, (unique_name, friendly_name, optimized) in enumerate(CHANNELS):
            sid = seeded_sid("TC", seed, f"ws/{profile.key}/channel/{unique_name}")
            c_created = created + c_index * US
            conn.execute(
                "INSERT INTO task_channels VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sid, ws, friendly_name, unique_name, int(optimized), c_created, c_created),
            )
            channel_sids.append(sid)
        plans.append((profile, ws, workflows, channel_sids))
        rosters.append(
            roster.Workspace(
                key=profile.key,
                kind=profile.kind,
                sid=ws,
                queues={queue_sids[q.key]: (q.key, q.target_workers) for q in profile.queues},
                channels=dict(zip(channel_sids, (c[0] for c in CHANNELS), strict=True)),
                activities=activity,
                routed_workers=[
                    seeded_sid("WK", seed, f"ws/{profile.key}/worker/{n}")
                    for n in range(roster.ROSTER_MINIMUM)
                ],
            )
        )

    # Tasks routed to a worker name one of the first agents of their workspace.
    workers = {plan.sid: plan.routed_workers for plan in rosters}
    own = [(plan, min(plan[0].own_tasks, tasks // 50)) for plan in plans if plan[0].own_tasks]
    shared = [plan for plan in plans if plan[0].share > 0]
    remaining = tasks - sum(count for _, count in own)
    store.insert_tasks(conn, _tasks(rng, shared, workers, tasks=remaining, seed=seed, now=now))
    for plan, count in own:
        key = plan[0].key
        # A string seed is hashed with SHA-512: the same stream on every run and machine.
        own_rng = random.Random(f"{seed}/{key}")
        store.insert_tasks(
            conn,
            _tasks(own_rng, [plan], workers, tasks=count, seed=seed, now=now, sid_prefix=f"{key}/"),
        )
    names = (FIRST_NAMES, LAST_NAMES)
    steps: list[roster.Offered] = []
    for workspace in rosters:
        steps += roster.seed_roster(conn, workspace, seed=seed, now=now, names=names)
    return steps


def _tasks(
    rng: random.Random,
    plans: list,
    workers: Mapping[str, list[str]],
    *,
    tasks: int,
    seed: int,
    now: int,
    sid_prefix: str = "",
) -> Iterator[dict[str, Any]]:
    """``tasks`` tasks spread over ``plans`` by their shares (a lone plan gets them all)."""
    routes: dict[tuple, routing.Route] = {}
    entries: dict[tuple, routing.Position | None] = {}
    parsed = {
        sid: routing.parse_configuration(configuration)
        for plan in plans
        for sid, configuration, _ in plan[2]
    }
    channel_names = [name for name, _, _ in CHANNELS]
    weighted_plans = tuple((plan, plan[0].share or 1.0) for plan in plans)
    workflow_tables = {
        plan[1]: tuple(((sid, configuration), share) for sid, configuration, share in plan[2])
        for plan in plans
    }
    for n in range(tasks):
        profile, ws, _, channel_sids = _weighted(rng, weighted_plans)
        workflow_sid, configuration = _weighted(rng, workflow_tables[ws])
        channel = _weighted(rng, CHANNEL_WEIGHTS)
        channel_sid = channel_sids[channel_names.index(channel)]
        attributes = random_attributes(rng, profile.kind, channel)
        key = _routing_key(workflow_sid, attributes)
        route = routes.get(key)
        if route is None:
            route = routes[key] = routing.route(configuration, attributes)

        status = _weighted(rng, STATUS_WEIGHTS)
        timeout = _weighted(rng, TIMEOUTS)
        age = _age(rng, status)
        if status in (rules.PENDING, rules.RESERVED) and age >= timeout * 0.9:
            age = rng.uniform(10, timeout * 0.8)  # still inside its TTL at seeding time
        created = now - int(age * US)
        if status in rules.CLOSED_STATUSES:
            # Closed within the last few minutes: older ones would already be purged.
            updated = now - int(rng.uniform(5, 120) * US)
            updated = max(updated, created + US)
        elif status == rules.PENDING and rng.random() < 0.7:
            updated = created
        else:
            updated = created + int(rng.uniform(0, age) * US)
        entered = min(created + int(rng.uniform(0.2, 3) * US), now)
        virtual_start = created
        if rng.random() < 0.06:
            virtual_start = created - int(rng.uniform(600, 3 * 3_600) * US)  # moved to the front
        priority = route.priority
        if priority is None:
            priority = _weighted(rng, PRIORITIES)
        routing_target = None
        ignore_capacity = 0
        if rng.random() < 0.03:
            routing_target = rng.choice(workers[ws])
            ignore_capacity = 1
        addons = json.dumps(rng.choice(ADDONS)) if rng.random() < 0.06 else "{}"
        version = {
            rules.PENDING: rng.randint(0, 2),
            rules.RESERVED: rng.randint(1, 3),
            rules.ASSIGNED: rng.randint(2, 4),
            rules.WRAPPING: rng.randint(3, 5),
        }.get(status, rng.randint(4, 6))
        # Where the workflow has it now: a target with a timeout moves a waiting task on
        # as it ages (a task that is no longer waiting stayed where it was taken).
        config = parsed[workflow_sid]
        if key not in entries:
            entries[key] = routing.entry_position(config, attributes)
        position, filter_age = entries[key], 0.0
        if position is not None and routing.target_deadline(config, position) is not None:
            waited = age if status in (rules.PENDING, rules.RESERVED) else (updated - created) / US
            moved, moved_age = routing.position_at_age(config, attributes, waited)
            if moved is not None:
                position, filter_age = moved, moved_age
        placement = {"routing_filter": None, "routing_step": None}
        filter_entered = deadline_at = None
        queue_sid = route.task_queue_sid
        if position is not None:
            target = routing.target_at(config, position)
            queue_sid = target.queue
            if target.priority is not None:
                priority = target.priority
            filter_entered = created + int(filter_age * US)
            deadline = routing.target_deadline(config, position)
            deadline_at = filter_entered + deadline * US if deadline is not None else None
            if position != entries[key]:
                earlier = config.filters[position.filter_index].targets[: position.target_index]
                entered = filter_entered + sum(t.timeout or 0 for t in earlier) * US
            placement = {
                "routing_filter": position.filter_index,
                "routing_step": position.target_index,
            }
        yield {
            "sid": seeded_sid("WT", seed, f"task/{sid_prefix}{n}"),
            "workspace_sid": ws,
            "assignment_status": status,
            "attributes": json.dumps(attributes, ensure_ascii=False),
            "addons": addons,
            "has_addons": int(addons != "{}"),
            "date_created": created,
            "date_updated": updated,
            "task_queue_entered_date": entered,
            "virtual_start_time": virtual_start,
            "priority": priority,
            "reason": rng.choice(REASONS[status]) if status in REASONS else None,
            "task_queue_sid": queue_sid,
            "task_channel_sid": channel_sid,
            "timeout": timeout,
            "workflow_sid": workflow_sid,
            "ignore_capacity": ignore_capacity,
            "routing_target": routing_target,
            "version": version,
            "expires_at": created + timeout * US,
            **placement,
            "filter_entered": filter_entered,
            "target_deadline": deadline_at,
        }


def _age(rng: random.Random, status: str) -> float:
    """Seconds since creation, typical of a task in ``status``."""
    low, high = {
        rules.PENDING: (5, 2 * 3_600),
        rules.RESERVED: (10, 1_800),
        rules.ASSIGNED: (60, 6 * 3_600),
        rules.WRAPPING: (300, 8 * 3_600),
    }.get(status, (300, 8 * 3_600))
    return rng.uniform(low, high)


def populate_history(
    conn: sqlite3.Connection,
    *,
    seed: int,
    history_tasks: int = HISTORY_TASKS,
    reservations: Iterable[roster.Offered] = (),
) -> int:
    """Record the seeded tasks' Events, and their ``reservations``' (see the module's
    docstring); returns how many."""
    horizon = conn.execute(
        "SELECT MAX(date_updated, COALESCE(task_queue_entered_date, 0)) AS last FROM tasks "
        "ORDER BY last DESC LIMIT 1 OFFSET ?",
        (max(history_tasks, 1) - 1,),
    ).fetchone()
    since = horizon[0] if horizon is not None else 0
    names: dict[str, events.Names] = {}
    configurations = {r["sid"]: r["configuration"] for r in conn.execute("SELECT * FROM workflows")}
    integration = events.api_client(DEVELOPMENT_CREDENTIALS.account_sid, None)
    recorded: list[tuple[int, int, str, str, events.Actor, events.Event]] = []
    for task in conn.execute(
        f"SELECT {', '.join(store.TASK_COLUMNS)} FROM tasks "  # noqa: S608 - fixed names
        "WHERE MAX(date_updated, COALESCE(task_queue_entered_date, 0)) >= ? ORDER BY sid",
        (since,),
    ).fetchall():
        ws = task["workspace_sid"]
        if ws not in names:
            names[ws] = events.Names.read(conn, ws)
        system = events.system(ws)
        route = routing.route(
            configurations.get(task["workflow_sid"], ""),
            rules.stored_attributes(task["attributes"]),
        )
        history = _task_history(task, route, names[ws], seed, integration, system)
        for n, (moment, actor, event) in enumerate(history):
            if moment >= since:
                sid = seeded_sid("EV", seed, f"event/{task['sid']}/{n}")
                recorded.append((moment, len(recorded), sid, ws, actor, event))
    available: dict[str, tuple[str, str]] = {
        r["workspace_sid"]: (r["sid"], r["friendly_name"])
        for r in conn.execute("SELECT * FROM activities WHERE friendly_name = 'Available'")
    }
    for step in reservations:
        if step.at < since:
            continue
        ws = step.task["workspace_sid"]
        if ws not in names:
            names[ws] = events.Names.read(conn, ws)
        worker = step.worker(available.get(ws, ("", "")))
        event = events.reservation_event(
            step.kind, step.task, step.reservation, worker, names[ws], step.at
        )
        # TaskRouter offers and times out; the worker accepts, rejects and completes.
        system_step = step.kind in ("reservation.created", "reservation.timeout")
        actor = events.system(ws) if system_step else events.worker_actor(ws, worker["sid"])
        sid = seeded_sid("EV", seed, f"event/{step.reservation['sid']}/{step.kind}")
        # A worker's answer comes before the task event it causes at the same moment.
        order = len(recorded) - (0 if step.kind == "reservation.created" else 10**9)
        recorded.append((step.at, order, sid, ws, actor, event))
    recorded.sort(key=lambda entry: entry[:2])
    events.record_history(
        conn, ((sid, ws, actor, event, m) for m, _, sid, ws, actor, event in recorded)
    )
    return len(recorded)


def _task_history(
    task: Mapping[str, Any],
    route: routing.Route,
    names: events.Names,
    seed: int,
    integration: events.Actor,
    system: events.Actor,
) -> Iterator[tuple[int, events.Actor, events.Event]]:
    """(moment, actor, event) of one seeded task's life up to its current state."""
    rng = random.Random(f"{seed}/history/{task['sid']}")
    status = task["assignment_status"]
    # Its reservation steps are its reservations' Events (populate_history): here only the
    # versions they took, and the status events a worker's wrap-up and completion make.
    path = {
        rules.PENDING: [],
        rules.RESERVED: [rules.RESERVED],
        rules.ASSIGNED: [rules.RESERVED, rules.ASSIGNED],
        rules.WRAPPING: [rules.RESERVED, rules.ASSIGNED, rules.WRAPPING],
        rules.COMPLETED: [rules.RESERVED, rules.ASSIGNED, rules.WRAPPING, rules.COMPLETED],
        rules.CANCELED: [rules.CANCELED]
        if rng.random() < 0.6
        else [rules.RESERVED, rules.CANCELED],
    }[status]
    touches = max(0, task["version"] - len(path))  # changes of attributes, priority...
    created = task["date_created"]
    entered = task["task_queue_entered_date"] or created
    last = max(task["date_updated"], entered)
    state = {**dict(task), "assignment_status": rules.PENDING, "version": 0, "reason": None}
    group = events.creation_events(state, route, names, created)
    for index, event in enumerate(group):
        queue_entry = index == len(group) - 1 and event.event_type == "task-queue.entered"
        yield (entered if queue_entry else created), integration, event
    steps = ["touch"] * touches + path
    moments = [*sorted(int(rng.uniform(entered, last)) for _ in steps[:-1]), last] if steps else []
    for step, moment in zip(steps, moments, strict=True):
        before = state
        state = {**state, "version": state["version"] + 1}
        if step in (rules.RESERVED, rules.ASSIGNED):
            state["assignment_status"] = step
            continue
        if step != "touch":
            state["assignment_status"] = step
            if step in rules.CLOSED_STATUSES:
                state["reason"] = task["reason"]
        # A client touches or cancels it; TaskRouter (its workers, later) does the rest.
        actor = integration if step in ("touch", rules.CANCELED) else system
        for event in events.update_events(before, state, None, names, moment):
            yield moment, actor, event


def ensure_seeded(
    sandbox: store.SandboxStore,
    tasks: int = 600,
    seed: int = 7,
    *,
    history_tasks: int = HISTORY_TASKS,
) -> bool:
    """Fill an empty store with deterministic data; a no-op once seeded. True if it seeded.

    The check and the seeding are one write transaction, so when two processes start
    together one seeds and the other waits, then finds the data there.
    """
    with sandbox.write() as conn:
        if conn.execute("SELECT 1 FROM meta WHERE key = 'seeded_at'").fetchone():
            return False
        bulk = conn.execute("SELECT 1 FROM tasks LIMIT 1").fetchone() is None
        if bulk:
            # Building the indexes once after the bulk insert is about 3x faster than
            # maintaining them row by row (100k tasks: ~1.6 s instead of ~4.5 s).
            for name in store.INDEX_NAMES:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
        seeded_at = store.now_us()
        steps = populate(conn, tasks=tasks, seed=seed, now=seeded_at)
        populate_history(conn, seed=seed, history_tasks=history_tasks, reservations=steps)
        if bulk:
            for statement in store.INDEX_DDL:
                conn.execute(statement)
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("seeded_at", str(seeded_at)), ("seed", str(seed)), ("seed_tasks", str(tasks))],
        )
    with sandbox.connection() as conn:
        # Fold the seeding's WAL back into the database file, so it does not linger.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return True
