"""Many editors at once, as production runs: Taskdeck under gunicorn on PostgreSQL, editors
in processes of their own saving the same few tasks over HTTP through the SSO proxy's
headers. No update may be lost (every save was based on the version it replaced, every
refusal became a conflict shown to its editor) and the audit trail holds exactly one
record per attempt, with the outcome the editor saw."""

from __future__ import annotations

import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from tasks_app import editing
from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tests.backends import require_postgres
from tests.serving import gunicorn

ROOT = Path(__file__).resolve().parent.parent
EDITORS = 6
ROUNDS = 5
TOKEN = re.compile(r'name="editor-priority" value="([^"]+)" id="editor-priority"')


@dataclass
class Site:
    url: str
    database: str


@pytest.fixture
def site(tmp_path: Path, loopback_sandbox) -> Iterator[Site]:
    """Taskdeck under gunicorn (two workers, threads) on a PostgreSQL database of its own."""
    server = require_postgres()
    name = f"taskdeck_editors_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    database = server.rsplit("/", 1)[0] + f"/{name}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "concurrency-tests-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",  # plain HTTP on loopback: the CSRF cookie must travel
        "DATABASE_URL": database,
        "CACHE_URL": "",
        "TASKROUTER_BASE_URL": loopback_sandbox.url,
        "TWILIO_ACCOUNT_SID": DEVELOPMENT_CREDENTIALS.account_sid,
        "TWILIO_AUTH_TOKEN": DEVELOPMENT_CREDENTIALS.auth_token,
        "TASKDECK_SSO_TRUSTED_PROXIES": "127.0.0.1/32",
        "TASKDECK_ROLE_GROUPS": "editor=supervisors",
        "GUNICORN_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
    }
    try:
        with gunicorn(tmp_path, env, collect_static=True) as url:
            yield Site(url=url, database=database)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def edit(url: str, editor: int, sids: list[str], rounds: int) -> list[tuple[str, int, int]]:
    """One editor: open each task's page, save a priority of their own; (sid, priority
    asked, HTTP status) for every save."""
    session = requests.Session()
    session.headers.update(
        {"X-Forwarded-Email": f"editor{editor}@example.com", "X-Forwarded-Groups": "supervisors"}
    )
    saves = []
    for round_ in range(rounds):
        for sid in sids:
            page = session.get(f"{url}/w/Support/tasks/{sid}/", timeout=30)
            csrf = session.cookies.get("csrftoken")
            found = TOKEN.search(page.text)
            assert found, (page.status_code, page.text[:800])
            token = found.group(1)
            priority = 1000 + editor * 100 + round_
            response = session.post(
                f"{url}/w/Support/tasks/{sid}/edit/priority/",
                {"editor-priority": token, "priority-priority": str(priority)},
                headers={"X-CSRFToken": csrf, "HX-Request": "true", "Referer": url},
                timeout=30,
            )
            saves.append((sid, priority, response.status_code))
    return saves


def test_many_editors_on_postgresql_lose_no_update_and_leave_one_audit_record_each(sandbox, site):
    # Tasks whose workflow leaves their priority to the editors (so the last save shows).
    sids = [
        sid
        for sid in sandbox.task_sids("pending", limit=20)
        if editing.priority_kept_by_workflow(
            workspace_sid=sandbox.workspace_sid(),
            workflow_sid=sandbox.fetch(sid).workflow_sid or "",
            attributes=sandbox.fetch(sid).attributes or {},
        )
        is None
    ][:2]
    before = {sid: int(sandbox.fetch(sid).etag) for sid in sids}
    with ProcessPoolExecutor(max_workers=EDITORS) as pool:
        futures = [pool.submit(edit, site.url, e, sids, ROUNDS) for e in range(EDITORS)]
        saves = [save for future in futures for save in future.result()]

    statuses = Counter(status for _sid, _priority, status in saves)
    assert set(statuses) <= {200, 409}, statuses  # saved, or shown as a conflict
    assert statuses[200] > 0 and statuses[409] > 0  # they really did overlap
    for sid in sids:
        task = sandbox.fetch(sid)
        saved = [p for s, p, status in saves if s == sid and status == 200]
        # No lost update: each save moved the version by exactly one from the version its
        # editor saw, so the saves form one chain and the last one is what the task holds.
        assert int(task.etag) - before[sid] == len(saved)
        assert task.priority in saved

    with psycopg.connect(site.database) as conn:
        rows = conn.execute(
            "SELECT task_sid, outcome, COUNT(*) FROM tasks_app_auditrecord "
            "GROUP BY task_sid, outcome"
        ).fetchall()
    recorded = {(sid, outcome): count for sid, outcome, count in rows}
    for sid in sids:
        mine = Counter(status for s, _p, status in saves if s == sid)
        assert recorded.get((sid, "done"), 0) == mine[200]
        assert recorded.get((sid, "conflict"), 0) == mine[409]
    assert sum(recorded.values()) == len(saves)  # one record per attempt, none missing
    print(  # the figures the closing note reports (pytest -s shows them)
        f"\n{EDITORS} editors x {ROUNDS * len(sids)} saves: {statuses[200]} saved, "
        f"{statuses[409]} conflicts, 0 lost, {sum(recorded.values())} audit records"
    )
