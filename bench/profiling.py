"""``python -m bench --profile [--page table|task|both] [--page-size N]``: where the
dashboard's time goes on the task table (1000 rows unless told otherwise) and on one task's
page (a pending task, so every editor is offered).

The dashboard runs in this process (Django's test Client: the same middleware, view and
templates as under gunicorn, minus the socket), with the same production-like settings as
the benchmark; the sandbox runs in its own process over loopback, so its work is not in the
profile (cProfile sees only this thread) and does not compete for this process's GIL.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable
from typing import Any

from bench.measure import WORKSPACE_NAME, dashboard_params
from bench.stack import REPO_ROOT, BenchError, Stack, clean_environ

TOP = 25


def run_profile(
    *,
    samples: int,
    page_size: int,
    pages: tuple[str, ...],
    seed_tasks: int,
    progress: Callable[[str], None],
    cache_url: str = "",
) -> int:
    with Stack(cache_url=cache_url) as stack:
        progress(f"seeding a sandbox with {seed_tasks:,} tasks, preparing the dashboard")
        sandbox = stack.start_sandbox("main", seed_tasks=seed_tasks)
        stack.wait_preparation(stack.start_preparation())
        stack.wait_sandbox(sandbox)
        _configure_environ(stack.environ(taskrouter_url=sandbox.url))

        import django

        django.setup()
        from django.test import Client

        # ALLOWED_HOSTS is 127.0.0.1, as under gunicorn; the test Client's default host is
        # not. One client for every request: a browser's cookies (session, CSRF) persist.
        client = Client(HTTP_HOST="127.0.0.1")
        table_path = f"/w/{WORKSPACE_NAME}/tasks/"
        for page in pages:
            if page == "table":
                params = dashboard_params(page_size)
                title = f"Dashboard task table, {page_size} rows"
                marker, expected = b'<tr id="row-', page_size
                path = table_path
            else:
                sid = _pending_task(client, table_path)
                params = {}
                title = f"Dashboard task page ({sid})"
                marker, expected = sid.encode(), None  # shown at least once
                path = f"{table_path}{sid}/"
            _profile_page(
                client,
                path,
                params,
                marker,
                expected,
                title=title,
                samples=samples,
                progress=progress,
            )
    return 0


def _pending_task(client: Any, table_path: str) -> str:
    """The first pending task of the table: its page offers every editor."""
    response = client.get(table_path, {"status": "pending", "size": "1"})
    found = re.search(rb'<tr id="row-(WT[0-9a-f]{32})"', response.content)
    if response.status_code != 200 or not found:
        raise BenchError(f"{table_path} listed no pending task ({response.status_code})")
    return found.group(1).decode()


def _profile_page(
    client: Any,
    path: str,
    params: dict[str, str],
    marker: bytes,
    expected: int | None,
    *,
    title: str,
    samples: int,
    progress: Callable[[str], None],
) -> None:
    from django.db import connection

    def get() -> Any:
        response = client.get(path, params)
        found = response.content.count(marker)
        right = found == expected if expected is not None else found > 0
        if response.status_code != 200 or not right:
            raise BenchError(
                f"{path} answered {response.status_code} with {found} x {marker!r}:\n"
                f"{response.content[:2000].decode(errors='replace')}"
            )
        return response

    for _ in range(3):  # warm-up: imports, template compilation, directory cache
        get()
    progress(f"{title}: timing {samples} requests, then profiling {samples} more")
    plain = []
    queries = QueryLog()
    with connection.execute_wrapper(queries):
        for _ in range(samples):
            started = time.perf_counter()
            get()
            plain.append(time.perf_counter() - started)

    profiler = cProfile.Profile()
    for _ in range(samples):
        profiler.enable()
        get()
        profiler.disable()

    stats = pstats.Stats(profiler)
    print(
        f"{title}, in-process (sandbox over loopback): median "
        f"{statistics.median(plain) * 1000:.1f} ms unprofiled over {samples} requests."
    )
    calls, seconds = _taskrouter_calls(stats)
    if calls:
        print(
            f"TaskRouter calls per page: {calls / samples:.2f}; time inside "
            f"taskrouter.client.request (HTTP, waiting for the sandbox, JSON parsing): "
            f"{seconds / samples * 1000:.1f} ms per page (profiled)."
        )
    print(queries.summary(samples))
    print(_breakdown(stats, samples))
    print(f"\nProfile of {samples} requests, top {TOP} by cumulative time:")
    print(_listing(stats, "cumulative", TOP))
    print(f"Top {TOP} by own time (tottime):")
    print(_listing(stats, "tottime", TOP))
    # The cumulative list above is mostly the chain of middleware and template nodes every
    # page goes through; Taskdeck's own functions are where a fix would go.
    print(f"Taskdeck's own functions (tasks_app/), top {TOP} by cumulative time:")
    print(_listing(stats, "cumulative", TOP, "tasks_app"))
    print()


class QueryLog:
    """Counts and times the database queries of the unprofiled requests, by kind: the
    profile alone hides SQLite's time among many small C calls."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = sql.split()
            kind = " ".join(words[:1] + [w for w in words if w.startswith('"')][:1])
            self.kinds.setdefault(kind, []).append(time.perf_counter() - started)

    def summary(self, samples: int) -> str:
        count = sum(len(t) for t in self.kinds.values())
        total = sum(sum(t) for t in self.kinds.values())
        lines = [
            f"Database: {count / samples:.1f} queries, {total / samples * 1000:.2f} ms per page"
            + (":" if count else ".")
        ]
        for kind, times in sorted(self.kinds.items(), key=lambda item: -sum(item[1])):
            lines.append(
                f"  {len(times) / samples:5.1f} x {kind:<45} {sum(times) / samples * 1000:6.2f} ms"
            )
        return "\n".join(lines)


def _configure_environ(env: dict[str, str]) -> None:
    """This process becomes the dashboard: Taskdeck's variables are exactly the bench's."""
    for key in set(os.environ) - set(clean_environ(os.environ)):
        del os.environ[key]
    os.environ.update(env)


def _taskrouter_calls(stats: pstats.Stats) -> tuple[int, float]:
    """Calls of, and cumulative time in, the service module's one HTTP function."""
    suffix = os.path.join("tasks_app", "taskrouter", "client.py")
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if filename.endswith(suffix) and function == "request":
            _primitive, total_calls, _own, cumulative, _callers = row
            return total_calls, cumulative
    return 0, 0.0


# Where a page's time goes, by the functions that bound each kind of work: (label, the end
# of the file's path, the function's name). A function the page never called is left out.
_PARTS = (
    ("TaskRouter over HTTP (taskrouter.client.request)", "taskrouter/client.py", "request"),
    ("template rendering (render_to_string)", "template/loader.py", "render_to_string"),
    ("the table's rows (TaskTable.rows_html)", "tasks_app/tables.py", "rows_html"),
    ("tasks from JSON (Task.from_api)", "taskrouter/resources.py", "from_api"),
    ("form fields and widgets (the form renderer)", "django/forms/renderers.py", "render"),
    ("editor forms built and their versions signed (editing.show)", "tasks_app/editing.py", "show"),
    ("database commits", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("database commits", "~", "<method 'commit' of 'psycopg.Connection' objects>"),
    ("session save (SessionMiddleware)", "sessions/backends/db.py", "save"),
    ("signing (django.core.signing)", "django/core/signing.py", "sign_object"),
)


def _breakdown(stats: pstats.Stats, samples: int) -> str:
    """Cumulative profiled time of each part per page, against the whole request's."""
    found: dict[str, float] = {}
    total = 0.0
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        _primitive, _calls, _own, cumulative, _callers = row
        if filename.endswith("django/core/handlers/base.py") and function == "get_response":
            total = max(total, cumulative)
        for label, suffix, name in _PARTS:
            if filename.endswith(suffix) and function == name:
                found[label] = found.get(label, 0.0) + cumulative
    if not total:
        return ""
    lines = [
        "Where the time goes (profiled, so inflated; parts overlap; ms per page of "
        f"{total / samples * 1000:.1f}):"
    ]
    for label, seconds in sorted(found.items(), key=lambda item: -item[1]):
        lines.append(f"  {seconds / samples * 1000:7.1f} ms {seconds / total:5.0%}  {label}")
    return "\n".join(lines)


def _listing(stats: pstats.Stats, key: str, limit: int, match: str | None = None) -> str:
    """pstats' table, with the repository's, site-packages' and the stdlib's directories
    taken off the file names so the lines fit a terminal."""
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]
    restrictions: list[str | int] = [match, limit] if match else [limit]
    stats.sort_stats(key).print_stats(*restrictions)
    text = stream.getvalue()
    prefixes = {
        str(REPO_ROOT) + os.sep,
        sysconfig.get_paths()["purelib"] + os.sep,
        sysconfig.get_paths()["stdlib"] + os.sep,
        sys.prefix + os.sep,
    }
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix, "")
    # Drop pstats' preamble (the profile's timestamp and totals line stays).
    return "\n".join(line for line in text.splitlines() if line.strip())
