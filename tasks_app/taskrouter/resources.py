"""Typed TaskRouter resources, built once from the JSON at the edge.

Nothing past the service module handles raw dicts: a `Task` carries parsed attributes,
aware datetimes and the ETag it was read at. Builders are tolerant of what the spec marks
nullable, and strict about what Taskdeck cannot work without (a SID, a status).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import rules
from .errors import InvalidParameter, Unavailable


def _malformed(what: str) -> Unavailable:
    return Unavailable(f"TaskRouter sent a {what} Taskdeck could not read.")


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # Python 3.11 reads TaskRouter's "Z" itself
    except (TypeError, ValueError):
        raise _malformed("date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_object(value: Any) -> dict | None:
    """Attributes and addons arrive as JSON text; null when TaskRouter leaves them out."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _strict_object(text: str | None) -> tuple[dict | None, str | None]:
    """(the object, None) for strict JSON; ({}, why) for anything else; (None, None) when
    nothing was sent. Never raises, whatever a task holds."""
    if text is None:
        return None, None
    try:
        return rules.load_attributes(text, param="The JSON TaskRouter sent"), None
    except InvalidParameter as error:
        return {}, error.user_message


def _required(payload: Mapping[str, Any], key: str) -> Any:
    value = payload.get(key)
    if value in (None, ""):
        raise _malformed(f"record without {key}")
    return value


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


@dataclass(frozen=True, slots=True)
class Task:
    sid: str
    workspace_sid: str
    account_sid: str
    assignment_status: str
    priority: int
    age: int  # seconds, as TaskRouter computed it when answering
    timeout: int
    # The JSON text as TaskRouter sent it; None when it left attributes out of a list
    # result (see the spec's note). Parsed on first use: a table page rarely needs it.
    attributes_json: str | None
    addons_json: str | None
    reason: str | None
    date_created: datetime | None
    date_updated: datetime | None
    task_queue_entered_date: datetime | None
    virtual_start_time: datetime | None
    task_queue_sid: str | None
    task_queue_friendly_name: str | None
    task_channel_sid: str | None
    task_channel_unique_name: str | None
    workflow_sid: str | None
    workflow_friendly_name: str | None
    routing_target: str | None
    ignore_capacity: bool | None
    url: str | None
    etag: str | None = None  # the version this copy was read at (single-task answers)
    _parsed: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def attributes(self) -> dict | None:
        """The attributes as a dict; None when TaskRouter did not send them, and empty
        when what it sent is not strict JSON (see `attributes_problem`)."""
        if "attributes" not in self._parsed:
            self._parsed["attributes"], self._parsed["attributes_problem"] = _strict_object(
                self.attributes_json
            )
        return self._parsed["attributes"]

    @property
    def attributes_problem(self) -> str | None:
        """Why the attributes TaskRouter sent cannot be read (NaN, nesting deeper than
        Taskdeck reads, a lone surrogate, not JSON at all), or None. Pages then show the
        text as sent, with this note, instead of failing."""
        self.attributes  # noqa: B018 -- parsing fills in the problem
        return self._parsed["attributes_problem"]

    @property
    def addons(self) -> dict | None:
        if "addons" not in self._parsed:
            self._parsed["addons"] = _strict_object(self.addons_json)[0] or None
        return self._parsed["addons"]

    @classmethod
    def from_api(cls, payload: Mapping[str, Any], *, etag: str | None = None) -> Task:
        if not isinstance(payload, Mapping):
            raise _malformed("task")
        raw_attributes = payload.get("attributes")
        raw_addons = payload.get("addons")
        return cls(
            sid=_required(payload, "sid"),
            workspace_sid=payload.get("workspace_sid") or "",
            account_sid=payload.get("account_sid") or "",
            assignment_status=_required(payload, "assignment_status"),
            priority=_int(payload.get("priority")),
            age=_int(payload.get("age")),
            timeout=_int(payload.get("timeout")),
            attributes_json=raw_attributes if isinstance(raw_attributes, str) else None,
            addons_json=raw_addons if isinstance(raw_addons, str) else None,
            reason=payload.get("reason"),
            date_created=_date(payload.get("date_created")),
            date_updated=_date(payload.get("date_updated")),
            task_queue_entered_date=_date(payload.get("task_queue_entered_date")),
            virtual_start_time=_date(payload.get("virtual_start_time")),
            task_queue_sid=payload.get("task_queue_sid"),
            task_queue_friendly_name=payload.get("task_queue_friendly_name"),
            task_channel_sid=payload.get("task_channel_sid"),
            task_channel_unique_name=payload.get("task_channel_unique_name"),
            workflow_sid=payload.get("workflow_sid"),
            workflow_friendly_name=payload.get("workflow_friendly_name"),
            routing_target=payload.get("routing_target"),
            ignore_capacity=payload.get("ignore_capacity"),
            url=payload.get("url"),
            etag=etag,
        )


@dataclass(frozen=True, slots=True)
class Workspace:
    sid: str
    friendly_name: str
    default_activity_name: str | None = None
    prioritize_queue_order: str | None = None
    date_created: datetime | None = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Workspace:
        return cls(
            sid=_required(payload, "sid"),
            friendly_name=payload.get("friendly_name") or "",
            default_activity_name=payload.get("default_activity_name"),
            prioritize_queue_order=payload.get("prioritize_queue_order"),
            date_created=_date(payload.get("date_created")),
        )

    @property
    def url_name(self) -> str:
        """How this workspace appears in Taskdeck's URLs (``/w/<url_name>/tasks/``).

        Its friendly name, which reads well in a runbook's link, when the name is one path
        segment that leads back to this workspace; otherwise its SID, which always is.
        TaskRouter accepts any text as a friendly name: a ``/`` would split the segment
        (``reverse()`` refuses it), surrounding spaces are stripped when a URL is read, and
        browsers resolve ``.`` and ``..`` away before sending the request.
        """
        name = self.friendly_name
        if not name or name != name.strip() or "/" in name or name in (".", ".."):
            return self.sid
        return name


@dataclass(frozen=True, slots=True)
class Workflow:
    sid: str
    friendly_name: str
    configuration: dict | None = None
    task_reservation_timeout: int | None = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Workflow:
        return cls(
            sid=_required(payload, "sid"),
            friendly_name=payload.get("friendly_name") or "",
            configuration=_json_object(payload.get("configuration")),
            task_reservation_timeout=payload.get("task_reservation_timeout"),
        )


@dataclass(frozen=True, slots=True)
class TaskQueue:
    sid: str
    friendly_name: str
    target_workers: str | None = None
    task_order: str | None = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> TaskQueue:
        return cls(
            sid=_required(payload, "sid"),
            friendly_name=payload.get("friendly_name") or "",
            target_workers=payload.get("target_workers"),
            task_order=payload.get("task_order"),
        )


@dataclass(frozen=True, slots=True)
class TaskChannel:
    sid: str
    unique_name: str
    friendly_name: str

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> TaskChannel:
        return cls(
            sid=_required(payload, "sid"),
            unique_name=payload.get("unique_name") or "",
            friendly_name=payload.get("friendly_name") or "",
        )


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


@dataclass(frozen=True, slots=True)
class Activity:
    """What a worker is doing (Available, Break, Lunch, Offline...); ``available``: whether
    a worker in it can be offered tasks."""

    sid: str
    friendly_name: str
    available: bool

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Activity:
        return cls(
            sid=_required(payload, "sid"),
            friendly_name=payload.get("friendly_name") or "",
            available=bool(_bool(payload.get("available"))),
        )


@dataclass(frozen=True, slots=True)
class Worker:
    """An agent: their name, their activity and whether it lets them take tasks."""

    sid: str
    friendly_name: str
    activity_sid: str | None
    activity_name: str | None
    available: bool | None
    date_status_changed: datetime | None = None
    attributes_json: str | None = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Worker:
        attributes = payload.get("attributes")
        return cls(
            sid=_required(payload, "sid"),
            friendly_name=payload.get("friendly_name") or "",
            activity_sid=payload.get("activity_sid"),
            activity_name=payload.get("activity_name"),
            available=_bool(payload.get("available")),
            date_status_changed=_date(payload.get("date_status_changed")),
            attributes_json=attributes if isinstance(attributes, str) else None,
        )


def page_token_of(url: str | None) -> str | None:
    """The PageToken inside one of TaskRouter's next/previous page URLs."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("PageToken")
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of ListTask, as TaskRouter paged it. There is no total: the API has none."""

    tasks: tuple[Task, ...]
    page_size: int
    next_page_url: str | None = None
    previous_page_url: str | None = None
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Set when TaskRouter failed and this is the last copy read of the same page (shown
    # with its age, read_at): why it could not be read afresh.
    stale_because: Exception | None = None

    @property
    def next_page_token(self) -> str | None:
        return page_token_of(self.next_page_url)

    @property
    def previous_page_token(self) -> str | None:
        return page_token_of(self.previous_page_url)

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)


@dataclass(frozen=True, slots=True)
class Event:
    """One of a workspace's Events (ListEvent / FetchEvent): what happened, when, to which
    resource, and who did it. ``data`` is ``event_data`` (string values, as TaskRouter sends
    them; a task event carries the task as the change left it)."""

    sid: str
    workspace_sid: str
    event_type: str
    date_ms: int  # event_date_ms: the moment, to the millisecond
    actor_type: str
    actor_sid: str
    actor_url: str
    resource_type: str
    resource_sid: str
    description: str
    source: str
    source_ip_address: str
    data: dict = field(default_factory=dict)

    @property
    def task_sid(self) -> str:
        """The task the event is about ("" when it is about no task)."""
        sid = str(self.data.get("task_sid") or "")
        if not sid and self.resource_type == "task":
            sid = self.resource_sid
        return sid if sid.startswith("WT") else ""

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.date_ms / 1000, tz=UTC)

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Event:
        if not isinstance(payload, Mapping):
            raise _malformed("event")
        date_ms = payload.get("event_date_ms")
        if not isinstance(date_ms, int) or isinstance(date_ms, bool):
            moment = _date(payload.get("event_date"))
            if moment is None:
                raise _malformed("event")
            date_ms = int(moment.timestamp() * 1000)
        data = payload.get("event_data")
        return cls(
            sid=str(_required(payload, "sid")),
            workspace_sid=str(payload.get("workspace_sid") or ""),
            event_type=str(_required(payload, "event_type")),
            date_ms=date_ms,
            actor_type=str(payload.get("actor_type") or ""),
            actor_sid=str(payload.get("actor_sid") or ""),
            actor_url=str(payload.get("actor_url") or ""),
            resource_type=str(payload.get("resource_type") or ""),
            resource_sid=str(payload.get("resource_sid") or ""),
            description=str(payload.get("description") or ""),
            source=str(payload.get("source") or ""),
            source_ip_address=str(payload.get("source_ip_address") or ""),
            data=dict(data) if isinstance(data, Mapping) else {},
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of ListEvent."""

    events: tuple[Event, ...]
    next_page_url: str | None = None

    def __iter__(self):
        return iter(self.events)
