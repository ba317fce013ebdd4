"""Taskdeck as deployed, attacked from outside: one gunicorn with gunicorn.conf.py and
production settings (DEBUG off, a trusted proxy on 127.0.0.1, roles from groups) for the
whole module, fed what a hostile client can send: made-up methods, a pod's IP as Host,
raw UTF-8 and broken bytes in identity headers, and paths and headers that would break a
log line. The last test reads everything the server wrote: every line must be JSON."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import sqlite3
import string
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_until
from tests.serving import ROOT, gunicorn

ROLES = "admin=taskdeck-admins;editor=taskdeck-editors;viewer=taskdeck-viewers"


@dataclass
class Served:
    url: str
    port: int
    stdout: Path
    stderr: Path
    database: Path
    environment: dict[str, str]

    def lines(self) -> list[str]:
        return [
            line
            for path in (self.stdout, self.stderr)
            for line in path.read_bytes().decode("utf-8", "replace").splitlines()
            if line.strip()
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory, seeded_sandbox_file) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("production-serving")
    shutil.copyfile(seeded_sandbox_file, folder / "sandbox.sqlite3")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "production-serving-tests-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{folder / 'taskdeck.sqlite3'}",
        "SANDBOX_DB_PATH": str(folder / "sandbox.sqlite3"),
        "TASKDECK_SSO_TRUSTED_PROXIES": "127.0.0.1/32",
        "TASKDECK_ROLE_GROUPS": ROLES,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_ACCESS_LOG": "-",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    for name in ("TASKDECK_SSO_DISABLED", "CACHE_URL", "REDIS_URL", "DJANGO_BEHIND_TLS_PROXY"):
        environment.pop(name, None)
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    with gunicorn(folder, environment, collect_static=True, output=(stdout, stderr)) as url:
        port = int(url.rsplit(":", 1)[1])
        yield Served(url, port, stdout, stderr, folder / "taskdeck.sqlite3", environment)


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
    assert "Signed in as <strong>josé@example.com</strong>".encode() in answer
    # The same person, whether the proxy composed the accent or not (NFC).
    decomposed = signed_in_as(served, "jose\u0301@example.com".encode())
    assert "Signed in as <strong>josé@example.com</strong>".encode() in decomposed
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
    assert any(e["path"].startswith("/w/Support/tasks/\n{") for e in access)
    assert not any(e.get("level") == "ERROR" and e["logger"] == "gunicorn.access" for e in found)
    assert {e["logger"] for e in found} >= {"gunicorn.error", "gunicorn.access", "django.request"}


def test_a_workers_log_lines_are_json_objects_too(served):
    """The database worker runs one (empty) job and exits; everything it says is JSON."""
    enqueue = "from tasks_app import tasks; print(tasks.prepare_bulk_job.enqueue(987654).id)"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", enqueue],
        cwd=ROOT,
        env=served.environment,
        check=True,
        capture_output=True,
        timeout=120,
    )
    worker = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay"],
        cwd=ROOT,
        env=served.environment,
        capture_output=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr[-2000:]
    lines = [line for line in (worker.stdout + worker.stderr).decode().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert any("prepare_bulk_job" in entry["message"] for entry in entries), lines
