"""Faults x screens: every fault the sandbox can inject, on every screen a person works in.

For each cell: no 500, a clear message where the person works, what they typed still in
the form, writes never resent unless TaskRouter refused them unprocessed (429), and an
answer long before a stuck TaskRouter would let go.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.core.cache import cache

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, FaultPlan, SandboxApp, SandboxServer
from tasks_app.taskrouter import client as taskrouter_client

pytestmark = pytest.mark.django_db

FAULTS = [
    "delay=2",  # beyond the 1 s read timeout these tests configure
    "429",
    "429;retry_after=1",
    "500",
    "503",
    "drop",
    "malformed",
    "html",
    "401",
]
# Far more than any cell needs, far less than a stuck TaskRouter (a 15 s delay) would take.
ANSWERED_WITHIN = 12.0


@dataclass
class CountingSandbox:
    faults: FaultPlan
    posts: list[str]


@pytest.fixture
def flaky(sandbox, settings) -> Iterator[CountingSandbox]:
    """The test's sandbox over loopback, counting the writes that reach it."""
    faults = FaultPlan()
    app = SandboxApp(sandbox.store, credentials=DEVELOPMENT_CREDENTIALS, faults=faults)
    posts: list[str] = []
    lock = threading.Lock()

    def counting(environ, start_response):
        if environ["REQUEST_METHOD"] in ("POST", "DELETE"):
            with lock:
                posts.append(environ["PATH_INFO"])
        return app(environ, start_response)

    server = SandboxServer(counting).start()
    settings.TASKROUTER_BASE_URL = server.url
    settings.TWILIO_ACCOUNT_SID = DEVELOPMENT_CREDENTIALS.account_sid
    settings.TWILIO_AUTH_TOKEN = DEVELOPMENT_CREDENTIALS.auth_token
    settings.TASKROUTER_TIMEOUT = 1.0
    taskrouter_client.reset_sessions()
    cache.clear()
    yield CountingSandbox(faults=faults, posts=posts)
    server.stop()
    taskrouter_client.reset_sessions()


def htmx(target: str) -> dict:
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


def token_of(html: str, section: str) -> str:
    return re.search(rf'name="editor-{section}" value="([^"]+)" id="editor-{section}"', html).group(
        1
    )


@dataclass(frozen=True)
class Screen:
    """A request a person makes: ``prepare`` runs before the fault (opening the page the
    form is on) and returns what ``act`` needs; ``typed`` must come back in the answer."""

    name: str
    act: Callable
    writes: bool = False
    typed: str | None = None
    prepare: Callable | None = None


def _page(client, sid):
    return client.get(f"/w/Support/tasks/{sid}/").content.decode()


def _section(name: str, typed: str | None, **fields) -> Screen:
    def act(client, sid, html):
        data = {
            f"editor-{name}": token_of(html, name),
            **{f"{name}-{k}": v for k, v in fields.items()},
        }
        return client.post(f"/w/Support/tasks/{sid}/edit/{name}/", data, **htmx(f"edit-{name}"))

    return Screen(f"edit-{name}", act, writes=True, typed=typed, prepare=_page)


def _row_editor_save(client, sid, html):
    token = re.search(r'name="editor-row" value="([^"]+)"', html).group(1)
    data = {"editor-row": token, "row-priority": "4343", "row-assignment_status": ""}
    return client.post(f"/w/Support/tasks/{sid}/row/edit/", data, **htmx(f"row-{sid}"))


def _row_editor_open(client, sid):
    return client.get(f"/w/Support/tasks/{sid}/row/edit/", **htmx(f"row-{sid}")).content.decode()


def _create(client, sid, html):
    data = {"attributes": '{"typed": "kept-4444"}', "priority": "4"}
    return client.post("/w/Support/tasks/new/", data)


SCREENS = [
    Screen("table", lambda client, sid, _: client.get("/w/Support/tasks/?status=pending")),
    Screen(
        "live refresh",
        lambda client, sid, _: client.get("/w/Support/tasks/?status=pending", **htmx("task-rows")),
    ),
    Screen("task page", lambda client, sid, _: client.get(f"/w/Support/tasks/{sid}/")),
    _section("priority", 'value="4242"', priority="4242"),
    _section(
        "status", "cancel-reason-4242", assignment_status="canceled", reason="cancel-reason-4242"
    ),
    _section("channel", None, task_channel="chat"),
    _section("start", 'value="2020-01-02T03:04:05"', virtual_start_time="2020-01-02T03:04:05"),
    _section("attributes", "typed-4242", attributes='{"typed": "typed-4242"}'),
    _section("delete", None),
    Screen(
        "row editor",
        lambda client, sid, _: client.get(
            f"/w/Support/tasks/{sid}/row/edit/", **htmx(f"row-{sid}")
        ),
    ),
    Screen(
        "row editor save",
        _row_editor_save,
        writes=True,
        typed='value="4343"',
        prepare=lambda c, s: _row_editor_open(c, s),
    ),
    Screen("create form", lambda client, sid, _: client.get("/w/Support/tasks/new/")),
    Screen(
        "create",
        _create,
        writes=True,
        typed="kept-4444",
        prepare=lambda c, s: c.get("/w/Support/tasks/new/"),
    ),
]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_every_screen_survives_every_fault(client, sandbox, flaky, screen, fault):
    sid = sandbox.task_sid("pending")
    client.get("/w/Support/tasks/")  # workspaces, queues and workflows are cached now
    prepared = screen.prepare(client, sid) if screen.prepare else None
    flaky.posts.clear()
    flaky.faults.set(fault)
    started = time.monotonic()
    response = screen.act(client, sid, prepared)
    elapsed = time.monotonic() - started
    flaky.faults.clear()

    body = response.content.decode()
    assert response.status_code != 500, body[:500]
    assert 400 <= response.status_code < 600, f"{screen.name} under {fault} looked fine"
    assert "TaskRouter" in body  # says what went wrong, in words
    assert "Traceback" not in body
    assert elapsed < ANSWERED_WITHIN
    if screen.typed:
        assert screen.typed in body, f"{screen.name} lost the input under {fault}"
    if screen.writes:
        # A write is sent once; only a 429 (never processed by TaskRouter) is sent again.
        assert len(flaky.posts) <= (3 if fault.startswith("429") else 1), flaky.posts


@pytest.mark.parametrize("fault", FAULTS)
def test_the_csv_export_always_ends_with_its_status_line(client, sandbox, flaky, fault):
    client.get("/w/Support/tasks/")
    flaky.faults.set(fault)
    response = client.get("/w/Support/tasks/?format=csv")
    body = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    flaky.faults.clear()
    assert response.status_code != 500
    if response.status_code == 200:
        assert body.strip().splitlines()[-1].startswith("# Export incomplete")
    else:
        assert "TaskRouter" in body
