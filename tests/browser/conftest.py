"""Real-browser journeys: Playwright driving Debian's Chromium against pytest-django's
``live_server`` (a Django server in a thread of the test process).

Playwright cannot download its own browsers here, so Chromium is the system one
(``CHROMIUM_PATH``, default ``/usr/bin/chromium``; CI installs it with apt).

Every test in this directory:

* is marked ``browser`` and put in an xdist group by file and mode (production or
  DEBUG). ``--dist loadgroup`` runs each group on one worker, whose one Chromium (session
  scoped) serves every journey it runs, so ``make test``'s two workers share the journeys
  and the rest of the suite evenly (one group of every journey, then one per mode, were
  the longest chains of the run, each on one worker);
* fails on any JavaScript error, any console error (a Content-Security-Policy violation
  is one: the app runs a strict policy with no inline script or style), any template
  syntax (``{#``, ``{%``, ``{{``) among the text a page shows after it loads or after an
  htmx swap, and any request to a host other than the live server's (127.0.0.1 /
  localhost); other people's browsers in a test are guarded with
  ``browser_problems.watch(context)``;
* gets its own sandbox copy from ``tests/conftest.py``, which the live server thread sees
  too: the ``settings`` fixture changes the process-wide settings;
* runs as production serves (``DJANGO_DEBUG=0``) and, for a representative subset (see
  DEBUG_TOO_MODULES), also as ``make run`` serves (``DJANGO_DEBUG=1``: ``settings.DEBUG``
  on, so django-htmx's ``{% htmx_script %}`` would add its debug script). The test ids
  say which: ``[debug]`` and ``[production]``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, WebError, expect
from playwright.sync_api import Error as PlaywrightError

from tests import shared_connection
from tests.browser.helpers import VISIBLE_TEXT
from tests.identities import IDENTITIES

HERE = Path(__file__).parent
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})

# Chromium's own background traffic (safe browsing, component updates, sync, variations,
# ...) would hit the closed network and fill the log with refused connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    # This hook sees every collected item, not only this directory's: filter by path.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            # One worker runs a file's journeys of one mode (``--dist loadgroup``; the
            # root conftest.py makes sure the group holds).
            item.add_marker(pytest.mark.xdist_group(_browser_group(item)))
    return (yield)


def _browser_group(item: pytest.Item) -> str:
    """A journey's xdist group: its file and mode ("browser-debug-test_edit_journeys").
    Groups this size let the two workers share the journeys evenly; one group per mode
    left one worker running a long chain of journeys while the other sat idle."""
    callspec = getattr(item, "callspec", None)
    debug = callspec is not None and callspec.params.get("debug_mode") is True
    return f"browser-{'debug' if debug else 'production'}-{item.path.stem}"


@pytest.fixture(scope="session", autouse=True)
def _allow_django_orm_beside_playwright() -> None:
    """Playwright's sync API keeps an asyncio event loop in the test thread from the first
    browser test to the end of the session. While it exists Django refuses every ORM call
    in that thread (SynchronousOnlyOperation), pytest-django's own database set-up, flush
    and tear-down around each test included. DJANGO_ALLOW_ASYNC_UNSAFE turns the check off.

    Where it applies: this fixture is session-scoped and autouse *in this directory*, so
    it runs just before the first browser test of a pytest process and never in a process
    that runs none (``pytest tests/test_task_list.py``); under ``make test`` each worker
    takes a group of journeys first. It is not undone: any test that process runs
    afterwards still has Playwright's loop beside it and needs it too. It is safe there:
    nothing in a test run is async, and the test thread is the only user of its database
    connection (the live server thread has its own). Never set it in the app's processes.
    setdefault: a value already in the environment wins."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# Every journey runs twice: with DJANGO_DEBUG on, as `make run` serves, and off, as
# production serves (about four minutes for all of them on two quiet cores, beside the
# rest of the suite). TASKDECK_BROWSER_MODES=subset keeps the DEBUG pass to the journeys
# marked ``both_modes`` and those in DEBUG_TOO_MODULES (the ones meeting 4xx answers,
# where the two modes differed), for a quicker local run.
DEBUG_TOO_MODULES = frozenset({"test_edit_journeys.py"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_modes: run this browser journey with DJANGO_DEBUG=1 semantics too"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "debug_mode" not in metafunc.fixturenames:
        return
    both = (
        os.environ.get("TASKDECK_BROWSER_MODES", "all") == "all"
        or metafunc.definition.get_closest_marker("both_modes") is not None
        or metafunc.definition.path.name in DEBUG_TOO_MODULES
    )
    modes = [pytest.param(True, id="debug")] if both else []
    modes.append(pytest.param(False, id="production"))
    metafunc.parametrize("debug_mode", modes, indirect=True)


@pytest.fixture(autouse=True)
def _one_request_at_a_time() -> Iterator[None]:
    """The live server serves a journey's requests one at a time: its threads share the
    test thread's database connection (tests/shared_connection.py)."""
    shared_connection.JOURNEY.set()
    yield
    shared_connection.JOURNEY.clear()


@pytest.fixture(autouse=True)
def debug_mode(request: pytest.FixtureRequest, settings) -> bool:
    """The two modes people meet: ``make run`` sets DJANGO_DEBUG=1, which turns
    settings.DEBUG on (and with it whatever libraries do differently in DEBUG, such as
    django-htmx's debug script); production runs with DJANGO_DEBUG=0. The test settings
    load with DEBUG off; the live server thread reads the same settings object, so
    switching it here switches what the browser is served."""
    settings.DEBUG = request.param
    return request.param


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """The browser reaches Taskdeck as if through the SSO proxy (tests/settings.py trusts
    127.0.0.1), signed in as an admin; role journeys make their own contexts."""
    return {**browser_context_args, "extra_http_headers": IDENTITIES["admin"]}


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Relative URLs in ``page.goto("/w/Support/tasks/")`` go to the live server."""
    return live_server.url


# --- What the browser must never do ------------------------------------------------------


def without_cancelled(errors: list[str]) -> list[str]:
    """The console errors less htmx's report of a request it cancelled on purpose: a filter
    changed again while the last change loaded (the form's hx-sync="this:replace") logs
    "htmx:afterRequest" then "htmx:sendAbort". Each sendAbort takes its afterRequest
    with it; any other afterRequest (a request that failed) is still reported."""
    aborts = sum(error.startswith("htmx:sendAbort") for error in errors)
    kept = []
    for error in errors:
        if error.startswith("htmx:sendAbort"):
            continue
        if aborts and error.startswith("htmx:afterRequest"):
            aborts -= 1
            continue
        kept.append(error)
    return kept


@dataclass
class BrowserProblems:
    """Everything that went wrong in the browser during one test."""

    context: BrowserContext
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    expected_console: list[re.Pattern[str]] = field(default_factory=list)
    watched: list[BrowserContext] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        """Guard every page of ``context`` (the test's own, or another person's browser)."""
        self.watched.append(context)
        context.on("console", self.on_console)
        context.on("weberror", self.on_page_error)
        context.on("request", self.on_request)
        context.add_init_script(TEMPLATE_TEXT_CHECK)

    def expect_console_error(self, pattern: str) -> None:
        """A console error this test provokes on purpose (e.g. Chromium logs every
        4xx answer, including the 400 that carries form errors)."""
        self.expected_console.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(p.search(message.text) for p in self.expected_console):
            return
        where = message.location or {}
        origin = f" ({where.get('url')}:{where.get('lineNumber')})" if where.get("url") else ""
        self.console_errors.append(f"{message.text}{origin}")

    def on_page_error(self, error: WebError) -> None:
        self.page_errors.append(str(error.error))

    def on_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            self.foreign_requests.append(f"{request.method} {request.url}")

    def flush(self) -> None:
        # Events reach Python asynchronously; one round trip to each page delivers
        # everything the page emitted before it.
        for context in self.watched:
            for page in context.pages:
                # A closed page, or one mid-navigation, has nothing left to deliver.
                with contextlib.suppress(PlaywrightError):
                    page.evaluate("0")

    def forgive(self) -> None:
        """Forget everything seen so far (for a test that provokes problems on purpose)."""
        self.page_errors.clear()
        self.console_errors.clear()
        self.foreign_requests.clear()

    def report(self) -> str:
        lines = []
        for title, items in (
            ("JavaScript errors", self.page_errors),
            ("Console errors (CSP violations appear here)", without_cancelled(self.console_errors)),
            ("Requests to hosts other than the live server", self.foreign_requests),
        ):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  - {item}" for item in items)
        return "\n".join(lines)


# Django prints a template tag or comment it cannot read (a `{# #}` over two lines, a
# `{% %}` broken across lines) as text. After every page load and every htmx swap this
# looks at the text the page shows and reports any such remnant as a console error, which
# the guard turns into a failure. Playwright injects it (DevTools), so the page's
# Content-Security-Policy does not apply to it.
TEMPLATE_TEXT_CHECK = r"""
(() => {
  const VISIBLE_TEXT = __VISIBLE_TEXT__;
  const remnant = /[^\n]{0,40}\{[#%{][^\n]{0,40}/;
  function check(when) {
    if (!document.body) return;
    const found = remnant.exec(VISIBLE_TEXT());
    if (!found) return;
    console.error(`Template syntax shown on ${location.pathname} ${when}: ${found[0]}`);
  }
  document.addEventListener("DOMContentLoaded", () => check("after loading"));
  document.addEventListener("htmx:afterSettle", () => check("after an htmx swap"));
})();
""".replace("__VISIBLE_TEXT__", VISIBLE_TEXT)


@pytest.fixture(autouse=True)
def browser_problems(context: BrowserContext) -> BrowserProblems:
    problems = BrowserProblems(context)
    problems.watch(context)
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test (not its teardown) when the browser misbehaved during it."""
    problems: BrowserProblems | None = getattr(item, "funcargs", {}).get("browser_problems")
    try:
        result = yield
    except BaseException:
        if problems is not None and (text := problems.report()):
            item.add_report_section("call", "browser", text)
        raise
    if problems is not None:
        problems.flush()
        if text := problems.report():
            pytest.fail(f"The browser reported problems:\n{text}", pytrace=False)
    return result


# How long a step or an assertion waits for the page before failing. Both poll, so a
# passing journey never waits this long; it is the margin a loaded machine (several
# workers, each with its own Chromium and servers, on two cores) needs. Playwright's
# assertions default to 5 s, less than its actions: one margin serves both.
BROWSER_WAIT_MS = 15_000
expect.set_options(timeout=BROWSER_WAIT_MS)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(BROWSER_WAIT_MS)
    return page


# --- Accessibility -----------------------------------------------------------------------

BLOCKING_IMPACTS = ("serious", "critical")
_axe = Axe()


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"[{violation['impact']}] {violation['id']}: {violation['help']}\n"
            f"    {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}")
            lines.append(f"       {node['html'][:300]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n         ")
            if summary:
                lines.append(f"         {summary}")
    return "\n".join(lines)


@pytest.fixture
def axe(request: pytest.FixtureRequest) -> Callable[[Page], list[dict]]:
    """``axe(page)`` runs axe-core on the page as it is now and fails on any violation of
    impact serious or critical; lesser ones are returned (and shown in the report).

    axe-playwright-python injects axe-core with ``page.evaluate`` (DevTools'
    Runtime.evaluate), which the page's Content-Security-Policy does not govern, so
    the strict policy needs no exception and the test still sees the real policy."""

    def check(page: Page, *, context: str | None = None) -> list[dict]:
        results = _axe.run(page, context=context).response
        violations = results["violations"]
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        minor = [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
        if minor:
            request.node.add_report_section(
                "call", f"axe (not blocking) {page.url}", format_violations(minor)
            )
        assert not blocking, (
            f"axe-core {results['testEngine']['version']} found serious or critical "
            f"accessibility violations on {page.url}:\n{format_violations(blocking)}"
        )
        return minor

    return check
