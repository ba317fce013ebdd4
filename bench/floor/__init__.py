"""The floor: the least a Django page can do to show the same TaskRouter data.

Not part of Taskdeck. ``make bench`` serves it under gunicorn exactly like the dashboard
(same worker class, workers and threads) and measures it beside the dashboard in the same
run; the dashboard's ratios to it (b/f) are what the speed targets are written against.

Two function views, no middleware, no templates, no database:

* the task table: the same ListTask call the dashboard makes (``requests``, one Session,
  basic auth), the JSON parsed, the dashboard's default columns rendered with one
  f-string per row, every value escaped;
* one task: the same Fetch call, every field, the attributes pretty-printed, the ETag, and
  one small form carrying a signed hidden token (what a CSRF token or a signed version
  token costs), so the comparison with the dashboard's task page is fair.

The views read only ``os.environ`` (see `Upstream.from_environ`), so the bench can point
a floor at any sandbox, and the tests can call them in-process.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from html import escape
from typing import Any

import requests
from django.http import HttpRequest, HttpResponse
from django.urls import path

# The dashboard's default columns, in its order (tasks_app.tables.TaskTable, less the
# row's actions): label, and the ListTask field shown.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Task", "sid"),
    ("Status", "assignment_status"),
    ("Priority", "priority"),
    ("Time", "task_queue_entered_date"),
    ("Agent", ""),  # the dashboard's comes from its index; the floor has none
    ("Queue", "task_queue_friendly_name"),
    ("Workflow", "workflow_friendly_name"),
    ("Created", "date_created"),
    ("Start", "virtual_start_time"),
    ("Reason", "reason"),
)
# Where a row's human title comes from, as the dashboard's default title attributes.
_TITLE_PATHS = (("customer", "name"), ("name",), ("from",))


def _title(attributes: Any) -> str:
    """The first title attribute present (the dashboard parses each row's JSON too)."""
    try:
        parsed = json.loads(attributes or "{}")
    except ValueError:
        return ""
    for keys in _TITLE_PATHS:
        value: Any = parsed
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return ""


# The dashboard's sort names -> TaskRouter's Ordering fields.
_ORDERING = {"priority": "Priority", "created": "DateCreated", "start": "VirtualStartTime"}
# The same connect/read timeouts as the dashboard's client.
_TIMEOUT = (3.05, 10.0)


@dataclass(frozen=True)
class Upstream:
    """Where the floor reads from: a TaskRouter base URL, credentials, one workspace."""

    base_url: str
    workspace_sid: str
    auth: tuple[str, str]
    secret: bytes

    @classmethod
    def from_environ(cls) -> Upstream:
        return cls(
            base_url=os.environ["FLOOR_TASKROUTER_URL"].rstrip("/"),
            workspace_sid=os.environ["FLOOR_WORKSPACE_SID"],
            auth=(os.environ["FLOOR_ACCOUNT_SID"], os.environ["FLOOR_AUTH_TOKEN"]),
            secret=os.environ["FLOOR_SECRET"].encode(),
        )

    @functools.cached_property
    def session(self) -> requests.Session:
        # One Session for the process: keep-alive to TaskRouter, as the dashboard's client.
        session = requests.Session()
        session.auth = self.auth
        session.headers.update({"Accept": "application/json"})
        return session

    def tasks_url(self, sid: str = "") -> str:
        url = f"{self.base_url}/v1/Workspaces/{self.workspace_sid}/Tasks"
        return f"{url}/{sid}" if sid else url


@functools.cache
def upstream() -> Upstream:
    return Upstream.from_environ()


def list_params(query: Any) -> list[tuple[str, str]]:
    """ListTask's parameters for the dashboard's ``status``, ``sort`` and ``size`` query
    parameters, in the order the dashboard's service module sends them."""
    params = []
    for chunk in query.getlist("status"):
        params += [("AssignmentStatus", s) for s in chunk.split(",") if s]
    orderings = []
    for alias in (query.get("sort") or "").split(","):
        name = alias.lstrip("-")
        if name in _ORDERING:
            orderings.append(f"{_ORDERING[name]}:{'desc' if alias.startswith('-') else 'asc'}")
    if orderings:
        params.append(("Ordering", ",".join(orderings)))
    params.append(("PageSize", query.get("size") or "50"))
    return params


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body>{body}</body></html>"
    )


def _upstream_failed(response: requests.Response) -> HttpResponse:
    return HttpResponse(
        _page("TaskRouter failed", f"<p>TaskRouter answered {response.status_code}</p>"),
        status=502,
    )


def task_table(request: HttpRequest) -> HttpResponse:
    source = upstream()
    response = source.session.get(
        source.tasks_url(), params=list_params(request.GET), timeout=_TIMEOUT
    )
    if response.status_code != 200:
        return _upstream_failed(response)
    tasks = response.json()["tasks"]
    e = _text
    rows = [
        f'<tr id="row-{e(t["sid"])}"><th scope="row"><a href="{e(t["sid"])}/">'
        f"{e(_title(t.get('attributes')))} {e(t['sid'])}</a></th>"
        f"<td>{e(t['assignment_status'])}</td><td>{e(t['priority'])}</td>"
        f"<td>{e(t['task_queue_entered_date'])}</td><td></td>"
        f"<td>{e(t['task_queue_friendly_name'])}</td>"
        f"<td>{e(t['workflow_friendly_name'])}</td>"
        f"<td>{e(t['date_created'])}</td><td>{e(t['virtual_start_time'])}</td>"
        f"<td>{e(t['reason'])}</td></tr>"
        for t in tasks
    ]
    header = "".join(f'<th scope="col">{label}</th>' for label, _field in COLUMNS)
    body = (
        f"<h1>Tasks</h1><table><thead><tr>{header}</tr></thead><tbody>"
        + "\n".join(rows)
        + "</tbody></table>"
    )
    return HttpResponse(_page("Tasks", body))


def version_token(secret: bytes, sid: str, etag: str) -> str:
    """The form's hidden token: the version shown, signed, as a CSRF token or a signed
    version token costs."""
    mac = hmac.new(secret, f"{sid}|{etag}".encode(), hashlib.sha256).hexdigest()
    return f"{etag}:{mac}"


def task_page(request: HttpRequest, sid: str) -> HttpResponse:
    source = upstream()
    response = source.session.get(source.tasks_url(sid), timeout=_TIMEOUT)
    if response.status_code != 200:
        return _upstream_failed(response)
    task = response.json()
    etag = response.headers.get("ETag", "")
    try:
        attributes = json.dumps(
            json.loads(task.get("attributes") or "{}"), ensure_ascii=False, indent=2
        )
    except ValueError:  # TaskRouter's attributes are a string; show a broken one as it is
        attributes = task.get("attributes") or ""
    facts = "".join(
        f"<dt>{_text(name)}</dt><dd>{_text(value)}</dd>"
        for name, value in task.items()
        if name != "attributes"
    )
    token = version_token(source.secret, task["sid"], etag)
    body = (
        f"<h1>{_text(task['sid'])}</h1><dl>{facts}<dt>ETag</dt><dd>{_text(etag)}</dd></dl>"
        f"<pre>{_text(attributes)}</pre>"
        f'<form method="post"><input type="hidden" name="token" value="{_text(token)}">'
        f'<label>Priority <input name="priority" type="number" value="{_text(task["priority"])}">'
        '</label><button type="submit">Save priority</button></form>'
    )
    return HttpResponse(_page(_text(task["sid"]), body))


urlpatterns = [
    path("tasks/", task_table),
    path("tasks/<str:sid>/", task_page),
]
