"""The sandbox's storage: one SQLite file shared by threads and processes.

Several processes open the same file at once (the dashboard's workers, ``runsandbox`` and its
simulator), so: WAL journal (readers never block the writer), a long busy timeout, every write
in a ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two read-modify-write
transactions never deadlock on lock upgrade), and reads in a deferred transaction so one list
answer is one consistent snapshot. Connections are never shared between threads at the same
time: each operation borrows one from a small per-process pool (server threads are short
lived, so per-thread connections would be opened and dropped on every request), and a
process that forks starts a new pool.

Times are stored as integer microseconds since the epoch (UTC) and shown in whole seconds, so
tasks created within one second still keep their creation order.

Listing tasks is keyset paging. A page token names one task (``PA<sid>``: the page after it,
``PB<sid>``: the page before it); the scan resumes from that task's current ordering values,
with the SID as the final tie-break. For every ordering TaskRouter allows there is one
index ``(workspace_sid, assignment_status, key1 [DESC], key2 [DESC], sid)``, with the
directions of the ordering (mixed directions get their own index, since SQLite cannot read one
index in two directions at once). The keyset condition for keys k1..kn after values v1..vn
is the OR of "k1 = v1 AND ... AND k(i-1) = v(i-1) AND ki beyond vi" for i = n..1; each of these
branches is run as its own range scan of the index, in that order, so every branch starts
exactly at its first row and the concatenation is the continuation of the ordering. Several
statuses (or none: all six) are scanned separately and merged. A page therefore costs
O(page size) whatever its depth and whatever the size of the workspace.

DECISIONS (TaskRouter does not document these):
    * The SID tie-break follows the direction of the last ordering key.
    * A page token names a task; its ordering values are read when the token is used. If the
      task was deleted since, its values are kept in ``task_tombstones`` so the token still
      works; a token naming no task of this workspace at all is refused (400).
    * Names given to ``TaskQueueName``/``WorkflowName`` that match nothing give an empty page.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from pathlib import Path
from typing import Any

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import parse_expression
from tasks_app.taskrouter.query import TaskQuery

__all__ = ["SandboxStore", "TaskPage", "from_us", "to_us"]

# A file written by an older schema is emptied and seeded again when opened (the sandbox's
# data is disposable): see SandboxStore._ensure_schema.
SCHEMA_VERSION = "2"

# TaskRouter ordering attribute -> column.
ORDER_COLUMNS: dict[str, str] = {
    "DateCreated": "date_created",
    "Priority": "priority",
    "VirtualStartTime": "virtual_start_time",
}

TASK_COLUMNS: tuple[str, ...] = (
    "sid",
    "workspace_sid",
    "assignment_status",
    "attributes",
    "addons",
    "has_addons",
    "date_created",
    "date_updated",
    "task_queue_entered_date",
    "virtual_start_time",
    "priority",
    "reason",
    "task_queue_sid",
    "task_channel_sid",
    "timeout",
    "workflow_sid",
    "ignore_capacity",
    "routing_target",
    "version",
    "expires_at",
    "routing_filter",
    "routing_step",
    "filter_entered",
    "target_deadline",
)
# Where a task stands in its workflow (routing.Position, the moment it entered that filter,
# and when its target times out): columns a caller inserting a task may leave out.
ROUTING_COLUMNS: frozenset[str] = frozenset(
    {"routing_filter", "routing_step", "filter_entered", "target_deadline"}
)
_TASK_SELECT = ", ".join(TASK_COLUMNS)

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workspaces (
    sid TEXT PRIMARY KEY,
    friendly_name TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    default_activity_sid TEXT,
    default_activity_name TEXT,
    timeout_activity_sid TEXT,
    timeout_activity_name TEXT,
    event_callback_url TEXT,
    events_filter TEXT,
    multi_task_enabled INTEGER NOT NULL,
    prioritize_queue_order TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workflows (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    configuration TEXT NOT NULL,
    assignment_callback_url TEXT,
    fallback_assignment_callback_url TEXT,
    document_content_type TEXT,
    task_reservation_timeout INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS task_queues (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    target_workers TEXT,
    task_order TEXT NOT NULL,
    max_reserved_workers INTEGER NOT NULL,
    assignment_activity_sid TEXT,
    assignment_activity_name TEXT,
    reservation_activity_sid TEXT,
    reservation_activity_name TEXT,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS task_channels (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    unique_name TEXT NOT NULL,
    channel_optimized_routing INTEGER,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    assignment_status TEXT NOT NULL,
    attributes TEXT NOT NULL,
    addons TEXT NOT NULL,
    has_addons INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    task_queue_entered_date INTEGER,
    virtual_start_time INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    reason TEXT,
    task_queue_sid TEXT,
    task_channel_sid TEXT,
    timeout INTEGER NOT NULL,
    workflow_sid TEXT,
    ignore_capacity INTEGER,
    routing_target TEXT,
    version INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    routing_filter INTEGER,
    routing_step INTEGER,
    filter_entered INTEGER,
    target_deadline INTEGER
);
CREATE TABLE IF NOT EXISTS task_tombstones (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    virtual_start_time INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    workspace_sid TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_date_ms INTEGER NOT NULL,
    description TEXT,
    resource_type TEXT,
    resource_sid TEXT,
    resource_url TEXT,
    actor_type TEXT,
    actor_sid TEXT,
    actor_url TEXT,
    source TEXT,
    source_ip_address TEXT,
    event_data TEXT NOT NULL,
    task_sid TEXT,
    task_queue_sid TEXT,
    workflow_sid TEXT,
    task_channel_sid TEXT,
    worker_sid TEXT,
    reservation_sid TEXT
);
CREATE INDEX IF NOT EXISTS workflows_by_workspace ON workflows (workspace_sid, date_created);
CREATE INDEX IF NOT EXISTS task_queues_by_workspace ON task_queues (workspace_sid, date_created);
CREATE INDEX IF NOT EXISTS task_channels_by_workspace
    ON task_channels (workspace_sid, date_created);
CREATE INDEX IF NOT EXISTS task_tombstones_by_age ON task_tombstones (deleted_at);
CREATE TABLE IF NOT EXISTS activities (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    available INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_by_workspace ON activities (workspace_sid, date_created);
CREATE TABLE IF NOT EXISTS workers (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    activity_sid TEXT NOT NULL,
    available INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    date_status_changed INTEGER NOT NULL,
    idle_since INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS workers_by_age ON workers (workspace_sid, date_created, sid);
CREATE INDEX IF NOT EXISTS workers_by_status_change
    ON workers (workspace_sid, date_status_changed, sid);
CREATE INDEX IF NOT EXISTS workers_by_activity ON workers (activity_sid);
CREATE TABLE IF NOT EXISTS worker_channels (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    worker_sid TEXT NOT NULL,
    task_channel_sid TEXT NOT NULL,
    configured_capacity INTEGER NOT NULL,
    available INTEGER NOT NULL,
    worker_available INTEGER NOT NULL,
    held INTEGER NOT NULL,
    assigned INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS worker_channels_by_worker
    ON worker_channels (worker_sid, task_channel_sid);
CREATE INDEX IF NOT EXISTS worker_channels_free ON worker_channels (task_channel_sid, worker_sid)
    WHERE available = 1 AND worker_available = 1 AND held < configured_capacity;
CREATE TABLE IF NOT EXISTS queue_members (
    task_queue_sid TEXT NOT NULL,
    worker_sid TEXT NOT NULL,
    PRIMARY KEY (task_queue_sid, worker_sid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_members_by_worker ON queue_members (worker_sid);
CREATE TABLE IF NOT EXISTS reservations (
    sid TEXT PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    task_sid TEXT NOT NULL,
    worker_sid TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    task_channel_sid TEXT,
    task_queue_sid TEXT,
    workflow_sid TEXT,
    reservation_status TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    timeout_at INTEGER,
    version INTEGER NOT NULL,
    post_work_activity_sid TEXT
);
-- Reservations list in the order they were made (rowid), which every index ends with.
CREATE INDEX IF NOT EXISTS reservations_by_task ON reservations (task_sid, date_created);
CREATE INDEX IF NOT EXISTS reservations_by_worker
    ON reservations (worker_sid, date_created);
CREATE INDEX IF NOT EXISTS reservations_due ON reservations (timeout_at)
    WHERE reservation_status = 'pending';
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    task_sid TEXT,
    task_queue_sid TEXT,
    workflow_sid TEXT,
    task_channel_sid TEXT,
    worker_sid TEXT,
    wait INTEGER,
    queue_wait INTEGER
);
CREATE INDEX IF NOT EXISTS ledger_by_time ON ledger (workspace_sid, at);
CREATE TABLE IF NOT EXISTS activity_spans (
    id INTEGER PRIMARY KEY,
    workspace_sid TEXT NOT NULL,
    worker_sid TEXT NOT NULL,
    activity_sid TEXT NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER
);
CREATE INDEX IF NOT EXISTS activity_spans_open ON activity_spans (worker_sid) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS activity_spans_by_end ON activity_spans (workspace_sid, ended);
"""
# Every table, children first (reset and schema upgrades empty them in this order).
TABLES: tuple[str, ...] = (
    "events",
    "ledger",
    "activity_spans",
    "reservations",
    "queue_members",
    "worker_channels",
    "workers",
    "activities",
    "tasks",
    "task_tombstones",
    "task_channels",
    "task_queues",
    "workflows",
    "workspaces",
)


def _ordering_specs() -> list[tuple[tuple[str, bool], ...]]:
    """Every key sequence TaskRouter allows, first key ascending (an index reads backwards too)."""
    attributes = rules.ORDERING_ATTRIBUTES
    sequences = [(a,) for a in attributes] + [
        (a, b)
        for a in attributes
        for b in attributes
        if a != b and {a, b} != {"DateCreated", "VirtualStartTime"}
    ]
    specs = []
    for sequence in sequences:
        for directions in product((False, True), repeat=len(sequence) - 1):
            keys = [(ORDER_COLUMNS[sequence[0]], False)]
            keys += [(ORDER_COLUMNS[a], d) for a, d in zip(sequence[1:], directions, strict=True)]
            specs.append(tuple(keys))
    return specs


def _index_name(keys: Sequence[tuple[str, bool]]) -> str:
    """The index serving ``keys`` (ordering keys without the sid), in either direction."""
    flip = keys[0][1]
    return "tasks_by_" + "_".join(col + ("_desc" if desc != flip else "") for col, desc in keys)


def _index_ddl() -> list[str]:
    statements = []
    for keys in _ordering_specs():
        columns = [f"{col}{' DESC' if desc else ''}" for col, desc in keys]
        columns.append(f"sid{' DESC' if keys[-1][1] else ''}")
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {_index_name(keys)} "
            f"ON tasks (workspace_sid, assignment_status, {', '.join(columns)})"
        )
    # The simulator's clock: open tasks past their TTL, and closed tasks due for purging.
    statements.append(
        "CREATE INDEX IF NOT EXISTS tasks_expiring ON tasks (expires_at) "
        "WHERE assignment_status IN ('pending', 'reserved')"
    )
    statements.append(
        "CREATE INDEX IF NOT EXISTS tasks_closed ON tasks (date_updated) "
        "WHERE assignment_status IN ('canceled', 'completed')"
    )
    # Assignment: a queue's pending tasks on one channel in FIFO order (LIFO reads it
    # backwards), and the targets due to time out.
    # Ties go by creation order (the rowid every index ends with).
    statements.append(
        "CREATE INDEX IF NOT EXISTS tasks_waiting ON tasks "
        "(task_queue_sid, task_channel_sid, priority DESC, virtual_start_time) "
        "WHERE assignment_status = 'pending'"
    )
    statements.append(
        "CREATE INDEX IF NOT EXISTS tasks_waiting_lifo ON tasks "
        "(task_queue_sid, task_channel_sid, virtual_start_time) "
        "WHERE assignment_status = 'pending'"
    )
    statements.append(
        "CREATE INDEX IF NOT EXISTS tasks_target_due ON tasks (target_deadline) "
        "WHERE assignment_status = 'pending' AND target_deadline IS NOT NULL"
    )
    return statements


# Events are listed in (event_date_ms, seq) order, seq being the insertion order (the rowid,
# which every SQLite index ends with): one index per filter, each holding that order.
EVENT_FILTER_COLUMNS: tuple[str, ...] = (
    "task_sid",
    "reservation_sid",
    "worker_sid",
    "event_type",
    "task_queue_sid",
    "task_channel_sid",
    "workflow_sid",
)


def _event_index_ddl() -> list[str]:
    statements = [
        "CREATE INDEX IF NOT EXISTS events_by_date ON events (workspace_sid, event_date_ms)"
    ]
    for column in EVENT_FILTER_COLUMNS:
        # Partial: most events have no worker or reservation, and such rows cost nothing.
        where = "" if column == "event_type" else f" WHERE {column} IS NOT NULL"
        statements.append(
            f"CREATE INDEX IF NOT EXISTS events_by_{column} "
            f"ON events (workspace_sid, {column}, event_date_ms){where}"
        )
    return statements


INDEX_DDL: tuple[str, ...] = (*_index_ddl(), *_event_index_ddl())
INDEX_NAMES: tuple[str, ...] = tuple(s.split()[5] for s in INDEX_DDL)


# --- Time ---------------------------------------------------------------------------------


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, from an aware datetime (naive = UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


def now_us() -> int:
    return time.time_ns() // 1000


# --- The store ----------------------------------------------------------------------------


class SandboxStore:
    """The sandbox's SQLite file. Thread-safe and multi-process-safe.

    ``SandboxStore(path)`` creates the file and its schema when needed; ``ensure_seeded``
    fills it once with deterministic data; ``reset`` empties it.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._ensure_schema()

    def __repr__(self) -> str:
        return f"SandboxStore({str(self.path)!r})"

    # Connections and transactions ---------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # explicit BEGIN/COMMIT only
            check_same_thread=False,  # pooled: used by one thread at a time
            cached_statements=512,
        )
        conn.row_factory = sqlite3.Row
        # Names of workers and activities compare ignoring case, in any script (NOCASE
        # folds ASCII only).
        conn.create_function("casefold", 1, _casefold, deterministic=True)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection for the duration of the block."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked child must not touch its parent's connections (SQLite's rule).
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with self._lock:
                if self._pid == os.getpid() and len(self._idle) < 16:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in the block sees one snapshot."""
        with self.connection() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, holding the database's write lock from its start."""
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the idle connections (borrowed ones close when returned)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _ensure_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.write() as conn:
            if _older_schema(conn):
                # Written by an earlier build: its tables lack columns this one needs.
                # Sandbox data is disposable, so it starts again (and is seeded again).
                for table in TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                conn.execute("DELETE FROM meta")
            for statement in _TABLES.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for statement in INDEX_DDL:
                conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )

    def reset(self) -> None:
        """Delete every resource; the next ``seed.ensure_seeded`` seeds again."""
        with self.write() as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            conn.execute("DELETE FROM meta WHERE key != 'schema_version'")

    def is_seeded(self) -> bool:
        with self.read() as conn:
            return bool(conn.execute("SELECT 1 FROM meta WHERE key = 'seeded_at'").fetchone())

    def count_tasks(self, workspace_sid: str | None = None) -> int:
        with self.read() as conn:
            if workspace_sid is None:
                return conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
            return conn.execute(
                "SELECT COUNT(*) FROM tasks WHERE workspace_sid = ?", (workspace_sid,)
            ).fetchone()[0]


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _older_schema(conn: sqlite3.Connection) -> bool:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not exists:
        return False
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row is not None and row[0] != SCHEMA_VERSION


# --- Small resources (a handful per workspace: read whole, paged in Python) ---------------


def fetch_workspaces(conn: sqlite3.Connection, friendly_name: str | None = None) -> list:
    if friendly_name is None:
        return conn.execute("SELECT * FROM workspaces ORDER BY date_created, sid").fetchall()
    return conn.execute(
        "SELECT * FROM workspaces WHERE friendly_name = ? ORDER BY date_created, sid",
        (friendly_name,),
    ).fetchall()


def fetch_workspace(conn: sqlite3.Connection, sid: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM workspaces WHERE sid = ?", (sid,)).fetchone()


def _fetch_children(
    conn: sqlite3.Connection, table: str, workspace_sid: str, friendly_name: str | None
) -> list:
    sql = f"SELECT * FROM {table} WHERE workspace_sid = ?"  # noqa: S608 - fixed names
    params: list[Any] = [workspace_sid]
    if friendly_name is not None:
        sql += " AND friendly_name = ?"
        params.append(friendly_name)
    return conn.execute(sql + " ORDER BY date_created, sid", params).fetchall()


def fetch_workflows(conn: sqlite3.Connection, workspace_sid: str, friendly_name=None) -> list:
    return _fetch_children(conn, "workflows", workspace_sid, friendly_name)


def fetch_task_queues(conn: sqlite3.Connection, workspace_sid: str, friendly_name=None) -> list:
    return _fetch_children(conn, "task_queues", workspace_sid, friendly_name)


def fetch_task_channels(conn: sqlite3.Connection, workspace_sid: str) -> list:
    return _fetch_children(conn, "task_channels", workspace_sid, None)


def fetch_workflow(conn: sqlite3.Connection, workspace_sid: str, sid: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM workflows WHERE sid = ? AND workspace_sid = ?", (sid, workspace_sid)
    ).fetchone()


def fetch_task_queue(conn: sqlite3.Connection, workspace_sid: str, sid: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM task_queues WHERE sid = ? AND workspace_sid = ?", (sid, workspace_sid)
    ).fetchone()


def fetch_task_channel(
    conn: sqlite3.Connection, workspace_sid: str, sid_or_unique_name: str
) -> sqlite3.Row | None:
    """A TaskChannel by SID or by ``unique_name`` (both are accepted wherever TaskRouter
    takes a TaskChannel)."""
    column = "sid" if rules.is_sid(sid_or_unique_name, "TC") else "unique_name"
    return conn.execute(
        f"SELECT * FROM task_channels WHERE {column} = ? AND workspace_sid = ?",  # noqa: S608
        (sid_or_unique_name, workspace_sid),
    ).fetchone()


# --- Tasks --------------------------------------------------------------------------------


def rows_in(
    conn: sqlite3.Connection, sql: str, values: Sequence[Any], *, size: int = 500
) -> Iterator[sqlite3.Row]:
    """The rows of ``sql`` (holding ``{marks}`` where its ``IN (...)`` list goes) for every
    value, a few hundred at a time (SQLite caps the parameters of one statement)."""
    for start in range(0, len(values), size):
        part = list(values[start : start + size])
        yield from conn.execute(sql.format(marks=", ".join("?" for _ in part)), part)


def fetch_task(conn: sqlite3.Connection, workspace_sid: str, sid: str) -> sqlite3.Row | None:
    return conn.execute(
        f"SELECT {_TASK_SELECT} FROM tasks WHERE sid = ? AND workspace_sid = ?",  # noqa: S608
        (sid, workspace_sid),
    ).fetchone()


def insert_tasks(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    placeholders = ", ".join("?" for _ in TASK_COLUMNS)
    conn.executemany(
        f"INSERT INTO tasks ({_TASK_SELECT}) VALUES ({placeholders})",  # noqa: S608
        ([row.get(c) if c in ROUTING_COLUMNS else row[c] for c in TASK_COLUMNS] for row in rows),
    )


def update_task(conn: sqlite3.Connection, sid: str, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - set(TASK_COLUMNS)
    if unknown:
        raise ValueError(f"not task columns: {sorted(unknown)}")
    assignments = ", ".join(f"{column} = ?" for column in changes)
    conn.execute(
        f"UPDATE tasks SET {assignments} WHERE sid = ?",  # noqa: S608 - columns checked above
        [*changes.values(), sid],
    )


def delete_task(conn: sqlite3.Connection, row: Mapping[str, Any], now: int) -> None:
    """Delete a task, keeping its ordering values so page tokens naming it still work."""
    conn.execute(
        "INSERT OR REPLACE INTO task_tombstones "
        "(sid, workspace_sid, date_created, priority, virtual_start_time, deleted_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            row["sid"],
            row["workspace_sid"],
            row["date_created"],
            row["priority"],
            row["virtual_start_time"],
            now,
        ),
    )
    conn.execute("DELETE FROM tasks WHERE sid = ?", (row["sid"],))


def prune_tombstones(conn: sqlite3.Connection, older_than: int) -> int:
    return conn.execute("DELETE FROM task_tombstones WHERE deleted_at < ?", (older_than,)).rowcount


def _filter_sql(query: TaskQuery, workspace_sid: str) -> tuple[str, list[Any]]:
    """The filters SQLite can apply, as `` AND ...`` conditions and their parameters
    (statuses drive the index scans, the expression is evaluated in Python)."""
    conditions: list[str] = []
    params: list[Any] = []
    if query.priority is not None:
        conditions.append("priority = ?")
        params.append(query.priority)
    if query.workflow_sid:
        conditions.append("workflow_sid = ?")
        params.append(query.workflow_sid)
    if query.workflow_name:
        conditions.append(
            "workflow_sid IN (SELECT sid FROM workflows "
            "WHERE workspace_sid = ? AND friendly_name = ?)"
        )
        params += [workspace_sid, query.workflow_name]
    if query.task_queue_sid:
        conditions.append("task_queue_sid = ?")
        params.append(query.task_queue_sid)
    if query.task_queue_name:
        conditions.append(
            "task_queue_sid IN (SELECT sid FROM task_queues "
            "WHERE workspace_sid = ? AND friendly_name = ?)"
        )
        params += [workspace_sid, query.task_queue_name]
    if query.routing_target:
        conditions.append("routing_target = ?")
        params.append(query.routing_target)
    if query.has_addons is not None:
        conditions.append("has_addons = ?")
        params.append(int(query.has_addons))
    return "".join(f" AND {c}" for c in conditions), params


@dataclass(frozen=True, slots=True)
class TaskPage:
    rows: list[sqlite3.Row]
    has_next: bool
    has_previous: bool


SortSpec = tuple[tuple[str, bool], ...]


def sort_spec(ordering: Sequence[rules.OrderKey]) -> SortSpec:
    """Columns and directions for an ordering, with the SID tie-break; default DateCreated."""
    keys = [(ORDER_COLUMNS[k.attribute], k.descending) for k in ordering]
    if not keys:
        keys = [("date_created", False)]
    return (*keys, ("sid", keys[-1][1]))


def page_tasks(
    conn: sqlite3.Connection,
    workspace_sid: str,
    query: TaskQuery,
    page_size: int,
    token: str | None = None,
) -> TaskPage:
    """One page of tasks; ``token`` is ``PA<sid>`` (after that task) or ``PB<sid>`` (before).

    Raises InvalidParameter for a token that names no task of this workspace.
    """
    spec = sort_spec(query.ordering)
    if token is None:
        rows = _take(conn, workspace_sid, query, spec, None, page_size + 1)
        return TaskPage(rows[:page_size], len(rows) > page_size, False)
    direction, anchor_sid = token[:2], token[2:]
    anchor = _anchor_values(conn, workspace_sid, anchor_sid, spec)
    if direction == "PA":
        rows = _take(conn, workspace_sid, query, spec, anchor, page_size + 1)
        return TaskPage(rows[:page_size], len(rows) > page_size, True)
    # The page before: scan the reversed ordering from the anchor, then turn it around.
    reverse = tuple((col, not desc) for col, desc in spec)
    rows = _take(conn, workspace_sid, query, reverse, anchor, page_size + 1)
    return TaskPage(rows[:page_size][::-1], True, len(rows) > page_size)


def _anchor_values(
    conn: sqlite3.Connection, workspace_sid: str, sid: str, spec: SortSpec
) -> tuple[Any, ...]:
    columns = ", ".join(col for col, _ in spec)
    for table in ("tasks", "task_tombstones"):
        row = conn.execute(
            f"SELECT {columns} FROM {table} WHERE sid = ? AND workspace_sid = ?",  # noqa: S608
            (sid, workspace_sid),
        ).fetchone()
        if row is not None:
            return tuple(row)
    raise InvalidParameter("PageToken is not valid for this list.", param="PageToken")


def _take(
    conn: sqlite3.Connection,
    workspace_sid: str,
    query: TaskQuery,
    spec: SortSpec,
    anchor: tuple[Any, ...] | None,
    limit: int,
) -> list[sqlite3.Row]:
    where, params = _filter_sql(query, workspace_sid)
    statuses = query.statuses or rules.STATUSES
    scans = [_scan(conn, workspace_sid, status, where, params, spec, anchor) for status in statuses]
    rows: Iterator[sqlite3.Row]
    rows = scans[0] if len(scans) == 1 else heapq.merge(*scans, key=_merge_key(spec))
    expression = query.evaluate_task_attributes
    matches = parse_expression(expression).matches if expression else None
    found: list[sqlite3.Row] = []
    try:
        for row in rows:
            if matches is not None and not matches(_attributes(row)):
                continue
            found.append(row)
            if len(found) >= limit:
                break
    finally:
        for scan in scans:
            scan.close()  # finalizes its cursor before the read transaction ends
    return found


def _attributes(row: sqlite3.Row) -> Mapping[str, Any]:
    # Never raises, whatever was stored (deep nesting, NaN): a poisoned task still lists.
    return rules.stored_attributes(row["attributes"])


def _scan(
    conn: sqlite3.Connection,
    workspace_sid: str,
    status: str,
    where: str,
    params: list[Any],
    spec: SortSpec,
    anchor: tuple[Any, ...] | None,
) -> Iterator[sqlite3.Row]:
    """Tasks of one status in ``spec`` order, strictly after ``anchor`` (if given), lazily."""
    base_params = [workspace_sid, status, *params]
    for sql, anchor_count in _branches(where, spec, anchored=anchor is not None):
        extra = list(anchor[:anchor_count]) if anchor is not None else []
        yield from conn.execute(sql, [*base_params, *extra])


def _branches(where: str, spec: SortSpec, *, anchored: bool) -> list[tuple[str, int]]:
    """The SQL of each range scan, with how many anchor values each one takes.

    Anchored: the OR-expanded keyset condition, one branch per range scan, deepest first.
    """
    index = _index_name(spec[:-1])
    base = (
        f"SELECT {_TASK_SELECT} FROM tasks INDEXED BY {index} "  # noqa: S608 - names are ours
        f"WHERE workspace_sid = ? AND assignment_status = ?{where}"
    )
    if not anchored:
        return [(f"{base} ORDER BY {_order_by(spec)}", 0)]
    branches = []
    for i in range(len(spec) - 1, -1, -1):
        equal = "".join(f" AND {col} = ?" for col, _ in spec[:i])
        col, desc = spec[i]
        beyond = f" AND {col} {'<' if desc else '>'} ?"
        branches.append((f"{base}{equal}{beyond} ORDER BY {_order_by(spec[i:])}", i + 1))
    return branches


def _order_by(spec: SortSpec) -> str:
    return ", ".join(f"{col} {'DESC' if desc else 'ASC'}" for col, desc in spec)


def _merge_key(spec: SortSpec) -> Callable[[sqlite3.Row], tuple]:
    def key(row: sqlite3.Row) -> tuple:
        values = []
        for col, desc in spec:
            value = row[col]
            if col == "sid":
                value = int(value[2:], 16)  # SIDs are lowercase hex: same order as the text
            values.append(-value if desc else value)
        return tuple(values)

    return key


def query_plans(
    conn: sqlite3.Connection, ordering: Sequence[rules.OrderKey], *, anchored: bool
) -> list[str]:
    """SQLite's plan for each range scan of a list page (tests check that none sorts)."""
    spec = sort_spec(ordering)
    plans = []
    for sql, anchor_count in _branches("", spec, anchored=anchored):
        params = ["WS" + "0" * 32, "pending", *([0] * anchor_count)]
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        plans.append(" | ".join(str(r[-1]) for r in rows))
    return plans


# --- Statistics ---------------------------------------------------------------------------
# RealTimeStatistics and TaskQueues/Statistics are computed from the tasks themselves, with
# aggregate queries: a statistics read never walks the tasks one by one in Python.

WAITING_STATUSES = (rules.PENDING, rules.RESERVED)


def _channel_sql(channel_sid: str | None) -> tuple[str, list[Any]]:
    return (" AND task_channel_sid = ?", [channel_sid]) if channel_sid else ("", [])


def count_tasks_by(
    conn: sqlite3.Connection, workspace_sid: str, column: str, channel_sid: str | None = None
) -> list[sqlite3.Row]:
    """(task_queue_sid or priority, assignment_status, tasks) for every group."""
    if column not in ("task_queue_sid", "priority"):
        raise ValueError(column)
    channel, params = _channel_sql(channel_sid)
    return conn.execute(
        f"SELECT {column} AS key, assignment_status, COUNT(*) AS tasks FROM tasks "  # noqa: S608
        f"WHERE workspace_sid = ?{channel} GROUP BY {column}, assignment_status",
        [workspace_sid, *params],
    ).fetchall()


def longest_waiting(
    conn: sqlite3.Connection, workspace_sid: str, channel_sid: str | None = None
) -> list[sqlite3.Row]:
    """Per queue (and for the workspace, key NULL): the oldest pending or reserved task."""
    channel, params = _channel_sql(channel_sid)
    waiting = f"workspace_sid = ? AND assignment_status IN (?, ?){channel}"
    args = [workspace_sid, *WAITING_STATUSES, *params]
    # SQLite returns the bare column's row alongside MIN() (documented behaviour).
    return conn.execute(
        f"SELECT task_queue_sid AS key, sid, MIN(date_created) AS date_created FROM tasks "  # noqa: S608
        f"WHERE {waiting} GROUP BY task_queue_sid "
        f"UNION ALL SELECT NULL AS key, sid, MIN(date_created) FROM tasks WHERE {waiting}",
        [*args, *args],
    ).fetchall()


def tasks_entered(
    conn: sqlite3.Connection,
    workspace_sid: str,
    start: int,
    end: int,
    channel_sid: str | None = None,
) -> dict[str, dict[str, int]]:
    """Per queue: tasks that entered it, and of those canceled, within [start, end]."""
    channel, params = _channel_sql(channel_sid)
    rows = conn.execute(
        "SELECT task_queue_sid AS key, COUNT(*) AS entered, "  # noqa: S608
        "SUM(assignment_status = 'canceled' AND date_updated <= ?) AS canceled FROM tasks "
        f"WHERE workspace_sid = ? AND task_queue_entered_date BETWEEN ? AND ?{channel} "
        "GROUP BY task_queue_sid",
        [end, workspace_sid, start, end, *params],
    ).fetchall()
    return {r["key"]: {"entered": r["entered"], "canceled": r["canceled"] or 0} for r in rows}
