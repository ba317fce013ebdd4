"""The bench's search section: how long ``/search/?q=`` takes over a large task index, on
SQLite and on PostgreSQL (the issue's target: p95 <= 100 ms over 100,000 indexed tasks).

Each database is measured in a child process of its own (``python -m bench.search``) with
production settings on that database: it migrates (so the index is exactly the
migration's: FTS5 trigram table and triggers on SQLite, pg_trgm GIN index on PostgreSQL),
fills the task index with realistic tasks (the sandbox seed's attributes: names with
accents, e-mails, phone numbers, ticket numbers, companies; in three workspaces, open,
closed and deleted) through the ORM so the triggers run as they do for the follower, then
times what people type, mixed and interleaved:

- ``page``: the whole search page through Django (middleware, the view, the template), as
  the test client requests it, without the network: what the issue's target judges;
- ``query``: `tasks_app.index.search.find` alone (the database's share).

PostgreSQL runs on a database the bench creates (``search_bench`` unless told otherwise)
and drops afterwards; when PostgreSQL is not reachable, its line says so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TARGET_P95_MS = 100.0
WORKSPACES = (
    ("WS" + "5e" * 16, "Support", "support"),
    ("WS" + "5a" * 16, "Sales & Renewals", "sales"),
    ("WS" + "7a" * 16, "Training", "support"),
)
STATUSES = (
    ("pending", 20),
    ("reserved", 5),
    ("assigned", 10),
    ("wrapping", 3),
    ("completed", 40),
    ("canceled", 22),
)
BATCH = 2000
KINDS = (
    "name in lower case",
    "surname without accents",
    "e-mail in capitals",
    "phone as written",
    "ticket number",
    "ticket digits",
    "company",
    "account id",
    "task SID",
    "two words",
    "nothing matches",
)


# --- in the child: fill and time ----------------------------------------------------------


def _percentile(ms: list[float], p: float) -> float:
    ordered = sorted(ms)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "samples": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(_percentile(ms, 95), 2),
        "max_ms": round(max(ms), 2),
    }


def fill(tasks: int, seed: int) -> None:
    """Adds ``tasks`` indexed tasks."""
    from tasks_app.index.models import IndexedTask
    from tasks_app.index.text import searchable_text
    from tasks_app.sandbox.seed import CHANNELS, random_attributes

    rng = random.Random(seed)
    now = datetime.now(tz=UTC)
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    batch: list[IndexedTask] = []
    for n in range(tasks):
        workspace_sid, workspace_name, kind = WORKSPACES[n % len(WORKSPACES)]
        attributes = random_attributes(rng, kind, rng.choice(CHANNELS))
        sid = "WT" + rng.randbytes(16).hex()
        status = rng.choices(statuses, weights)[0]
        closed = status in ("completed", "canceled")
        purged = closed and rng.random() < 0.7  # TaskRouter deleted it since
        created = now - timedelta(seconds=rng.randint(60, 30 * 86_400))
        batch.append(
            IndexedTask(
                sid=sid,
                workspace_sid=workspace_sid,
                workspace_name=workspace_name,
                attributes=attributes,
                search_text=searchable_text(attributes, sid),
                status=status,
                priority=rng.choice((0, 0, 0, 5, 10)),
                queue_name="Billing" if "billing" in attributes["skills"] else "General",
                created_at=created,
                closed_at=created + timedelta(minutes=5) if closed else None,
                deleted_at=created + timedelta(minutes=12) if purged else None,
                as_of_ms=int(created.timestamp() * 1000),
            )
        )
        if len(batch) == BATCH:
            IndexedTask.objects.bulk_create(batch)
            batch = []
    IndexedTask.objects.bulk_create(batch)


def sample_tasks(size: int) -> list[dict[str, Any]]:
    """Tasks of the index to build queries from: their attributes and SID."""
    from tasks_app.index.models import IndexedTask

    rows = IndexedTask.objects.order_by("?").values_list("sid", "attributes")[:size]
    return [{"sid": sid, **attributes} for sid, attributes in rows]


def query_for(kind: str, task: dict[str, Any], rng: random.Random) -> str:
    """What a supervisor types to find ``task``, as ``kind`` says."""
    name = task["name"]
    if kind == "name in lower case":
        return name.lower()
    if kind == "surname without accents":
        from tasks_app.index.text import fold

        return fold(name.split()[-1])
    if kind == "e-mail in capitals":
        return task["handle"].upper()
    if kind == "phone as written":
        number = task.get("from") or f"+1555{rng.randint(0, 9_999_999):07d}"
        digits = number[-10:]
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if kind == "ticket number":
        return task["ticket_number"].lower()
    if kind == "ticket digits":
        return "#" + task["ticket_number"].split("-")[-1]
    if kind == "company":
        return task["customer"]["name"].lower()
    if kind == "account id":
        return task["customer"]["account"]["id"]
    if kind == "task SID":
        return task["sid"]
    if kind == "two words":
        return f"{name.split()[0].lower()} {task['subject'].split()[0].lower()}"
    return "no such customer anywhere"


def _server_cpu() -> Callable[[], float] | None:
    """On PostgreSQL running on this machine, a clock of the CPU seconds this connection's
    server process has used (from /proc, in ticks of 1/100 s: meaningful as a mean over
    many searches); None elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    if not stat.exists():
        return None  # another machine's server
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return used


def time_searches(sample: list[dict[str, Any]], samples: int, seed: int) -> dict[str, Any]:
    from django.test import Client

    from tasks_app.index import search

    rng = random.Random(seed + 1)
    client = Client(headers={"host": "testserver"})
    page_ms: list[float] = []
    cpu_ms: list[float] = []
    query_ms: list[float] = []
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    statuses: dict[int, int] = {}
    server = _server_cpu()
    server_seconds = 0.0
    for round_ in range(samples + 5):  # five warm-up rounds, not recorded
        kind = KINDS[round_ % len(KINDS)]
        text = query_for(kind, rng.choice(sample), rng)
        server_before = server() if server and round_ >= 5 else 0.0
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get("/search/", {"q": text})
        page = (time.perf_counter() - started) * 1000
        cpu = (time.process_time() - cpu) * 1000
        if server and round_ >= 5:
            server_seconds += server() - server_before
        if response.status_code not in (200, 302):
            raise RuntimeError(f"/search/?q={text!r} answered {response.status_code}")
        started = time.perf_counter()
        search.find(search.parse(text))
        query = (time.perf_counter() - started) * 1000
        if round_ < 5:
            continue
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        page_ms.append(page)
        cpu_ms.append(cpu)
        query_ms.append(query)
        by_kind[kind].append(page)
    return {
        "page": summary(page_ms),
        # CPU time of this process alone: SQLite's work, not PostgreSQL's server's.
        "page_cpu": summary(cpu_ms),
        # PostgreSQL's share, as a mean (its clock ticks in hundredths of a second).
        "server_cpu_mean_ms": round(server_seconds * 1000 / len(page_ms), 2) if server else None,
        "query": summary(query_ms),
        "by_kind": {kind: summary(ms) for kind, ms in by_kind.items() if ms},
        "answers": {str(k): v for k, v in sorted(statuses.items())},
    }


def child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search")
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tasks_app.index.models import IndexedTask

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    # A fresh database each run (the bench makes one); any tasks there already count.
    fill(max(0, args.tasks - IndexedTask.objects.count()), args.seed)
    filled = time.perf_counter() - started
    sample = sample_tasks(200)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE index_indexedtask")
    result = time_searches(sample, args.samples, args.seed)
    result |= {"vendor": connection.vendor, "tasks": args.tasks, "fill_s": round(filled, 1)}
    print(json.dumps(result))
    return 0


# --- in the bench: one child per database --------------------------------------------------


def _child_environ(database_url: str, folder: Path) -> dict[str, str]:
    from bench.stack import clean_environ

    env = clean_environ(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.search_settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-search-only",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "TASKDECK_SSO_DISABLED": "1",
            "DATABASE_URL": database_url,
            "SANDBOX_DB_PATH": str(folder / "sandbox.sqlite3"),
            "SANDBOX_SEED_TASKS": "20",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _run_child(database_url: str, folder: Path, tasks: int, samples: int) -> dict[str, Any]:
    from bench.stack import REPO_ROOT, BenchError

    process = subprocess.run(
        [sys.executable, "-m", "bench.search", "--tasks", str(tasks), "--samples", str(samples)],
        cwd=REPO_ROOT,
        env=_child_environ(database_url, folder),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if process.returncode != 0:
        raise BenchError(f"the search bench failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def measure_search(
    *,
    tasks: int,
    samples: int,
    postgres_url: str,
    database: str,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The search section's result: one entry per database, each judged against the target."""
    backends: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="taskdeck-bench-search-") as folder:
        progress(f"search: filling a SQLite index with {tasks:,} tasks, then {samples} searches")
        sqlite = _run_child(
            f"sqlite:///{Path(folder) / 'search.sqlite3'}", Path(folder), tasks, samples
        )
        backends.append(sqlite)
        backends.append(
            _measure_postgres(postgres_url, database, Path(folder), tasks, samples, progress)
        )
    for backend in backends:
        if "page" in backend:
            backend["ok"] = backend["page"]["p95_ms"] <= TARGET_P95_MS
    measured = [b for b in backends if "page" in b]
    return {
        # Times are wall-clock: on a busy machine they include waiting for a CPU.
        "machine": {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
        "tasks": tasks,
        "samples": samples,
        "target_p95_ms": TARGET_P95_MS,
        "backends": backends,
        "ok": len(measured) == len(backends) and all(b["ok"] for b in measured),
    }


def _measure_postgres(
    admin_url: str,
    database: str,
    folder: Path,
    tasks: int,
    samples: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    import psycopg

    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        progress(f"search: PostgreSQL not measured ({error})")
        return {"vendor": "postgresql", "skipped": f"not reachable at {_safe(admin_url)}"}
    with admin:
        try:
            admin.execute(f'CREATE DATABASE "{database}"')
        except psycopg.errors.DuplicateDatabase:
            return {
                "vendor": "postgresql",
                "skipped": f"database {database} already exists (another bench running, or "
                "left over): drop it, or name another with --search-database",
            }
        try:
            parts = urlsplit(admin_url)
            url = parts._replace(path=f"/{database}").geturl()
            progress(
                f"search: filling a PostgreSQL index ({database}) with {tasks:,} tasks, "
                f"then {samples} searches"
            )
            return _run_child(url, folder, tasks, samples)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}"


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        f"search over {result['tasks']:,} indexed tasks ({result['samples']} searches of "
        f"{len(KINDS)} kinds, interleaved; ms): the page through Django, and the query alone",
        f"{'database':<12} {'page median':>11} {'page p95':>9} {'page max':>9} "
        f"{'query p95':>9} {'cpu p95':>8}  target",
    ]
    for backend in result["backends"]:
        if "skipped" in backend:
            lines.append(f"{backend['vendor']:<12} not measured: {backend['skipped']}  MISSED")
            continue
        page, query = backend["page"], backend["query"]
        cpu = backend.get("page_cpu", {}).get("p95_ms", float("nan"))
        server = backend.get("server_cpu_mean_ms")
        verdict = "OK" if backend["ok"] else "MISSED"
        lines.append(
            f"{backend['vendor']:<12} {page['median_ms']:>11.1f} {page['p95_ms']:>9.1f} "
            f"{page['max_ms']:>9.1f} {query['p95_ms']:>9.1f} {cpu:>8.1f}  p95 <= "
            f"{result['target_p95_ms']:g}  {verdict}"
        )
        if server is not None:
            lines.append(
                f"{'':<12} the PostgreSQL server's CPU per search: {server:.1f} ms on average"
            )
    slowest = [
        (backend["vendor"], kind, numbers["p95_ms"])
        for backend in result["backends"]
        for kind, numbers in backend.get("by_kind", {}).items()
    ]
    if slowest:
        vendor, kind, ms = max(slowest, key=lambda item: item[2])
        lines.append(f"slowest kind: {kind} on {vendor}, p95 {ms:.1f} ms")
    lines.append(
        "cpu: the page's CPU time in the measuring process (on PostgreSQL, without the "
        "server's); judged is the page's wall-clock p95"
    )
    machine = result.get("machine") or {}
    if machine.get("load_average", 0) > (machine.get("cpus") or 1):
        lines.append(
            f"note: the machine was busy (load {machine['load_average']:g} on "
            f"{machine['cpus']} CPUs): these times include waiting for a CPU"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(child(sys.argv[1:]))
