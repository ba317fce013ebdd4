"""The HTTP surface of the workforce and of statistics: Activities, Workers, Worker
Channels, Reservations (of a task and of a worker) and every statistics resource.

    GET, POST       /v1/Workspaces/{WS}/Activities          GET, POST, DELETE .../{WA}
    GET, POST       /v1/Workspaces/{WS}/Workers             GET, POST, DELETE .../{WK}
    GET             /v1/Workspaces/{WS}/Workers/{WK}/Channels   GET, POST .../{WC}
    GET             /v1/Workspaces/{WS}/Workers/{WK}/Reservations   GET, POST .../{WR}
    GET             /v1/Workspaces/{WS}/Tasks/{WT}/Reservations     GET, POST .../{WR}
    the statistics paths of :mod:`.statistics`

:class:`~.app.SandboxApp` hands these paths here; answers use its envelopes (``_ok``,
``_small_list``, ``_meta``) so lists page, echo their filters and carry the rate-limit
headers as every other list does. Writes run in one write transaction each, through
:mod:`.workforce` and :mod:`.assignment`, so a request's consequences (a worker made
available takes a task; an accepted reservation rescinds the others) are in its answer.

JSON: each resource has exactly its schema's properties, in the key order of the spec's
fetch example, with absolute ``url`` and ``links`` ([OAI]).

DECISIONS where Twilio documents nothing (the rules themselves are in
:mod:`tasks_app.taskrouter.rules` and :mod:`.workforce`):
    * Worker and Reservation ``ETag``: the version as a bare integer, like a Task's; lists
      carry a digest of their page. Activities and Worker Channels have no version.
    * ``Ordering`` of Workers: ``DateCreated`` (the default, ascending) or
      ``DateStatusChanged``, each ``:asc`` or ``:desc``; anything else is a 400.
    * ``FriendlyName`` filters (Workers, Activities) match the whole name, ignoring case;
      ``ActivityName`` and ``TaskQueueName`` match exactly. A name naming nothing gives an
      empty page.
    * ``Available`` (list filters) is true for ``true``, ``1`` or ``yes`` and false for
      anything else, as the spec says.
    * Worker lists page by keyset like Task lists: ``PA<WK...>``/``PB<WK...>`` name the
      worker at a page's edge; a token naming a deleted worker is refused (400).
    * Reservation updates: ``Instruction`` ``accept`` or ``reject`` act like the matching
      ReservationStatus; ``conference`` and ``dequeue`` accept (the sandbox has no calls to
      place, so every step "succeeds"); ``call`` and ``redirect`` accept only with
      ``CallAccept``/``RedirectAccept`` true; ``supervise`` changes nothing. An
      ``Instruction`` that contradicts ``ReservationStatus`` is a 400. ``PostWorkActivitySid``
      (or ``DequeuePostWorkActivitySid``) moves the worker when the reservation completes.
      An update asking for nothing returns the reservation unchanged.
    * A reservation is found only under its own task or worker: another's is a 404.
    * ``worker_name`` is the worker's current name (the one it had when reserved, if it
      was deleted since).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tasks_app.taskrouter import limits, rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import parse_expression

from . import assignment, statistics, store, workforce
from .ledger import Context
from .problems import ApiError, bad_request, not_found

if TYPE_CHECKING:
    from .app import Request, Response, SandboxApp

__all__ = ["handles", "route"]

STATISTICS = ("Statistics", "RealTimeStatistics", "CumulativeStatistics")
WORKER_ORDERING = {"DateCreated": "date_created", "DateStatusChanged": "date_status_changed"}
ACTIVITY_FILTERS = ["FriendlyName", "Available"]
WORKER_FILTERS = [
    "ActivityName",
    "ActivitySid",
    "Available",
    "FriendlyName",
    "TargetWorkersExpression",
    "TaskQueueName",
    "TaskQueueSid",
    "Ordering",
]
INSTRUCTIONS = ("accept", "reject", "conference", "dequeue", "call", "redirect", "supervise")


def handles(collection: str | None, sid: str | None, sub: str | None) -> bool:
    """Whether a path under a workspace is this module's."""
    if collection in ("Activities", "Workers") or collection in STATISTICS:
        return True
    if collection == "TaskQueues" and (sid in ("Statistics", "RealTimeStatistics") or sub):
        return True
    return collection in ("Tasks", "Workflows") and sub is not None


def route(
    app: SandboxApp,
    request: Request,
    ws: str,
    collection: str,
    sid: str | None,
    sub: str | None,
    subsid: str | None,
    resource: str,
) -> Response:
    api = _Api(app, request, ws, resource)
    if collection in STATISTICS:
        if sid is not None:
            raise not_found(resource)
        return api.workspace_statistics(collection)
    if collection == "TaskQueues":
        if sub is None:
            return api.task_queues_statistics(sid or "")
        if subsid is not None or sub not in STATISTICS or not rules.is_sid(sid, "WQ"):
            raise not_found(resource)
        return api.task_queue_statistics(sid or "", sub)
    if collection == "Workflows":
        if subsid is not None or sub not in STATISTICS or not rules.is_sid(sid, "WW"):
            raise not_found(resource)
        return api.workflow_statistics(sid or "", sub)
    if collection == "Tasks":
        if sub != "Reservations" or not rules.is_sid(sid, "WT"):
            raise not_found(resource)
        return api.reservations(task_sid=sid, reservation_sid=subsid)
    if collection == "Activities":
        if sub is not None:
            raise not_found(resource)
        return api.activities(sid)
    # Workers
    if sid in STATISTICS and sub is None:
        return api.workers_statistics(sid or "")
    if sid is not None and not rules.is_sid(sid, "WK"):
        raise not_found(resource)
    if sub is None:
        return api.workers(sid)
    if sub == "Statistics" and subsid is None:
        return api.worker_statistics(sid or "")
    if sub == "Channels":
        return api.channels(sid or "", subsid)
    if sub == "Reservations":
        return api.reservations(worker_sid=sid, reservation_sid=subsid)
    raise not_found(resource)


class _Api:
    def __init__(self, app: SandboxApp, request: Request, ws: str, resource: str) -> None:
        self.app = app
        self.request = request
        self.ws = ws
        self.resource = resource
        self.base = f"{request.base_url}/v1/Workspaces/{ws}"

    # Plumbing -----------------------------------------------------------------------------

    def allow(self, *methods: str) -> None:
        if self.request.method not in methods:
            raise ApiError(405, 20004, "Method not allowed")

    def key(self) -> str:
        names = [name for name, value in self.request.query if value.strip()]
        return limits.resource_key(self.request.method, self.request.path, names)

    def ok(self, payload: Any, *, status: int = 200, etag: str | None = None) -> Response:
        return self.app._ok(self.request, self.key(), payload, status=status, etag=etag)

    def now_us(self) -> int:
        return store.to_us(self.app.now())

    def require_workspace(self, conn: Any) -> None:
        if store.fetch_workspace(conn, self.ws) is None:
            raise not_found(self.resource)

    def write(self, operation: Callable[[Context], Any]) -> Any:
        """Run ``operation`` in one write transaction (and its consequences with it)."""
        with self.app.store.write() as conn:
            self.require_workspace(conn)
            ctx = Context(conn, self.now_us(), actor=self.app._actor(self.request))
            try:
                return operation(ctx)
            except LookupError:
                raise not_found(self.resource) from None

    # Activities -----------------------------------------------------------------------------

    def activities(self, sid: str | None) -> Response:
        request = self.request
        if sid is None:
            self.allow("GET", "POST")
            if request.method == "POST":
                form = request.form
                row = self.write(
                    lambda ctx: workforce.create_activity(
                        ctx,
                        self.ws,
                        friendly_name=form.get("FriendlyName", ""),
                        available=rules.is_truthy(form.get("Available", "false")),
                    )
                )
                return self.ok(self.activity_json(row), status=201)
            sql = "SELECT * FROM activities WHERE workspace_sid = ?"
            params: list[Any] = [self.ws]
            if (name := request.first("FriendlyName")) is not None:
                sql += " AND casefold(friendly_name) = casefold(?)"
                params.append(name)
            if (available := request.first("Available")) is not None:
                sql += " AND available = ?"
                params.append(int(rules.is_truthy(available)))
            with self.app.store.read() as conn:
                self.require_workspace(conn)
                rows = conn.execute(sql + " ORDER BY date_created, sid", params).fetchall()
            return self._list("activities", "WA", rows, self.activity_json, ACTIVITY_FILTERS)
        if not rules.is_sid(sid, "WA"):
            raise not_found(self.resource)
        self.allow("GET", "POST", "DELETE")
        if request.method == "POST":
            form = request.form
            row = self.write(
                lambda ctx: workforce.update_activity(
                    ctx, self.ws, sid, friendly_name=form.get("FriendlyName")
                )
            )
            return self.ok(self.activity_json(row))
        if request.method == "DELETE":
            self.write(lambda ctx: workforce.delete_activity(ctx, self.ws, sid))
            return self.ok(None, status=204)
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            row = conn.execute(
                "SELECT * FROM activities WHERE sid = ? AND workspace_sid = ?", (sid, self.ws)
            ).fetchone()
        if row is None:
            raise not_found(self.resource)
        return self.ok(self.activity_json(row))

    def _list(self, key: str, prefix: str, rows: list, render: Callable, echoed: list[str]):
        """A small list (read whole, paged in Python); ``render(row)`` is one item."""
        return self.app._small_list(
            self.request,
            self.key().rsplit("-", 1)[0],
            key,
            prefix,
            rows,
            lambda _request, row: render(row),
            echoed,
        )

    def activity_json(self, row: Any) -> dict[str, Any]:
        url = f"{self.base}/Activities/{row['sid']}"
        return {
            "account_sid": self.app.credentials.account_sid,
            "available": bool(row["available"]),
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "friendly_name": row["friendly_name"],
            "sid": row["sid"],
            "url": url,
            "workspace_sid": self.ws,
            "links": {"workspace": self.base},
        }

    # Workers -----------------------------------------------------------------------------

    def workers(self, sid: str | None) -> Response:
        request = self.request
        if sid is None:
            self.allow("GET", "POST")
            if request.method == "POST":
                form = request.form
                if "FriendlyName" not in form:
                    raise InvalidParameter("FriendlyName is required.", param="FriendlyName")
                row = self.write(
                    lambda ctx: workforce.create_worker(
                        ctx,
                        self.ws,
                        friendly_name=form["FriendlyName"],
                        attributes=form.get("Attributes"),
                        activity_sid=form.get("ActivitySid") or None,
                    )
                )
                return self.ok(self.worker_json(row, True), status=201, etag=str(row["version"]))
            return self.list_workers()
        self.allow("GET", "POST", "DELETE")
        if_match = request.header("If-Match")
        if request.method == "POST":
            form = request.form
            reject = form.get("RejectPendingReservations")
            row = self.write(
                lambda ctx: workforce.update_worker(
                    ctx,
                    self.ws,
                    sid,
                    friendly_name=form.get("FriendlyName"),
                    attributes=form.get("Attributes"),
                    activity_sid=form.get("ActivitySid") or None,
                    reject_pending=(
                        rules.parse_bool(reject, param="RejectPendingReservations")
                        if reject is not None
                        else False
                    ),
                    if_match=if_match,
                )
            )
            return self.ok(self.worker_json(row, True), etag=str(row["version"]))
        if request.method == "DELETE":
            self.write(lambda ctx: workforce.delete_worker(ctx, self.ws, sid, if_match=if_match))
            return self.ok(None, status=204)
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            row = _worker_row(conn, self.ws, sid)
        if row is None:
            raise not_found(self.resource)
        return self.ok(self.worker_json(row, True), etag=str(row["version"]))

    def list_workers(self) -> Response:
        request = self.request
        page_size, page, token = _paging(request, "WK")
        ordering = request.first("Ordering")
        column, descending = WORKER_ORDERING["DateCreated"], False
        if ordering is not None:
            column, descending = _worker_ordering(ordering)
        where, params = self._worker_filters()
        expression = request.first("TargetWorkersExpression")
        matches = (
            parse_expression(expression, param="TargetWorkersExpression").matches
            if expression
            else None
        )
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            anchor = None
            if token is not None:
                anchor = conn.execute(
                    f"SELECT {column}, sid FROM workers WHERE sid = ? AND workspace_sid = ?",  # noqa: S608
                    (token[2:], self.ws),
                ).fetchone()
                if anchor is None:
                    raise InvalidParameter(
                        "PageToken is not valid for this list.", param="PageToken"
                    )
            backwards = token is not None and token.startswith("PB")
            rows = _take_workers(
                conn, where, params, column, descending != backwards, anchor,
                page_size + 1, matches,
            )  # fmt: skip
            more = len(rows) > page_size
            rows = rows[:page_size]
            if backwards:
                rows.reverse()
            items = [self.worker_json(r, self.app.list_attributes) for r in rows]
        has_next = more if not backwards else True
        has_previous = (backwards and more) or (token is not None and not backwards)
        digest = _digest(rows, more)
        payload = {
            "workers": items,
            "meta": _meta(request, "workers", WORKER_FILTERS, page_size, page, token, items,
                          has_next, has_previous and bool(items)),
        }  # fmt: skip
        return self.ok(payload, etag=digest)

    def _worker_filters(self) -> tuple[str, list[Any]]:
        request = self.request
        where = "w.workspace_sid = ?"
        params: list[Any] = [self.ws]
        if (value := request.first("ActivitySid")) is not None:
            where += " AND w.activity_sid = ?"
            params.append(rules.validate_sid(value, "WA", param="ActivitySid"))
        if (value := request.first("ActivityName")) is not None:
            where += " AND a.friendly_name = ?"
            params.append(value)
        if (value := request.first("Available")) is not None:
            where += " AND w.available = ?"
            params.append(int(rules.is_truthy(value)))
        if (value := request.first("FriendlyName")) is not None:
            where += " AND casefold(w.friendly_name) = casefold(?)"
            params.append(value)
        if (value := request.first("TaskQueueSid")) is not None:
            where += " AND w.sid IN (SELECT worker_sid FROM queue_members WHERE task_queue_sid = ?)"
            params.append(rules.validate_sid(value, "WQ", param="TaskQueueSid"))
        if (value := request.first("TaskQueueName")) is not None:
            where += (
                " AND w.sid IN (SELECT m.worker_sid FROM queue_members m JOIN task_queues q ON "
                "q.sid = m.task_queue_sid WHERE q.workspace_sid = ? AND q.friendly_name = ?)"
            )
            params += [self.ws, value]
        return where, params

    def worker_json(self, row: Any, with_attributes: bool) -> dict[str, Any]:
        url = f"{self.base}/Workers/{row['sid']}"
        return {
            "account_sid": self.app.credentials.account_sid,
            "activity_name": row["activity_name"],
            "activity_sid": row["activity_sid"],
            "attributes": row["attributes"] if with_attributes else None,
            "available": bool(row["available"]),
            "date_created": _date(row["date_created"]),
            "date_status_changed": _date(row["date_status_changed"]),
            "date_updated": _date(row["date_updated"]),
            "friendly_name": row["friendly_name"],
            "sid": row["sid"],
            "url": url,
            "workspace_sid": self.ws,
            "links": {
                "channels": f"{url}/Channels",
                "activity": f"{self.base}/Activities/{row['activity_sid']}",
                "workspace": self.base,
                "statistics": f"{self.base}/Workers/Statistics",
                "real_time_statistics": f"{self.base}/Workers/RealTimeStatistics",
                "cumulative_statistics": f"{self.base}/Workers/CumulativeStatistics",
                "worker_statistics": f"{url}/Statistics",
                "worker_channels": f"{url}/Channels",
                "reservations": f"{url}/Reservations",
            },
        }

    # Worker channels -------------------------------------------------------------------

    def channels(self, worker_sid: str, reference: str | None) -> Response:
        request = self.request
        if reference is None:
            self.allow("GET")
            with self.app.store.read() as conn:
                self.require_workspace(conn)
                if _worker_row(conn, self.ws, worker_sid) is None:
                    raise not_found(self.resource)
                rows = conn.execute(
                    "SELECT wc.*, tc.unique_name AS task_channel_unique_name FROM "
                    "worker_channels wc JOIN task_channels tc ON tc.sid = wc.task_channel_sid "
                    "WHERE wc.worker_sid = ? ORDER BY tc.date_created, wc.sid",
                    (worker_sid,),
                ).fetchall()
            return self._list("channels", "WC", rows, self.channel_json, [])
        self.allow("GET", "POST")
        if request.method == "POST":
            form = request.form
            capacity = form.get("Capacity")
            available = form.get("Available")
            row = self.write(
                lambda ctx: workforce.update_channel(
                    ctx,
                    self.ws,
                    worker_sid,
                    reference,
                    capacity=rules.validate_capacity(capacity) if capacity is not None else None,
                    available=(
                        rules.parse_bool(available, param="Available")
                        if available is not None
                        else None
                    ),
                )
            )
            return self.ok(self.channel_json(row))
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            ctx = Context(conn, self.now_us())
            if workforce.worker(ctx, self.ws, worker_sid) is None:
                raise not_found(self.resource)
            row = workforce.channel(ctx, self.ws, worker_sid, reference)
        if row is None:
            raise not_found(self.resource)
        return self.ok(self.channel_json(row))

    def channel_json(self, row: Any) -> dict[str, Any]:
        url = f"{self.base}/Workers/{row['worker_sid']}/Channels/{row['sid']}"
        return {
            "account_sid": self.app.credentials.account_sid,
            "assigned_tasks": row["assigned"],
            "available": bool(row["available"]),
            "available_capacity_percentage": rules.available_capacity_percentage(
                row["configured_capacity"], row["held"]
            ),
            "configured_capacity": row["configured_capacity"],
            "date_created": _date(row["date_created"]),
            "date_updated": _date(row["date_updated"]),
            "sid": row["sid"],
            "task_channel_sid": row["task_channel_sid"],
            "task_channel_unique_name": row["task_channel_unique_name"],
            "url": url,
            "worker_sid": row["worker_sid"],
            "workspace_sid": self.ws,
        }

    # Reservations ------------------------------------------------------------------------

    def reservations(
        self,
        *,
        task_sid: str | None = None,
        worker_sid: str | None = None,
        reservation_sid: str | None = None,
    ) -> Response:
        request = self.request
        owner = ("task_sid", task_sid) if task_sid else ("worker_sid", worker_sid)
        if reservation_sid is None:
            self.allow("GET")
            sql = f"SELECT * FROM reservations WHERE {owner[0]} = ?"  # noqa: S608 - fixed names
            params: list[Any] = [owner[1]]
            echoed = ["ReservationStatus"]
            if (value := request.first("ReservationStatus")) is not None:
                sql += " AND reservation_status = ?"
                params.append(rules.validate_reservation_status(value))
            if task_sid and (value := request.first("WorkerSid")) is not None:
                sql += " AND worker_sid = ?"
                params.append(rules.validate_sid(value, "WK", param="WorkerSid"))
                echoed.append("WorkerSid")
            with self.app.store.read() as conn:
                self.require_workspace(conn)
                self._require_owner(conn, task_sid, worker_sid)
                rows = conn.execute(sql + " ORDER BY date_created, rowid", params).fetchall()
                names = _worker_names(conn, rows)
            render = self._reservation_renderer(names, by_task=bool(task_sid))
            return self._list("reservations", "WR", rows, render, echoed)
        if not rules.is_sid(reservation_sid, "WR"):
            raise not_found(self.resource)
        self.allow("GET", "POST")
        if request.method == "POST":
            row = self.write(lambda ctx: self._update_reservation(ctx, owner, reservation_sid))
        else:
            with self.app.store.read() as conn:
                self.require_workspace(conn)
                row = _reservation_row(conn, reservation_sid, owner)
                if row is None:
                    raise not_found(self.resource)
        with self.app.store.read() as conn:
            names = _worker_names(conn, [row])
        render = self._reservation_renderer(names, by_task=bool(task_sid))
        return self.ok(render(row), etag=str(row["version"]))

    def _require_owner(self, conn: Any, task_sid: str | None, worker_sid: str | None) -> None:
        if task_sid and store.fetch_task(conn, self.ws, task_sid) is None:
            raise not_found(self.resource)
        if worker_sid and _worker_row(conn, self.ws, worker_sid) is None:
            raise not_found(self.resource)

    def _update_reservation(
        self, ctx: Context, owner: tuple[str, str | None], reservation_sid: str
    ) -> dict[str, Any]:
        from .engine import check_if_match

        form = self.request.form
        status = None
        if (value := form.get("ReservationStatus")) is not None:
            status = rules.validate_reservation_status(value)
        instruction = (form.get("Instruction") or "").strip().lower() or None
        if instruction is not None and instruction not in INSTRUCTIONS:
            raise InvalidParameter(
                f"Instruction must be one of {', '.join(INSTRUCTIONS)}.", param="Instruction"
            )
        implied = _instruction_status(instruction, form)
        if status is not None and implied is not None and implied != status:
            raise InvalidParameter(
                f"Instruction {instruction} contradicts ReservationStatus {status}.",
                param="Instruction",
            )
        status = status or implied
        activity = None
        if (value := form.get("WorkerActivitySid")) is not None:
            activity = workforce._activity_param(ctx, self.ws, value, "WorkerActivitySid")
        post_work = form.get("PostWorkActivitySid") or form.get("DequeuePostWorkActivitySid")
        post_activity = None
        if post_work:
            post_activity = workforce._activity_param(
                ctx, self.ws, post_work, "PostWorkActivitySid"
            )
        row = _reservation_row(ctx.conn, reservation_sid, owner)
        if row is None:
            raise not_found(self.resource)
        check_if_match(self.request.header("If-Match"), row, "reservation")
        if status is not None:
            refusal = rules.reservation_refusal_message(
                reservation_sid=reservation_sid,
                workspace_sid=self.ws,
                account_sid=self.app.credentials.account_sid,
                current=row["reservation_status"],
                target=status,
            )
            if refusal:
                raise bad_request(refusal)
        if post_activity is not None:
            ctx.conn.execute(
                "UPDATE reservations SET post_work_activity_sid = ? WHERE sid = ?",
                (post_activity["sid"], reservation_sid),
            )
        if status == rules.RESERVATION_ACCEPTED:
            assignment.accept(ctx, reservation_sid)
        elif status == rules.RESERVATION_REJECTED:
            assignment.reject(
                ctx, reservation_sid, activity_sid=activity["sid"] if activity else None
            )
        elif status == rules.RESERVATION_WRAPPING:
            assignment.wrap(ctx, reservation_sid)
        elif status == rules.RESERVATION_COMPLETED:
            assignment.complete(ctx, reservation_sid)
        found = _reservation_row(ctx.conn, reservation_sid, owner)
        assert found is not None
        return found

    def _reservation_renderer(self, names: dict[str, str], *, by_task: bool) -> Callable:
        def render(row: Any) -> dict[str, Any]:
            task_url = f"{self.base}/Tasks/{row['task_sid']}"
            worker_url = f"{self.base}/Workers/{row['worker_sid']}"
            url = f"{task_url if by_task else worker_url}/Reservations/{row['sid']}"
            return {
                "account_sid": self.app.credentials.account_sid,
                "date_created": _date(row["date_created"]),
                "date_updated": _date(row["date_updated"]),
                "links": {"task": task_url, "worker": worker_url, "workspace": self.base},
                "reservation_status": row["reservation_status"],
                "sid": row["sid"],
                "task_sid": row["task_sid"],
                "url": url,
                "worker_name": names.get(row["worker_sid"], row["worker_name"]),
                "worker_sid": row["worker_sid"],
                "workspace_sid": self.ws,
            }

        return render

    # Statistics --------------------------------------------------------------------------

    def scope(self, conn: Any) -> statistics.Scope:
        return statistics.Scope(
            conn=conn,
            workspace_sid=self.ws,
            account_sid=self.app.credentials.account_sid,
            now=self.app.now(),
            url=self.request.base_url + self.request.path,
        )

    def query(self, conn: Any, *, split: bool = True) -> statistics.Query:
        return statistics.parse_query(
            conn, self.ws, self.request.first, self.app.now(), split=split
        )

    def workspace_statistics(self, name: str) -> Response:
        self.allow("GET")
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            scope = self.scope(conn)
            if name == "RealTimeStatistics":
                channel = statistics.channel_sid(conn, self.ws, self.request.first("TaskChannel"))
                payload = statistics.workspace_real_time(scope, channel)
            elif name == "CumulativeStatistics":
                payload = statistics.workspace_cumulative(scope, self.query(conn))
            else:
                payload = statistics.workspace_statistics(scope, self.query(conn))
        return self.ok(payload)

    def task_queues_statistics(self, name: str) -> Response:
        request = self.request
        if name == "RealTimeStatistics":
            self.allow("POST")
            content_type = str(request.environ.get("CONTENT_TYPE") or "")
            sids = statistics.bulk_queue_sids(request.form_pairs, request.body, content_type)
            with self.app.store.read() as conn:
                self.require_workspace(conn)
                channel = statistics.channel_sid(conn, self.ws, request.first("TaskChannel"))
                payload = statistics.task_queues_bulk_real_time(self.scope(conn), channel, sids)
            return self.ok(payload)
        self.allow("GET")
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            query = self.query(conn)
            figures = statistics.QueueFigures(self.scope(conn), query, query.channel)
            rows = store.fetch_task_queues(conn, self.ws, request.first("FriendlyName"))
            items = {r["sid"]: figures.list_item(r["sid"]) for r in rows}
        echoed = ["FriendlyName", "Minutes", "StartDate", "EndDate", "TaskChannel",
                  "SplitByWaitTime"]  # fmt: skip
        return self.app._small_list(
            request, "TaskQueueStatistics", "task_queues_statistics", "WQ", rows,
            lambda _request, row: items[row["sid"]], echoed,
        )  # fmt: skip

    def task_queue_statistics(self, queue_sid: str, name: str) -> Response:
        self.allow("GET")
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            if store.fetch_task_queue(conn, self.ws, queue_sid) is None:
                raise not_found(self.resource)
            scope = self.scope(conn)
            if name == "RealTimeStatistics":
                channel = statistics.channel_sid(conn, self.ws, self.request.first("TaskChannel"))
                payload = statistics.task_queue_real_time(scope, channel, queue_sid)
            elif name == "CumulativeStatistics":
                payload = statistics.task_queue_cumulative(scope, self.query(conn), queue_sid)
            else:
                payload = statistics.task_queue_statistics(scope, self.query(conn), queue_sid)
        return self.ok(payload)

    def workflow_statistics(self, workflow_sid: str, name: str) -> Response:
        self.allow("GET")
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            if store.fetch_workflow(conn, self.ws, workflow_sid) is None:
                raise not_found(self.resource)
            scope = self.scope(conn)
            if name == "RealTimeStatistics":
                channel = statistics.channel_sid(conn, self.ws, self.request.first("TaskChannel"))
                payload = statistics.workflow_real_time(scope, channel, workflow_sid)
            elif name == "CumulativeStatistics":
                payload = statistics.workflow_cumulative(scope, self.query(conn), workflow_sid)
            else:
                payload = statistics.workflow_statistics(scope, self.query(conn), workflow_sid)
        return self.ok(payload)

    def workers_statistics(self, name: str) -> Response:
        self.allow("GET")
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            scope = self.scope(conn)
            if name == "RealTimeStatistics":
                statistics.channel_sid(conn, self.ws, self.request.first("TaskChannel"))
                payload = statistics.workers_real_time(scope, None)
            elif name == "CumulativeStatistics":
                payload = statistics.workers_cumulative(scope, self.query(conn, split=False), None)
            else:
                selection = statistics.workers_selection(conn, self.ws, self.request.first)
                payload = statistics.workers_statistics(
                    scope, self.query(conn, split=False), selection
                )
        return self.ok(payload)

    def worker_statistics(self, worker_sid: str) -> Response:
        self.allow("GET")
        with self.app.store.read() as conn:
            self.require_workspace(conn)
            if _worker_row(conn, self.ws, worker_sid) is None:
                raise not_found(self.resource)
            payload = statistics.worker_statistics(
                self.scope(conn), self.query(conn, split=False), worker_sid
            )
        return self.ok(payload)


# --- Helpers ----------------------------------------------------------------------------------


def _date(value: int | None) -> str | None:
    return rules.format_datetime(store.from_us(value)) if value is not None else None


def _paging(request: Request, prefix: str) -> tuple[int, int, str | None]:
    from .app import _paging as paging

    return paging(request, prefix)


def _meta(request: Request, *args: Any) -> dict[str, Any]:
    from .app import _meta as meta

    return meta(request, *args)


def _worker_row(conn: Any, ws: str, sid: str) -> Any:
    return conn.execute(
        "SELECT w.*, a.friendly_name AS activity_name FROM workers w "
        "LEFT JOIN activities a ON a.sid = w.activity_sid WHERE w.sid = ? AND w.workspace_sid = ?",
        (sid, ws),
    ).fetchone()


def _reservation_row(conn: Any, sid: str, owner: tuple[str, str | None]) -> Any:
    row = conn.execute("SELECT * FROM reservations WHERE sid = ?", (sid,)).fetchone()
    if row is None or row[owner[0]] != owner[1]:
        return None
    return dict(row)


def _worker_names(conn: Any, rows: list) -> dict[str, str]:
    sids = sorted({r["worker_sid"] for r in rows})
    sql = "SELECT sid, friendly_name FROM workers WHERE sid IN ({marks})"
    return {row["sid"]: row["friendly_name"] for row in store.rows_in(conn, sql, sids)}


def _worker_ordering(text: str) -> tuple[str, bool]:
    attribute, _, direction = text.strip().partition(":")
    column = next((c for a, c in WORKER_ORDERING.items() if a.lower() == attribute.lower()), None)
    direction = (direction.strip().lower() or "asc") if column else ""
    if column is None or direction not in ("asc", "desc"):
        raise InvalidParameter(
            "Ordering must be DateCreated or DateStatusChanged, then :asc or :desc.",
            param="Ordering",
        )
    return column, direction == "desc"


def _take_workers(
    conn: Any,
    where: str,
    params: list[Any],
    column: str,
    descending: bool,
    anchor: Any,
    limit: int,
    matches: Callable[[Any], bool] | None,
) -> list[Any]:
    """Workers in (column, sid) order after ``anchor``; ``matches`` filters in Python."""
    sql = (
        "SELECT w.*, a.friendly_name AS activity_name FROM workers w "  # noqa: S608 - ours
        f"LEFT JOIN activities a ON a.sid = w.activity_sid WHERE {where}"
    )
    args = list(params)
    beyond = "<" if descending else ">"
    if anchor is not None:
        sql += f" AND (w.{column} {beyond} ? OR (w.{column} = ? AND w.sid {beyond} ?))"
        args += [anchor[0], anchor[0], anchor[1]]
    order = "DESC" if descending else "ASC"
    sql += f" ORDER BY w.{column} {order}, w.sid {order}"
    found = []
    for row in _rows(conn, sql, args):
        if matches is not None and not matches(_view(conn, row)):
            continue
        found.append(row)
        if len(found) >= limit:
            break
    return found


def _rows(conn: Any, sql: str, args: list[Any]) -> Iterator[Any]:
    cursor = conn.execute(sql, args)
    try:
        yield from cursor
    finally:
        cursor.close()


def _view(conn: Any, row: Any) -> dict[str, Any]:
    return assignment.view_of(Context(conn, 0), dict(row))


def _digest(rows: list, more: bool) -> str:
    text = ";".join(f"{r['sid']}:{r['version']}" for r in rows) + ("+" if more else "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _instruction_status(instruction: str | None, form: dict[str, str]) -> str | None:
    if instruction in ("accept", "conference", "dequeue"):
        return rules.RESERVATION_ACCEPTED
    if instruction == "reject":
        return rules.RESERVATION_REJECTED
    if instruction == "call" and rules.is_truthy(form.get("CallAccept", "false")):
        return rules.RESERVATION_ACCEPTED
    if instruction == "redirect" and rules.is_truthy(form.get("RedirectAccept", "false")):
        return rules.RESERVATION_ACCEPTED
    return None
