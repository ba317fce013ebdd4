"""Taskdeck as deployed, attacked from outside: one gunicorn with gunicorn.conf.py and
production settings (DEBUG off, a trusted proxy on 127.0.0.1, roles from groups, Redis as
the shared cache through a TCP proxy the tests can cut) for the whole module, fed what a
hostile client can send: made-up methods, a pod's IP as Host, raw UTF-8 and broken bytes
in identity headers, junk and endless distinct queries, and paths and headers that would
break a log line. The last tests read everything the server wrote: every line is JSON."""

from __future__ import annotations

import json
import random
import secrets
import socket
import sqlite3
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import requests

from tests.backends import REDIS_URL, require_redis
from tests.conftest import wait_until
from tests.serving import gunicorn, manage, production_environment
from tests.tcp_proxy import TcpProxy

# Shared reads may hold this many entries (TASKDECK_SHARED_READ_SLOTS) of at most
# TASKDECK_SHARED_READ_MAX_BYTES (2 MiB by default) each.
SLOTS = 8
MAX_BYTES = 2 * 1024 * 1024


@dataclass
class Served:
    url: str
    port: int
    stdout: Path
    stderr: Path
    database: Path
    sandbox: Path
    environment: dict[str, str]
    redis: TcpProxy
    prefix: str

    def keys(self) -> dict[bytes, int]:
        """Every key this deployment has in Redis, with its size in bytes."""
        connection = redis.Redis.from_url(REDIS_URL)
        keys = list(connection.scan_iter(match=f"{self.prefix}:*", count=1000))
        return {key: connection.memory_usage(key) or 0 for key in keys}

    def lines(self) -> list[str]:
        return [
            line
            for path in (self.stdout, self.stderr)
            for line in path.read_bytes().decode("utf-8", "replace").splitlines()
            if line.strip()
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory, seeded_sandbox_templates) -> Iterator[Served]:
    real_redis = urlsplit(require_redis())
    proxy = TcpProxy(real_redis.port or 6379).start()
    prefix = f"tests-{secrets.token_hex(6)}"
    folder = tmp_path_factory.mktemp("production-serving")
    environment = production_environment(
        folder,
        seeded_sandbox_templates.path(),
        CACHE_URL=f"redis://127.0.0.1:{proxy.port}{real_redis.path}",
        TASKDECK_CACHE_PREFIX=prefix,
        TASKDECK_SHARED_READ_SLOTS=str(SLOTS),
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        GUNICORN_ACCESS_LOG="-",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    try:
        with gunicorn(folder, environment, collect_static=True, output=(stdout, stderr)) as url:
            yield Served(
                url=url,
                port=int(url.rsplit(":", 1)[1]),
                stdout=stdout,
                stderr=stderr,
                database=folder / "taskdeck.sqlite3",
                sandbox=folder / "sandbox.sqlite3",
                environment=environment,
                redis=proxy,
                prefix=prefix,
            )
    finally:
        proxy.stop()
        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(match=f"{prefix}:*", count=1000):
            connection.delete(key)


def raw_request(served: Served, head: bytes) -> bytes:
    """Sends ``head`` (a request line and headers, exactly these bytes) and returns the
    whole answer: for what requests would refuse to send or would clean up."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as connection:
        connection.sendall(head + b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def series(scrape: str) -> set[str]:
    """Every sample's name and labels, without its value."""
    return {line.rsplit(" ", 1)[0] for line in scrape.splitlines() if not line.startswith("#")}


# --- /metrics: labels from closed sets -----------------------------------------------------


def made_up_methods(count: int) -> list[str]:
    # gunicorn accepts any token of upper-case letters as a method.
    return ["".join(random.choices(string.ascii_uppercase, k=12)) for _ in range(count)]


def test_made_up_http_methods_do_not_grow_the_metrics_page(served):
    paths = ["/livez", "/w/Support/tasks/", "/no-such-page"]

    def send(methods: list[str]) -> None:
        with requests.Session() as session:
            for index, method in enumerate(methods):
                session.request(method, served.url + paths[index % len(paths)], timeout=30)

    def scrape() -> str:
        return requests.get(f"{served.url}/metrics", timeout=30).text

    send(made_up_methods(12))  # each path has met a made-up method once
    before = scrape()
    send(made_up_methods(300))
    after = scrape()
    assert series(after) == series(before)
    # Only the counts moved: a few digits more at most, never a series per method.
    assert len(after) <= len(before) + 2_000
    assert 'method="other"' in after


# --- Health probes: any Host ---------------------------------------------------------------


def test_probes_answer_whatever_the_host_and_everything_else_still_checks_it(served):
    pod = {"Host": "10.42.7.19:8000"}
    for path in ("/livez", "/readyz"):
        response = requests.get(
            served.url + path, headers={**pod, "X-Request-Id": f"probe-{path[1:]}"}, timeout=30
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] in ("ok", "degraded")
    page = requests.get(f"{served.url}/w/Support/tasks/", headers=pod, timeout=30)
    assert page.status_code == 400  # Django's host check, as before

    def probe_lines() -> list[dict]:
        return [
            entry
            for entry in map(json.loads, served.lines())
            if entry.get("request_id") in ("probe-livez", "probe-readyz")
        ]

    # Both access lines are written; none of the probes' lines is an error or a traceback.
    entries = wait_until(lambda: len(probe_lines()) >= 2 and probe_lines(), timeout=20)
    assert all(entry["level"] == "INFO" and "exception" not in entry for entry in entries)
    assert not any("DisallowedHost" in entry["logger"] for entry in entries)


# --- Identities are UTF-8 ------------------------------------------------------------------


def signed_in_as(served: Served, identity: bytes, groups: bytes = b"taskdeck-viewers") -> bytes:
    return raw_request(
        served,
        b"GET /w/Support/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Forwarded-Email: " + identity + b"\r\nX-Forwarded-Groups: " + groups + b"\r\n",
    )


def usernames(served: Served) -> set[str]:
    with sqlite3.connect(served.database) as connection:
        return {row[0] for row in connection.execute("SELECT username FROM auth_user")}


def test_a_utf8_identity_is_read_as_the_proxy_sent_it(served):
    answer = signed_in_as(served, "josé@example.com".encode())
    assert status_of(answer) == 200
    assert "Signed in as</span> <strong>josé@example.com</strong>".encode() in answer
    # The same person, whether the proxy composed the accent or not (NFC).
    decomposed = signed_in_as(served, "jose\u0301@example.com".encode())
    assert "Signed in as</span> <strong>josé@example.com</strong>".encode() in decomposed
    names = usernames(served)
    assert "josé@example.com" in names
    assert not any("Ã" in name or "\u0301" in name for name in names)


@pytest.mark.parametrize(
    ("identity", "why"),
    [
        ("josé@example.com\u00a0".encode(), b"U+00A0"),  # a trailing no-break space
        ("jos\u200bé@example.com".encode(), b"U+200B"),  # a zero-width space
        ("josé@example.com\u202e".encode(), b"U+202E"),  # a bidirectional override
        (b"jos\xe9@example.com", b"not UTF-8"),  # latin-1, not UTF-8
        (b"jos\xff\xfe@example.com", b"not UTF-8"),
    ],
    ids=["no-break-space", "zero-width-space", "bidi-override", "latin-1", "broken-bytes"],
)
def test_an_identity_that_is_not_clean_utf8_gets_a_clear_403_and_no_account(served, identity, why):
    answer = signed_in_as(served, identity)
    assert status_of(answer) == 403
    assert b"Unusable identity" in answer and why in answer
    assert not any(
        name.startswith("jos") and name != "josé@example.com" for name in usernames(served)
    )


# --- The shared cache: bounded, prefixed, and not needed to serve -------------------------

VIEWER = {"X-Forwarded-Email": "viewer@example.com", "X-Forwarded-Groups": "taskdeck-viewers"}
ADMIN = {"X-Forwarded-Email": "admin@example.com", "X-Forwarded-Groups": "taskdeck-admins"}


def shared_reads(keys: dict[bytes, int]) -> dict[bytes, int]:
    return {key: size for key, size in keys.items() if b":read:" in key}


def test_a_viewer_cannot_grow_the_shared_cache_past_its_bound(served):
    table = f"{served.url}/w/Support/tasks/"
    with requests.Session() as viewer:
        viewer.headers.update(VIEWER)
        assert viewer.get(table, timeout=30).status_code == 200
        settled = served.keys()
        # Every key of this deployment carries its prefix: there are some to count.
        assert settled and shared_reads(settled)
        # Junk: unknown parameters, and invalid values of known ones (each answered with a
        # message at its field, no TaskRouter call).
        for number in range(30):
            junk = viewer.get(table, params={"status": "pending", f"utm_{number}": "x"}, timeout=30)
            assert junk.status_code == 200
            bad = viewer.get(table, params={"priority": f"high-{number}"}, timeout=30)
            assert bad.status_code == 400
        after_junk = served.keys()
        # One more shared read at most (status=pending), nothing per junk request.
        assert len(after_junk) <= len(settled) + 1
        # Many distinct valid views, each read from TaskRouter once.
        for priority in range(5 * SLOTS):
            assert viewer.get(table, params={"priority": priority}, timeout=30).status_code == 200
    keys = served.keys()
    assert len(shared_reads(keys)) <= SLOTS
    # The stated bound: SLOTS shared reads of at most MAX_BYTES each, plus what does not
    # grow with what viewers ask (directory lists, the account check, read generations).
    others = {key: size for key, size in keys.items() if b":read:" not in key}
    assert len(others) <= len(settled) + 2
    assert sum(keys.values()) <= SLOTS * MAX_BYTES + sum(others.values())
    assert max(shared_reads(keys).values()) <= MAX_BYTES


def test_two_deployments_sharing_one_redis_do_not_share_the_account_check(served, tmp_path):
    """Deployment A knows a person as active and remembers it in Redis; deployment B (the
    served one, same Redis, same prefix) has deactivated them and must refuse them."""
    person = f"gone-{secrets.token_hex(4)}@example.com"
    with sqlite3.connect(served.database) as connection:
        connection.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) "
            "VALUES ('!', 0, ?, '', '', '', 0, 0, '2026-01-01 00:00:00')",
            (person,),
        )
    deployment_a = {**served.environment, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}"}
    sign_in = (
        "from django.test import RequestFactory; from tasks_app import identity; "
        f"print(identity.sign_in(RequestFactory().get('/'), {person!r}))"
    )
    for command in (["migrate", "--noinput"], ["shell", "-c", sign_in]):
        done = manage(deployment_a, *command)
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("True")  # A let them in, and remembered it

    answer = requests.get(
        f"{served.url}/w/Support/tasks/",
        headers={"X-Forwarded-Email": person, "X-Forwarded-Groups": "taskdeck-admins"},
        timeout=30,
    )
    assert answer.status_code == 403
    assert f"The account {person} cannot sign in" in answer.text


def test_rqs_queue_is_named_after_the_deployments_prefix(served):
    enqueue = (
        "from django.conf import settings; from tasks_app import tasks; "
        "result = tasks.prepare_bulk_job.enqueue(987655); "
        "print(list(settings.RQ_QUEUES), result.id)"
    )
    done = manage({**served.environment, "REDIS_URL": REDIS_URL}, "shell", "-c", enqueue)
    assert done.returncode == 0, done.stderr[-2000:]
    queues, job = done.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        assert queues == repr([served.prefix])
        assert connection.lrange(f"rq:queue:{served.prefix}", 0, -1) == [job.encode()]
        assert job.encode() not in connection.lrange("rq:queue:default", 0, -1)
    finally:
        for queue in (served.prefix, "default"):
            connection.lrem(f"rq:queue:{queue}", 0, job)
        connection.delete(f"rq:job:{job}", f"rq:queue:{served.prefix}")


def test_with_the_shared_cache_cut_pages_keep_working_and_readyz_says_degraded(served):
    with sqlite3.connect(served.sandbox) as connection:
        sid = connection.execute(
            "SELECT tasks.sid FROM tasks JOIN workspaces ON workspaces.sid = tasks.workspace_sid "
            "WHERE friendly_name = 'Support' AND assignment_status = 'pending' LIMIT 1"
        ).fetchone()[0]
    pages = ["/w/Support/tasks/", f"/w/Support/tasks/{sid}/", "/audit/", f"/tasks/{sid}/"]
    banner = "shared cache is not answering"
    with requests.Session() as admin:
        admin.headers.update(ADMIN)
        for page in pages:
            answer = admin.get(served.url + page, timeout=30)
            assert answer.status_code == 200 and banner not in answer.text
        assert requests.get(f"{served.url}/readyz", timeout=30).json()["status"] == "ok"
        served.redis.cut()
        try:
            for _ in range(2):  # the first request meets the outage, the next knows of it
                for page in pages:
                    answer = admin.get(served.url + page, timeout=30)
                    assert answer.status_code == 200, (page, answer.status_code)
                    assert banner in answer.text
            ready = requests.get(f"{served.url}/readyz", timeout=30)
            assert ready.status_code == 200
            assert ready.json() == {"status": "degraded", "database": "ok", "cache": "error"}
        finally:
            served.redis.restore()
        assert wait_until(
            lambda: requests.get(f"{served.url}/readyz", timeout=30).json()["status"] == "ok",
            timeout=30,
        )


# --- Log lines ------------------------------------------------------------------------------


HOSTILE_PATHS = [
    b"/w/Support/tasks/%0A%7B%22level%22:%22ERROR%22%7D",  # a line break, then a fake line
    b"/no-such-page%0D%0Aforged%22quote%5Cbackslash",
    b"/w/Support/tasks/?where=%22%0A%22&q=%5C%5C%22",
    b"/w/%FF%FE%C3%28/tasks/",  # not UTF-8 once decoded
    b"/" + b"a" * 3000,  # a long path
    b"/w/Support/tasks/\xff\xfe",  # raw bytes that are not UTF-8
]
HOSTILE_HEADERS = [
    b'User-Agent: "quoted" \\back\\slash {"json": true}\r\n',
    b"User-Agent: \xff\xfe\xc3\x28 not utf-8\r\n",
    b"Referer: " + b"r" * 6000 + b"\r\n",
    b'X-Request-Id: "\\x0a"\r\n',
]


def test_every_log_line_of_the_server_is_one_json_object_whatever_the_request(served):
    viewer = b"X-Forwarded-Email: viewer@example.com\r\nX-Forwarded-Groups: taskdeck-viewers\r\n"
    sent = 0
    for path in HOSTILE_PATHS:
        for header in HOSTILE_HEADERS:
            answer = raw_request(
                served, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + viewer + header
            )
            assert status_of(answer) < 500, answer[:300]
            sent += 1
    # A 404 that Django logs (django.request) carries the request id it was served with.
    missing = requests.get(
        f"{served.url}/no-such-page/",
        headers={
            "X-Request-Id": "lost-page-1",
            "X-Forwarded-Email": "viewer@example.com",
            "X-Forwarded-Groups": "taskdeck-viewers",
        },
        timeout=30,
    )
    assert missing.status_code == 404

    def entries() -> list[dict]:
        return [json.loads(line) for line in served.lines()]  # fails on any non-JSON line

    def all_written() -> list[dict]:
        found = entries()
        access = [e for e in found if e["logger"] == "gunicorn.access"]
        lost = [
            e for e in found if e["logger"] == "django.request" and "no-such-page/" in e["message"]
        ]
        return found if len(access) >= sent and lost else []

    found = wait_until(all_written, timeout=30)
    assert all(isinstance(entry, dict) for entry in found)
    lost = [e for e in found if e["logger"] == "django.request" and "no-such-page/" in e["message"]]
    assert {e["request_id"] for e in lost} == {"lost-page-1"}
    access = [e for e in found if e["logger"] == "gunicorn.access"]
    # The fake line inside the first path stayed inside its own line's path.
    assert any(e["path"] == '/w/Support/tasks/\n{"level":"ERROR"}' for e in access)
    assert not any(e.get("level") == "ERROR" and e["logger"] == "gunicorn.access" for e in found)
    assert {e["logger"] for e in found} >= {"gunicorn.error", "gunicorn.access", "django.request"}


def test_a_workers_log_lines_are_json_objects_too(served):
    """The database worker runs one (empty) job and exits; everything it says is JSON."""
    enqueue = "from tasks_app import tasks; print(tasks.prepare_bulk_job.enqueue(987654).id)"
    assert manage(served.environment, "shell", "-c", enqueue).returncode == 0
    worker = manage(served.environment, "db_worker", "--batch", "--no-reload", "--no-startup-delay")
    assert worker.returncode == 0, worker.stderr[-2000:]
    lines = [line for line in (worker.stdout + worker.stderr).splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert any("prepare_bulk_job" in entry["message"] for entry in entries), lines
