"""`make bench`'s search section (bench/search.py): it fills an index on SQLite and on
PostgreSQL, times the search page and the query for what supervisors type, prints both
beside the target, and leaves no database behind. Run here on a small index: no test
asserts that the machine is fast."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg

from bench.search import KINDS, render
from tests.backends import require_postgres

ROOT = Path(__file__).resolve().parent.parent


def test_the_search_section_measures_both_databases_and_drops_its_own(tmp_path):
    server = require_postgres()
    database = f"search_bench_test_{secrets.token_hex(4)}"
    admin = server.rsplit("/", 1)[0] + "/postgres"
    bench = subprocess.run(
        [sys.executable, "-m", "bench", "--search-only", "--json", "--search-tasks", "300",
         "--search-samples", "22", "--postgres-url", admin, "--search-database", database],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr[-2000:]
    result = json.loads(bench.stdout.strip().splitlines()[-1])["search"]
    assert [b["vendor"] for b in result["backends"]] == ["sqlite", "postgresql"]
    for backend in result["backends"]:
        assert backend["tasks"] == 300 and backend["page"]["samples"] == 22
        assert set(backend["by_kind"]) == set(KINDS)
        # Every search answered: a list, or (one match, a SID) the task itself.
        assert sum(backend["answers"].values()) == 22
        assert set(backend["answers"]) <= {"200", "302"} and "302" in backend["answers"]
        assert backend["ok"] == (backend["page"]["p95_ms"] <= result["target_p95_ms"])
    with psycopg.connect(server, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        assert left.fetchone() is None


def test_the_report_puts_each_database_beside_the_target_and_says_what_was_not_measured():
    numbers = {"samples": 3, "median_ms": 12.0, "p95_ms": 140.5, "max_ms": 150.0}
    result = {
        "tasks": 100_000,
        "samples": 3,
        "target_p95_ms": 100.0,
        "machine": {"cpus": 2, "load_average": 9.5},
        "backends": [
            {"vendor": "sqlite", "page": numbers, "query": numbers, "ok": False,
             "by_kind": {"company": numbers}},
            {"vendor": "postgresql", "skipped": "not reachable at 127.0.0.1:5432"},
        ],
        "ok": False,
    }  # fmt: skip
    text = "\n".join(render(result))
    assert "search over 100,000 indexed tasks" in text
    assert "sqlite" in text and "140.5" in text and "p95 <= 100  MISSED" in text
    assert "judged is the page's wall-clock p95" in text
    assert "postgresql   not measured: not reachable at 127.0.0.1:5432" in text
    assert "slowest kind: company on sqlite, p95 140.5 ms" in text
    assert "the machine was busy (load 9.5 on 2 CPUs)" in text
