"""The sandbox's WSGI application: TaskRouter v1's HTTP surface for the operations Taskdeck uses.

Served paths (everything else is 404/20404, other methods on these paths 405/20004):

    GET  /v1/Workspaces                      GET /v1/Workspaces/{WS}
    GET  /v1/Workspaces/{WS}/Workflows       GET /v1/Workspaces/{WS}/Workflows/{WW}
    GET  /v1/Workspaces/{WS}/TaskQueues      GET /v1/Workspaces/{WS}/TaskQueues/{WQ}
    GET  /v1/Workspaces/{WS}/TaskChannels    GET /v1/Workspaces/{WS}/TaskChannels/{TC | unique_name}
    GET, POST /v1/Workspaces/{WS}/Tasks      GET, POST, DELETE /v1/Workspaces/{WS}/Tasks/{WT}
    Activities, Workers (their Channels and Reservations), a task's Reservations and every
    statistics resource: :mod:`.workforce_api`
    GET  /v1/Workspaces/{WS}/Events          GET /v1/Workspaces/{WS}/Events/{EV}

Each request goes: injected faults (before anything, see :mod:`.faults`) -> CORS preflight
(``OPTIONS``, answered without credentials, as browsers send none) -> HTTP Basic
authentication (401/20003) -> TaskRouter's housekeeping when due (:mod:`.housekeeping`:
reservation and target timeouts, TTL expiry, purge) -> routing (404/20404 for an unknown
SID or a path segment of the wrong shape) -> the operation. Every write records its Events
(:mod:`.events`) in its own transaction. JSON follows the spec's schemas and examples (key
order of the examples, absolute ``url``/``links``/``meta`` URLs built from the request's
scheme and Host).

DECISIONS where Twilio documents nothing (docs/taskrouter.md has what it does document):
    * Task ``ETag``: the task's version as a bare integer (``ETag: 3``), as [MutDoc]'s
      walkthrough shows; sent on create (201), fetch and update, never on delete (204).
    * 404 messages name the path without ``/v1`` ("The requested resource
      /Workspaces/WS.../Tasks/WT... was not found"), as Twilio's product APIs do.
    * The 405 answer (a method these paths do not serve here) is code 20004 "Method not
      allowed".
    * List ``ETag``: a hash of the page (each task's SID and version, and whether a next page
      exists), bare like the task ETags; it changes whenever anything on the page changes.
    * ``X-Rate-Limit-Limit``: 50 per second for every operation, 3 for ListTask with
      ``EvaluateTaskAttributes`` ([CL-2024]); ``X-Rate-Limit-Remaining``: the limit minus the
      average rate of the last 10 s (TaskRouter averages over 10 s), per operation, per app;
      ``X-Rate-Limit-Config``: the operation's resource key (``Task-List``,
      ``Task-List-EvaluateTaskAttributes``, ``Task-Fetch``...), the naming of TaskRouter's
      rate-limit events. Advisory only unless the app is given a ``RateLimiter``
      (``runsandbox --rate-limits``, see :mod:`.ratelimit`); the ``429`` fault works anyway.
    * ``Page`` > 0 without ``PageToken``: 400/20001 "PageToken is required for paging." (the
      analogous real answer; TaskRouter's 40153 says absolute paging gets a 400). ``Page``
      is otherwise echoed: ``next_page_url`` has Page+1, ``previous_page_url`` Page-1.
    * ``PageSize`` outside 1..1000: 400/20001 with the rule's message (not 20007).
    * A page token is ``PA<sid>`` (page after that item) or ``PB<sid>`` (page before it);
      anything else, or a SID that was never in the list, is 400/20001.
    * ``next_page_url``/``previous_page_url``/``url`` repeat every list filter the request
      had (in its order, as sent, repeated ``AssignmentStatus`` kept repeated), then
      ``PageSize``, ``Page`` and ``PageToken``; ``first_page_url`` omits the token.
      ``previous_page_url`` is null on a first page and on an empty page.
    * A list filter sent empty (``Priority=``) is ignored, like an absent one.
    * Task ``attributes`` are filled in list items (as the spec's and the docs' examples show)
      unless the app is built with ``list_attributes=False`` (null, as the spec's text says).
    * ``more_info`` is ``https://www.twilio.com/docs/errors/<code>``.
    * Request bodies are read as ``application/x-www-form-urlencoded`` whatever their type.
    * No conditional GETs (If-None-Match is ignored).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from tasks_app.taskrouter import limits, rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.query import (
    EVENT_FILTER_PARAMETERS,
    FILTER_PARAMETERS,
    EventQuery,
    TaskQuery,
)

from . import engine, events, store, workforce_api
from .auth import Credentials
from .engine import ApiError, not_found
from .faults import ERROR_KINDS, ClientReadTimeout, Fault, FaultPlan, ServerDroppedConnection
from .housekeeping import Housekeeper
from .ratelimit import RateLimiter, account_of

__all__ = ["SandboxApp"]

log = logging.getLogger("tasks_app.sandbox")

US = 1_000_000
CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    (
        "Access-Control-Allow-Headers",
        "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, "
        "If-Unmodified-Since, Idempotency-Key",
    ),
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Expose-Headers", "ETag, Twilio-Request-Id"),
)
JSON_TYPE = "application/json; charset=utf-8"
RATE_LIMITS = limits.LIMITS  # one table, shared with Taskdeck's budget
DEFAULT_RATE_LIMIT = limits.DEFAULT_LIMIT
STATUS_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Query parameters ListTask echoes in its page URLs, besides PageSize/Page/PageToken.
COLLECTIONS = {
    # path segment: (SID prefix, list key, resource name for rate-limit keys)
    "Workflows": ("WW", "workflows", "Workflow"),
    "TaskQueues": ("WQ", "task_queues", "TaskQueue"),
    "TaskChannels": ("TC", "channels", "TaskChannel"),
    "Tasks": ("WT", "tasks", "Task"),
    "Events": ("EV", "events", "Event"),
}
_PATH = re.compile(
    r"^/v1/Workspaces(?:/(?P<ws>[^/]+)(?:/(?P<collection>[^/]+)(?:/(?P<sid>[^/]+)"
    r"(?:/(?P<sub>[^/]+)(?:/(?P<subsid>[^/]+))?)?)?)?)?$"
)


@dataclass
class Request:
    method: str
    path: str  # decoded PATH_INFO
    query: list[tuple[str, str]]
    environ: Mapping[str, Any]
    base_url: str  # scheme://host
    _form: list[tuple[str, str]] | None = field(default=None, repr=False)
    _body: bytes | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def first(self, name: str) -> str | None:
        """A query parameter, None when absent or blank (blank filters are ignored)."""
        for key, value in self.query:
            if key == name and value.strip():
                return value
        return None

    @property
    def body(self) -> bytes:
        """The request body, read once."""
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            self._body = self.environ["wsgi.input"].read(length) if length > 0 else b""
        return self._body

    @property
    def form_pairs(self) -> list[tuple[str, str]]:
        """The form body's pairs, repeated names kept."""
        if self._form is None:
            self._form = parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    @property
    def form(self) -> dict[str, str]:
        """The form body; for a repeated name, the first value."""
        form: dict[str, str] = {}
        for key, value in self.form_pairs:
            form.setdefault(key, value)
        return form


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


class _RateMeter:
    """The per-operation request rate of the last 10 s, for the X-Rate-Limit-* headers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int) -> int:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            hits.append(now)
            while hits and hits[0] < now - 10:
                hits.popleft()
            return max(0, limit - math.ceil(len(hits) / 10))


class SandboxApp:
    """TaskRouter v1 as a WSGI application over a :class:`SandboxStore`.

    ``clock``: a zero-argument callable returning the current time (an aware datetime, or
    epoch seconds); defaults to the system clock. ``faults``: the plan applied to every
    request (the ``X-Sandbox-Fault`` header works without one). ``housekeeper``: TaskRouter's
    clock (timeouts, TTL expiry, purge), run before a request when due by ``clock``; by
    default one with TaskRouter's purge delay. ``static``: TaskRouter's clock stopped:
    nothing times out, expires or is purged by itself (for measurements that need a sandbox
    nothing changes but their own requests).
    """

    def __init__(
        self,
        store: store.SandboxStore,
        *,
        credentials: Credentials,
        faults: FaultPlan | None = None,
        list_attributes: bool = True,
        clock: Callable[[], datetime | float] | None = None,
        rate_limits: RateLimiter | None = None,
        housekeeper: Housekeeper | None = None,
        static: bool = False,
    ) -> None:
        self.rate_limits = rate_limits  # None: advisory headers only, never a 429
        self.housekeeper: Housekeeper | None = None
        if not static:
            self.housekeeper = housekeeper if housekeeper is not None else Housekeeper(store)
        self.store = store
        self.credentials = credentials
        self.faults = faults if faults is not None else FaultPlan()
        self.list_attributes = list_attributes
        self._clock = clock
        self._meter = _RateMeter()

    def __repr__(self) -> str:
        return f"SandboxApp({self.store!r}, account={self.credentials.account_sid})"

    def now(self) -> datetime:
        value = self._clock() if self._clock is not None else datetime.now(UTC)
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    # WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request_id = "RQ" + uuid.uuid4().hex
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = _decoded_path(environ)
        delay, fault = self.faults.take(method, path)
        header_spec = environ.get("HTTP_X_SANDBOX_FAULT")
        response = None
        if header_spec:
            try:
                own = Fault.parse(header_spec)
            except InvalidParameter as exc:
                response = _error(400, 20001, str(exc))
            else:
                if own.matches(method, path):
                    if own.is_delay:
                        delay += own.seconds
                    elif fault is None:
                        fault = own
        if response is None and fault is None and self.rate_limits is not None:
            retry_after = self.rate_limits.check(
                account_of(environ.get("HTTP_AUTHORIZATION")), method, path,
                [name for name, _ in _query(environ)],
            )  # fmt: skip
            if retry_after is not None:
                response = _error(429, 20429, "Too Many Requests")
                response.headers.append(("Retry-After", str(retry_after)))
        if response is None and delay > 0:
            response = self._wait_out(environ, delay, fault)
        if response is None:
            response = self._respond(environ, method, path, fault)
        headers = [
            *response.headers,
            *CORS_HEADERS,
            ("Twilio-Request-Id", request_id),
            ("Content-Length", str(len(response.body))),
        ]
        reason = STATUS_REASONS.get(response.status, "Unknown")
        start_response(f"{response.status} {reason}", headers)
        return [response.body]

    def _wait_out(
        self, environ: dict[str, Any], delay: float, fault: Fault | None
    ) -> Response | None:
        """Wait out a delay fault; None when the request then carries on."""
        read_timeout = environ.get("sandbox.read_timeout")
        if read_timeout is not None and delay > read_timeout:
            # An in-process caller gives up; the request carries on without it, as it
            # would on a real server.
            time.sleep(read_timeout)
            threading.Thread(
                target=self._finish_late,
                args=(environ, delay - read_timeout, fault),
                daemon=True,
            ).start()
            raise ClientReadTimeout(read_timeout)
        stopping = environ.get("sandbox.stopping")
        if stopping is None:
            time.sleep(delay)
        elif stopping.wait(delay):
            # Its server stopped meanwhile (a test's end, runsandbox's Ctrl-C): the answer
            # of a server going away, and the storage, perhaps gone with it, untouched.
            return _error(503, 20503, "Service Unavailable")
        return None

    def _finish_late(self, environ: dict[str, Any], rest: float, fault: Fault | None) -> None:
        time.sleep(rest)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        with contextlib.suppress(ServerDroppedConnection):
            self._respond(environ, method, _decoded_path(environ), fault)

    def _respond(
        self, environ: Mapping[str, Any], method: str, path: str, fault: Fault | None
    ) -> Response:
        if fault is not None:
            if fault.kind == "drop":
                raise ServerDroppedConnection()
            if fault.kind == "malformed":
                # What a response cut short by a proxy looks like.
                return Response(200, b'{"meta": {"page": 0, "page_size": 50, "first_pa',
                                [("Content-Type", JSON_TYPE)])  # fmt: skip
            if fault.kind == "html":
                # A proxy or captive portal answering in TaskRouter's place.
                page = b"<html><body><h1>Gateway error</h1><p>Try later.</p></body></html>"
                return Response(200, page, [("Content-Type", "text/html; charset=utf-8")])
            status, code, message = ERROR_KINDS[fault.kind]
            response = _error(status, code, message)
            if fault.retry_after is not None:
                response.headers.append(("Retry-After", str(fault.retry_after)))
            return response
        if method == "OPTIONS":
            return Response(200, b"", [("Content-Type", JSON_TYPE)])
        if not self.credentials.accepts_authorization(environ.get("HTTP_AUTHORIZATION")):
            response = _error(401, 20003, "Authenticate")
            response.headers.append(("WWW-Authenticate", 'Basic realm="Twilio API"'))
            return response
        request = Request(
            method=method,
            path=path,
            query=_query(environ),
            environ=environ,
            base_url=_base_url(environ),
        )
        try:
            if self.housekeeper is not None:
                self.housekeeper.maybe_run(store.to_us(self.now()))
            return self._route(request)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message)
        except InvalidParameter as exc:
            return _error(400, 20001, str(exc))
        except sqlite3.OperationalError:
            log.exception("sandbox storage failed on %s %s", method, path)
            return _error(503, 20503, "Service Unavailable")
        except Exception:
            log.exception("sandbox failed on %s %s", method, path)
            return _error(500, 20500, "Internal Server Error")

    # Routing ------------------------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        resource = request.path[3:] if request.path.startswith("/v1/") else request.path
        if match is None:
            raise not_found(resource)
        ws, collection, sid, sub, subsid = match.group("ws", "collection", "sid", "sub", "subsid")
        if ws is not None and not rules.is_sid(ws, "WS"):
            raise not_found(resource)
        if (
            ws is not None
            and collection is not None
            and workforce_api.handles(collection, sid, sub)
        ):
            return workforce_api.route(self, request, ws, collection, sid, sub, subsid, resource)
        if sub is not None or (collection is not None and collection not in COLLECTIONS):
            raise not_found(resource)
        if collection is not None and sid is not None:
            prefix = COLLECTIONS[collection][0]
            # TaskChannels are also addressed by unique_name (the spec gives the Sid no pattern).
            if collection != "TaskChannels" and not rules.is_sid(sid, prefix):
                raise not_found(resource)

        if ws is None:
            self._allow(request, "GET")
            return self._list_workspaces(request)
        if collection is None:
            self._allow(request, "GET")
            return self._fetch_workspace(request, ws, resource)
        if collection == "Events":
            self._allow(request, "GET")
            if sid is None:
                return self._list_events(request, ws, resource)
            return self._fetch_event(request, ws, sid, resource)
        if collection == "Tasks":
            if sid is None:
                self._allow(request, "GET", "POST")
                if request.method == "POST":
                    return self._create_task(request, ws, resource)
                return self._list_tasks(request, ws, resource)
            self._allow(request, "GET", "POST", "DELETE")
            if request.method == "POST":
                return self._update_task(request, ws, sid, resource)
            if request.method == "DELETE":
                return self._delete_task(request, ws, sid, resource)
            return self._fetch_task(request, ws, sid, resource)
        self._allow(request, "GET")
        if sid is None:
            return self._list_children(request, ws, collection, resource)
        return self._fetch_child(request, ws, collection, sid, resource)

    @staticmethod
    def _allow(request: Request, *methods: str) -> None:
        if request.method not in methods:
            raise ApiError(405, 20004, "Method not allowed")

    def _ok(self, request: Request, key: str, payload: Any, status: int = 200,
            etag: str | None = None) -> Response:  # fmt: skip
        limit = RATE_LIMITS.get(key, DEFAULT_RATE_LIMIT)
        headers = [("Content-Type", JSON_TYPE)]
        if etag is not None:
            headers.append(("ETag", etag))
        headers += [
            ("X-Rate-Limit-Limit", str(limit)),
            ("X-Rate-Limit-Remaining", str(self._meter.hit(key, limit))),
            ("X-Rate-Limit-Config", key),
        ]
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if payload is None:
            headers = headers[1:]
        return Response(status, body, headers)

    # Workspaces and their small collections -----------------------------------------------

    def _list_workspaces(self, request: Request) -> Response:
        friendly_name = request.first("FriendlyName")
        with self.store.read() as conn:
            rows = store.fetch_workspaces(conn, friendly_name)
        return self._small_list(
            request, "Workspace", "workspaces", "WS", rows, self._workspace_json, ["FriendlyName"]
        )

    def _fetch_workspace(self, request: Request, ws: str, resource: str) -> Response:
        with self.store.read() as conn:
            row = store.fetch_workspace(conn, ws)
        if row is None:
            raise not_found(resource)
        return self._ok(request, "Workspace-Fetch", self._workspace_json(request, row))

    def _list_children(self, request: Request, ws: str, collection: str, resource: str):
        prefix, key, name = COLLECTIONS[collection]
        friendly_name = request.first("FriendlyName") if collection != "TaskChannels" else None
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)
            if collection == "Workflows":
                rows = store.fetch_workflows(conn, ws, friendly_name)
            elif collection == "TaskQueues":
                rows = store.fetch_task_queues(conn, ws, friendly_name)
            else:
                rows = store.fetch_task_channels(conn, ws)
        render = {
            "Workflows": self._workflow_json,
            "TaskQueues": self._task_queue_json,
            "TaskChannels": self._task_channel_json,
        }[collection]
        echoed = ["FriendlyName"] if collection != "TaskChannels" else []
        return self._small_list(request, name, key, prefix, rows, render, echoed)

    def _fetch_child(self, request: Request, ws: str, collection: str, sid: str, resource: str):
        _, _, name = COLLECTIONS[collection]
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)
            if collection == "Workflows":
                row, render = store.fetch_workflow(conn, ws, sid), self._workflow_json
            elif collection == "TaskQueues":
                row, render = store.fetch_task_queue(conn, ws, sid), self._task_queue_json
            else:
                row, render = store.fetch_task_channel(conn, ws, sid), self._task_channel_json
        if row is None:
            raise not_found(resource)
        return self._ok(request, f"{name}-Fetch", render(request, row))

    def _small_list(
        self,
        request: Request,
        name: str,
        key: str,
        prefix: str,
        rows: list,
        render: Callable[[Request, Any], dict],
        echoed: list[str],
    ) -> Response:
        page_size, page, token = _paging(request, prefix)
        index = 0
        if token is not None:
            position = next((i for i, r in enumerate(rows) if r["sid"] == token[2:]), None)
            if position is None:
                raise InvalidParameter("PageToken is not valid for this list.", param="PageToken")
            if token.startswith("PA"):
                index = position + 1
            else:
                index = max(0, position - page_size)
                rows = rows[:position]
        items = rows[index : index + page_size]
        has_next = index + page_size < len(rows) or (token is not None and token[:2] == "PB")
        has_previous = index > 0
        payload = {
            key: [render(request, r) for r in items],
            "meta": _meta(request, key, echoed, page_size, page, token, items, has_next,
                          has_previous),
        }  # fmt: skip
        return self._ok(request, f"{name}-List", payload)

    # Tasks --------------------------------------------------------------------------------

    def _list_tasks(self, request: Request, ws: str, resource: str) -> Response:
        # The dashboard's own TaskQuery reads the filters: one grammar, both sides.
        query = TaskQuery.from_params(request.first, request.values)
        page_size, page, token = _paging(request, "WT")
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)
            result = store.page_tasks(conn, ws, query, page_size, token)
            names = _names(conn, ws)
        now = store.to_us(self.now())
        items = [
            self._task_json(request, row, names, now, self.list_attributes) for row in result.rows
        ]
        digest = hashlib.sha256(
            ";".join(f"{r['sid']}:{r['version']}" for r in result.rows).encode()
            + (b"+" if result.has_next else b"")
        ).hexdigest()[:32]
        payload = {
            "meta": _meta(request, "tasks", FILTER_PARAMETERS, page_size, page, token, result.rows,
                          result.has_next, result.has_previous and bool(result.rows)),
            "tasks": items,
        }  # fmt: skip
        key = "Task-List-EvaluateTaskAttributes" if query.evaluate_task_attributes else "Task-List"
        return self._ok(request, key, payload, etag=digest)

    def _fetch_task(self, request: Request, ws: str, sid: str, resource: str) -> Response:
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)
            row = store.fetch_task(conn, ws, sid)
            if row is None:
                raise not_found(resource)
            names = _names(conn, ws)
        return self._task_response(request, "Task-Fetch", row, names, 200)

    def _create_task(self, request: Request, ws: str, resource: str) -> Response:
        self._require_workspace(ws, resource)
        row = engine.create_task(
            self.store,
            workspace_sid=ws,
            form=request.form,
            now=self.now(),
            actor=self._actor(request),
        )
        return self._task_response(request, "Task-Create", row, None, 201)

    def _update_task(self, request: Request, ws: str, sid: str, resource: str) -> Response:
        self._require_workspace(ws, resource)
        row = engine.update_task(
            self.store,
            account_sid=self.credentials.account_sid,
            workspace_sid=ws,
            task_sid=sid,
            form=request.form,
            if_match=request.header("If-Match"),
            now=self.now(),
            actor=self._actor(request),
        )
        return self._task_response(request, "Task-Update", row, None, 200)

    def _delete_task(self, request: Request, ws: str, sid: str, resource: str) -> Response:
        self._require_workspace(ws, resource)
        engine.delete_task(
            self.store,
            workspace_sid=ws,
            task_sid=sid,
            if_match=request.header("If-Match"),
            now=self.now(),
            actor=self._actor(request),
        )
        return self._ok(request, "Task-Delete", None, status=204)

    def _actor(self, request: Request) -> events.Actor:
        """Who a REST write is recorded as in its Events: the account, from the client's IP."""
        return events.api_client(self.credentials.account_sid, request.environ.get("REMOTE_ADDR"))

    # Events -------------------------------------------------------------------------------

    def _list_events(self, request: Request, ws: str, resource: str) -> Response:
        query = EventQuery.from_params(request.first)
        page_size, page, token = _paging(request, "EV")
        start, end = query.window(self.now())
        # Both ends included, exactly: an event at a millisecond is at its start.
        start_ms, end_ms = -(-store.to_us(start) // 1000), store.to_us(end) // 1000
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)
            result = events.page_events(
                conn, ws, query, start_ms=start_ms, end_ms=end_ms, page_size=page_size,
                token=token,
            )  # fmt: skip
        payload = {
            "events": [self._event_json(request, row) for row in result.rows],
            "meta": _meta(request, "events", EVENT_FILTER_PARAMETERS, page_size, page, token,
                          result.rows, result.has_next, result.has_previous and bool(result.rows)),
        }  # fmt: skip
        return self._ok(request, "Event-List", payload)

    def _fetch_event(self, request: Request, ws: str, sid: str, resource: str) -> Response:
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)
            row = events.fetch_event(conn, ws, sid)
        if row is None:
            raise not_found(resource)
        return self._ok(request, "Event-Fetch", self._event_json(request, row))

    def _require_workspace(self, ws: str, resource: str) -> None:
        with self.store.read() as conn:
            if store.fetch_workspace(conn, ws) is None:
                raise not_found(resource)

    def _task_response(self, request, key, row, names, status) -> Response:
        if names is None:
            with self.store.read() as conn:
                names = _names(conn, row["workspace_sid"])
        now = store.to_us(self.now())
        payload = self._task_json(request, row, names, now, True)
        return self._ok(request, key, payload, status=status, etag=str(row["version"]))

    # JSON ---------------------------------------------------------------------------------

    def _workspace_json(self, request: Request, row: sqlite3.Row) -> dict[str, Any]:
        url = f"{request.base_url}/v1/Workspaces/{row['sid']}"
        return {
            "account_sid": self.credentials.account_sid,
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "default_activity_name": row["default_activity_name"],
            "default_activity_sid": row["default_activity_sid"],
            "event_callback_url": row["event_callback_url"],
            "events_filter": row["events_filter"],
            "friendly_name": row["friendly_name"],
            "links": {
                "activities": f"{url}/Activities",
                "statistics": f"{url}/Statistics",
                "real_time_statistics": f"{url}/RealTimeStatistics",
                "cumulative_statistics": f"{url}/CumulativeStatistics",
                "task_queues": f"{url}/TaskQueues",
                "tasks": f"{url}/Tasks",
                "workers": f"{url}/Workers",
                "workflows": f"{url}/Workflows",
                "task_channels": f"{url}/TaskChannels",
                "events": f"{url}/Events",
            },
            "multi_task_enabled": bool(row["multi_task_enabled"]),
            "prioritize_queue_order": row["prioritize_queue_order"],
            "sid": row["sid"],
            "timeout_activity_name": row["timeout_activity_name"],
            "timeout_activity_sid": row["timeout_activity_sid"],
            "url": url,
        }

    def _workflow_json(self, request: Request, row: sqlite3.Row) -> dict[str, Any]:
        url = f"{request.base_url}/v1/Workspaces/{row['workspace_sid']}/Workflows/{row['sid']}"
        return {
            "account_sid": self.credentials.account_sid,
            "assignment_callback_url": row["assignment_callback_url"],
            "configuration": row["configuration"],
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "document_content_type": row["document_content_type"],
            "fallback_assignment_callback_url": row["fallback_assignment_callback_url"],
            "friendly_name": row["friendly_name"],
            "sid": row["sid"],
            "task_reservation_timeout": row["task_reservation_timeout"],
            "url": url,
            "links": {
                "statistics": f"{url}/Statistics",
                "real_time_statistics": f"{url}/RealTimeStatistics",
                "cumulative_statistics": f"{url}/CumulativeStatistics",
            },
            "workspace_sid": row["workspace_sid"],
        }

    def _task_queue_json(self, request: Request, row: sqlite3.Row) -> dict[str, Any]:
        workspace = f"{request.base_url}/v1/Workspaces/{row['workspace_sid']}"
        url = f"{workspace}/TaskQueues/{row['sid']}"
        return {
            "account_sid": self.credentials.account_sid,
            "assignment_activity_name": row["assignment_activity_name"],
            "assignment_activity_sid": row["assignment_activity_sid"],
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "friendly_name": row["friendly_name"],
            "max_reserved_workers": row["max_reserved_workers"],
            "links": {
                "assignment_activity": f"{workspace}/Activities/{row['assignment_activity_sid']}",
                "reservation_activity": f"{workspace}/Activities/{row['reservation_activity_sid']}",
                "workspace": workspace,
                "statistics": f"{url}/Statistics",
                "real_time_statistics": f"{url}/RealTimeStatistics",
                "cumulative_statistics": f"{url}/CumulativeStatistics",
                "list_statistics": f"{workspace}/TaskQueues/Statistics",
                "bulk_real_time_statistics": f"{workspace}/TaskQueues/RealTimeStatistics",
            },
            "reservation_activity_name": row["reservation_activity_name"],
            "reservation_activity_sid": row["reservation_activity_sid"],
            "sid": row["sid"],
            "target_workers": row["target_workers"],
            "task_order": row["task_order"],
            "url": url,
            "workspace_sid": row["workspace_sid"],
        }

    def _task_channel_json(self, request: Request, row: sqlite3.Row) -> dict[str, Any]:
        workspace = f"{request.base_url}/v1/Workspaces/{row['workspace_sid']}"
        return {
            "account_sid": self.credentials.account_sid,
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "friendly_name": row["friendly_name"],
            "sid": row["sid"],
            "unique_name": row["unique_name"],
            "url": f"{workspace}/TaskChannels/{row['sid']}",
            "workspace_sid": row["workspace_sid"],
            "channel_optimized_routing": (
                None
                if row["channel_optimized_routing"] is None
                else bool(row["channel_optimized_routing"])
            ),
            "links": {"workspace": workspace},
        }

    def _event_json(self, request: Request, row: sqlite3.Row) -> dict[str, Any]:
        ws = row["workspace_sid"]
        return {
            "account_sid": self.credentials.account_sid,
            "actor_sid": row["actor_sid"],
            "actor_type": row["actor_type"],
            "actor_url": _absolute(request, row["actor_url"]),
            "description": row["description"],
            "event_data": json.loads(row["event_data"]),
            "event_date": _date(row["event_date_ms"] * 1000),
            "event_date_ms": row["event_date_ms"],
            "event_type": row["event_type"],
            "resource_sid": row["resource_sid"],
            "resource_type": row["resource_type"],
            "resource_url": _absolute(request, row["resource_url"]),
            "sid": row["sid"],
            "source": row["source"],
            "source_ip_address": row["source_ip_address"],
            "workspace_sid": ws,
            "url": f"{request.base_url}/v1/Workspaces/{ws}/Events/{row['sid']}",
        }

    def _task_json(
        self,
        request: Request,
        row: sqlite3.Row,
        names: _Names,
        now: int,
        with_attributes: bool,
    ) -> dict[str, Any]:
        ws = row["workspace_sid"]
        workspace = f"{request.base_url}/v1/Workspaces/{ws}"
        url = f"{workspace}/Tasks/{row['sid']}"
        queue_sid, workflow_sid = row["task_queue_sid"], row["workflow_sid"]
        links = {}
        if queue_sid:
            links["task_queue"] = f"{workspace}/TaskQueues/{queue_sid}"
        if workflow_sid:
            links["workflow"] = f"{workspace}/Workflows/{workflow_sid}"
        links["workspace"] = workspace
        links["reservations"] = f"{url}/Reservations"
        ignore_capacity = row["ignore_capacity"]
        return {
            "account_sid": self.credentials.account_sid,
            "age": max(0, (now - row["date_created"]) // US),
            "assignment_status": row["assignment_status"],
            "attributes": row["attributes"] if with_attributes else None,
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "task_queue_entered_date": _date(row["task_queue_entered_date"]),
            "virtual_start_time": _date(row["virtual_start_time"]),
            "priority": row["priority"],
            "reason": row["reason"],
            "sid": row["sid"],
            "task_queue_sid": queue_sid,
            "task_channel_sid": row["task_channel_sid"],
            "task_channel_unique_name": names.channels.get(row["task_channel_sid"]),
            "timeout": row["timeout"],
            "url": url,
            "workflow_sid": workflow_sid,
            "workspace_sid": ws,
            "workflow_friendly_name": names.workflows.get(workflow_sid),
            "task_queue_friendly_name": names.queues.get(queue_sid),
            "ignore_capacity": None if ignore_capacity is None else bool(ignore_capacity),
            "routing_target": row["routing_target"],
            "addons": row["addons"],
            "links": links,
        }


@dataclass(frozen=True, slots=True)
class _Names:
    queues: dict[str, str]
    workflows: dict[str, str]
    channels: dict[str, str]


def _names(conn: sqlite3.Connection, workspace_sid: str) -> _Names:
    """The friendly names a task shows for its queue, workflow and channel."""
    ws = workspace_sid
    return _Names(
        queues={r["sid"]: r["friendly_name"] for r in store.fetch_task_queues(conn, ws)},
        workflows={r["sid"]: r["friendly_name"] for r in store.fetch_workflows(conn, ws)},
        channels={r["sid"]: r["unique_name"] for r in store.fetch_task_channels(conn, ws)},
    )


def _paging(request: Request, prefix: str) -> tuple[int, int, str | None]:
    page_size = rules.DEFAULT_PAGE_SIZE
    if (value := request.first("PageSize")) is not None:
        page_size = rules.validate_page_size(value)
    page = 0
    if (value := request.first("Page")) is not None:
        page = rules.parse_int(value, param="Page")
        if page < 0:
            raise InvalidParameter("Page must be 0 or more.", param="Page")
    token = request.first("PageToken")
    if token is None:
        if page > 0:
            raise InvalidParameter("PageToken is required for paging.", param="PageToken")
        return page_size, page, None
    return page_size, page, rules.validate_page_token(token, prefix)


def _meta(
    request: Request,
    key: str,
    echoed: Iterable[str],
    page_size: int,
    page: int,
    token: str | None,
    items: list,
    has_next: bool,
    has_previous: bool,
) -> dict[str, Any]:
    wanted = set(echoed)
    filters = [(k, v) for k, v in request.query if k in wanted and v.strip()]
    base = request.base_url + request.path

    def url(page_number: int, page_token: str | None) -> str:
        params = [*filters, ("PageSize", str(page_size)), ("Page", str(page_number))]
        if page_token:
            params.append(("PageToken", page_token))
        return f"{base}?{urlencode(params, quote_via=quote, safe='')}"

    return {
        "first_page_url": url(0, None),
        "key": key,
        "next_page_url": url(page + 1, "PA" + items[-1]["sid"]) if has_next and items else None,
        "page": page,
        "page_size": page_size,
        "previous_page_url": (
            url(max(page - 1, 0), "PB" + items[0]["sid"]) if has_previous and items else None
        ),
        "url": url(page, token),
    }


def _error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(status, json.dumps(body).encode("utf-8"), [("Content-Type", JSON_TYPE)])


def _date(value: int | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value // US, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _absolute(request: Request, url: str | None) -> str | None:
    """A stored URL: paths under ``/v1`` get the request's scheme and host."""
    if url is None or not url.startswith("/"):
        return url
    return f"{request.base_url}/v1{url}"


def _decoded_path(environ: Mapping[str, Any]) -> str:
    raw = str(environ.get("PATH_INFO", "") or "/")
    # PEP 3333: PATH_INFO holds the URL-decoded bytes as latin-1 characters.
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")


def _query(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = str(environ.get("QUERY_STRING", "") or "")
    raw = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    return parse_qsl(raw, keep_blank_values=True)


def _base_url(environ: Mapping[str, Any]) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = str(environ.get("SERVER_PORT", ""))
        if port and port != {"http": "80", "https": "443"}.get(scheme):
            host = f"{host}:{port}"
    return f"{scheme}://{host}"
