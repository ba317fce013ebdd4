"""`make loadtest`, run short: its harness starts two instances behind a stand-in SSO proxy
against PostgreSQL and Redis, sends full pages and live refreshes, and reports every figure
beside its target. A short run here keeps the harness from rotting between real runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.backends import require_postgres, require_redis

ROOT = Path(__file__).resolve().parent.parent


def figure(report: str, name: str) -> str:
    found = re.search(rf"^\s+{re.escape(name)}\s+(.+?)\s{{2,}}\S", report, re.M)
    assert found, f"no figure {name!r} in:\n{report}"
    return found.group(1).strip()


def test_a_short_loadtest_serves_full_pages_and_live_refreshes_and_meets_every_target():
    require_postgres()
    require_redis()
    run = subprocess.run(
        [sys.executable, "-m", "bench.loadtest", "--users", "4", "--seconds", "20"],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout
    assert run.returncode == 0, report + run.stderr[-3000:]
    assert "All targets met." in report
    pages = int(figure(report, "pages requested by supervisors"))
    full = int(figure(report, "of which full pages (the rest live refreshes)"))
    assert full >= 4 and pages > full  # each supervisor loaded the page, then refreshed it
    assert figure(report, "errors seen by supervisors") == "0"
    assert figure(report, "answers 429 at the sandbox") == "0"
    assert figure(report, "TaskRouter task lists per view per 10 s, worst") == "1"
