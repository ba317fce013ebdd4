"""One user at a time of the test database's connection: a request at a time for the
browser journeys, a statement at a time for worker threads (`one_statement_at_a_time`).

The test database is SQLite in memory, and the live server's threads use the very
connection of the test's own thread (pytest-django hands it over, since another connection
would see another, empty database). One SQLite connection serves one statement at a time
but has one transaction for all: a page read by the live server while the test's thread
brings the index up to date fails with "database table is locked", a state production
(one connection per thread, a file in WAL mode) never sees. So the live server handles
one request at a time, and test code that writes while a page may be asking takes the
same lock.

Only while a browser journey runs (tests/browser/conftest.py sets `JOURNEY`): other tests
that use the live server make requests at the same time on purpose (pages waiting on a
hung TaskRouter while /livez must answer at once), and their reads do not collide with
writes of the test's own thread. Bulk worker threads borrow the connection in every test
(tests/conftest.py) and run one statement at a time on it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

LOCK = threading.RLock()
JOURNEY = threading.Event()


def one_request_at_a_time(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware (tests only): holds `LOCK` while a journey's request is served."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if not JOURNEY.is_set():
            return get_response(request)
        with LOCK:
            return get_response(request)

    return middleware


_STATEMENT = threading.Lock()


def one_statement_at_a_time(execute, sql, params, many, context):
    """Execute wrapper (tests only) on the test database's connection while worker threads
    borrow it (tests/conftest.py). SQLite counts the rows a statement changed per
    connection, so two threads' statements interleaved on one connection can each read
    the other's count: a bulk claim won would look lost. In production each thread has a
    connection of its own; here each statement and its count are one thread's."""
    with _STATEMENT:
        return execute(sql, params, many, context)
