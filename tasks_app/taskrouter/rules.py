"""The rules of TaskRouter's Task resource, written once.

Both sides use this module: the dashboard's forms check input with it before anything is
sent, and the embedded sandbox enforces it the way TaskRouter does. Every number and
message, with its source, is in docs/taskrouter.md.

Pure Python, no Django: the sandbox imports it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from .errors import InvalidParameter

# --- Assignment status --------------------------------------------------------------------

PENDING = "pending"
RESERVED = "reserved"
ASSIGNED = "assigned"
CANCELED = "canceled"
COMPLETED = "completed"
WRAPPING = "wrapping"

# The order of the spec's enum `task_enum_status`.
STATUSES: tuple[str, ...] = (PENDING, RESERVED, ASSIGNED, CANCELED, COMPLETED, WRAPPING)
# Closed tasks are purged by TaskRouter minutes after they close.
CLOSED_STATUSES: frozenset[str] = frozenset({CANCELED, COMPLETED})
OPEN_STATUSES: tuple[str, ...] = (PENDING, RESERVED, ASSIGNED, WRAPPING)

# What a client may ask for with UpdateTask's AssignmentStatus, and from where. TaskRouter
# itself moves tasks between pending, reserved and assigned as reservations come and go.
_ALLOWED_FROM: dict[str, frozenset[str]] = {
    CANCELED: frozenset({PENDING, RESERVED}),
    WRAPPING: frozenset({ASSIGNED}),
    COMPLETED: frozenset({ASSIGNED, WRAPPING}),
}
REQUESTABLE_STATUSES: tuple[str, ...] = (CANCELED, WRAPPING, COMPLETED)
# The words TaskRouter uses in its refusals ("Cannot cancel task WT... because ...").
ACTION_VERBS: dict[str, str] = {CANCELED: "cancel", WRAPPING: "wrap up", COMPLETED: "complete"}
_REFUSALS: dict[str, str] = {
    CANCELED: "it is not pending or reserved",
    WRAPPING: "it is not currently assigned",
    COMPLETED: "it is not currently assigned",
}
# "If you wish to update the assignment status of a task to wrapping or completed and also
# update its attributes, you will need to send two API requests" (TaskRouter's Task docs).
STATUS_NEEDS_OWN_REQUEST: frozenset[str] = frozenset({WRAPPING, COMPLETED})
# TaskRouter records a Reason when a task is canceled or completed; Taskdeck insists on one.
REASON_REQUIRED: frozenset[str] = frozenset({CANCELED, COMPLETED})


def allowed_transitions(current: str) -> tuple[str, ...]:
    """The statuses a client may request for a task that is now ``current``."""
    return tuple(s for s in REQUESTABLE_STATUSES if current in _ALLOWED_FROM[s])


def transition_refusal(current: str, target: str) -> str | None:
    """Why ``current`` -> ``target`` is refused, in TaskRouter's words; None when allowed."""
    if target not in STATUSES:
        return f"{target!r} is not an assignment status"
    if target not in _ALLOWED_FROM:
        return "TaskRouter moves tasks to that status itself"
    if current in _ALLOWED_FROM[target]:
        return None
    return _REFUSALS[target]


def one_of(value: object, choices: Iterable[str], *, param: str) -> str:
    """``value`` (trimmed, lower case) when it is one of ``choices``."""
    choices = tuple(choices)
    chosen = str(value).strip().lower()
    if chosen not in choices:
        raise InvalidParameter(
            f"{param} must be one of {', '.join(choices)}, not {str(value)[:40]!r}.",
            param=param,
        )
    return chosen


def validate_status(value: str, *, param: str = "AssignmentStatus") -> str:
    """One assignment status (UpdateTask takes exactly one)."""
    return one_of(value, STATUSES, param=param)


def combined_update_refusal(status: str | None, *, with_attributes: bool) -> str | None:
    """Why one UpdateTask may not carry both attributes and this status, or None."""
    if with_attributes and status in STATUS_NEEDS_OWN_REQUEST:
        return (
            f"Attributes cannot be updated in the same request that moves a task to {status}: "
            "send two requests."
        )
    return None


def transition_refusal_message(
    *, task_sid: str, workspace_sid: str, account_sid: str, current: str, target: str
) -> str | None:
    """TaskRouter's full 400 message for a refused transition, or None when allowed."""
    refusal = transition_refusal(current, target)
    if refusal is None:
        return None
    if target in ACTION_VERBS:
        return (
            f"Cannot {ACTION_VERBS[target]} task {task_sid} in workspace {workspace_sid} "
            f"for account {account_sid} because {refusal}."
        )
    return (
        f"Cannot move task {task_sid} to {target} in workspace {workspace_sid} "
        f"for account {account_sid} because {refusal}."
    )


def update_refusal_message(
    *, task_sid: str, workspace_sid: str, account_sid: str, current: str
) -> str | None:
    """Closed tasks are read-only until TaskRouter purges them (a decision: Twilio does not
    say; docs/taskrouter.md, "Statuses"): anything else may be updated."""
    if current not in CLOSED_STATUSES:
        return None
    return (
        f"Cannot update task {task_sid} in workspace {workspace_sid} "
        f"for account {account_sid} because it is {current}."
    )


# --- SIDs ---------------------------------------------------------------------------------

SID_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
SID_PREFIXES: dict[str, str] = {
    "AC": "Account",
    "WS": "Workspace",
    "WT": "Task",
    "WW": "Workflow",
    "WQ": "TaskQueue",
    "TC": "TaskChannel",
    "WK": "Worker",
    "WR": "Reservation",
    "WA": "Activity",
    "WC": "WorkerChannel",
    "SK": "API Key",
}


def is_sid(value: object, prefix: str) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 34
        and value[:2] == prefix
        and bool(SID_PATTERN.match(value))
    )


def validate_sid(value: str, prefix: str, *, param: str) -> str:
    value = (value or "").strip()
    if not is_sid(value, prefix):
        kind = SID_PREFIXES.get(prefix, prefix)
        raise InvalidParameter(
            f"{param} must be a {kind} SID: {prefix} followed by 32 hexadecimal characters.",
            param=param,
        )
    return value


# --- Page tokens ----------------------------------------------------------------------------


def validate_page_token(token: str, prefix: str, *, param: str = "PageToken") -> str:
    """TaskRouter's page tokens: PA (the page after) or PB (the page before) and the SID
    of the item at the page's edge (the only documented format: error 40153's text)."""
    token = (token or "").strip()
    if token[:2] not in ("PA", "PB") or not is_sid(token[2:], prefix):
        raise InvalidParameter(f"{param} is not valid for this list.", param=param)
    return token


# --- Numbers ------------------------------------------------------------------------------

PRIORITY_MIN, PRIORITY_MAX = 0, 2_147_483_647
TIMEOUT_MIN, TIMEOUT_MAX = 1, 1_209_600  # two weeks
DEFAULT_TIMEOUT = 86_400  # 24 hours
PAGE_SIZE_MIN, PAGE_SIZE_MAX = 1, 1000
DEFAULT_PAGE_SIZE = 50


def parse_int(value: object, *, param: str) -> int:
    if isinstance(value, bool):
        raise InvalidParameter(f"{param} must be a whole number.", param=param)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InvalidParameter(f"{param} must be a whole number, not {text[:40]!r}.", param=param)
    return int(text)


def _in_range(value: object, low: int, high: int, *, param: str) -> int:
    number = parse_int(value, param=param)
    if not low <= number <= high:
        raise InvalidParameter(f"{param} must be between {low:,} and {high:,}.", param=param)
    return number


def validate_priority(value: object, *, param: str = "Priority") -> int:
    return _in_range(value, PRIORITY_MIN, PRIORITY_MAX, param=param)


def validate_timeout(value: object, *, param: str = "Timeout") -> int:
    return _in_range(value, TIMEOUT_MIN, TIMEOUT_MAX, param=param)


def validate_page_size(value: object, *, param: str = "PageSize") -> int:
    return _in_range(value, PAGE_SIZE_MIN, PAGE_SIZE_MAX, param=param)


def parse_bool(value: object, *, param: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise InvalidParameter(f"{param} must be true or false.", param=param)


# --- Attributes ---------------------------------------------------------------------------

ATTRIBUTES_MAX_CHARS = 4096  # "whitespace included"


def serialize_attributes(attributes: dict) -> str:
    """The compact JSON text Taskdeck sends: the most room under the 4096-character limit.
    NaN and Infinity raise ValueError rather than go out as words that are not JSON."""
    return json.dumps(attributes, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def parse_attributes(text: str, *, param: str = "Attributes") -> dict:
    """Parse a task's attributes as sent: a JSON object of at most 4096 characters."""
    _check_attributes_size(text, param=param)
    return load_attributes(text, param=param)


def _check_attributes_size(text: str, *, param: str) -> None:
    if len(text) > ATTRIBUTES_MAX_CHARS:
        raise InvalidParameter(
            f"{param} must be at most {ATTRIBUTES_MAX_CHARS:,} characters of JSON "
            f"(this is {len(text):,}).",
            param=param,
        )


# Taskdeck's own bound, not TaskRouter's (it documents none): far deeper than any routing
# rule reads, and far below where Python's parser and serializer run out of stack (about
# 1,000 levels, which fit in 4,096 characters).
ATTRIBUTES_MAX_DEPTH = 100
# A JSON string with its escapes; what it holds never counts as nesting.
_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
# A \u escape of half a surrogate pair; without one, parsing cannot produce a lone half.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


# orjson reads an integer literal beyond 64 bits as a float of at least this magnitude.
_LONGEST_ORJSON_INTEGER = float(2**63)


def _strict_loads(text: str) -> object:
    """json.loads with NaN, Infinity and doubles out of range refused. orjson parses
    strict JSON several times faster (every row of a 1000-row table parses its attributes)
    and refuses all three itself; whatever it refuses, or a value holding a float as large
    as an integer beyond 64 bits (which orjson reads as a float), goes to the standard
    library, whose results and error messages are the reference."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _holds_huge_float(value):
            return value
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _holds_huge_float(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if abs(item) >= _LONGEST_ORJSON_INTEGER:  # type: ignore[arg-type]
                return True
        elif kind is dict:
            stack.extend(item.values())  # type: ignore[union-attr]
        elif kind is list:
            stack.extend(item)  # type: ignore[arg-type]
    return False


def _refuse_constant(name: str) -> float:
    # json.loads hands NaN, Infinity and -Infinity here; none of them is JSON (RFC 8259).
    raise _NotJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        # 1e400 is valid JSON syntax but no double holds it: Python would keep Infinity
        # and send it back as the non-JSON word Infinity.
        raise _NotJson(f"the number {text[:40]} is too large")
    return value


class _NotJson(ValueError):
    pass


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in this JSON text (strings skipped), counted
    without recursion so no depth can exhaust the stack."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING_RE.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _has_lone_surrogate(value: object) -> bool:
    """Whether any string (key or value) holds half a UTF-16 pair, which "\\ud800" in
    JSON produces and which no UTF-8 page, database or TaskRouter can store."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE_RE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_attributes(text: str, *, param: str = "Attributes") -> dict:
    """Parse attributes as a person typed them (any layout): a JSON object. The size limit
    applies to what is sent, see `validate_attributes`.

    Strict JSON only: NaN, Infinity and numbers beyond a double are refused (Python's
    parser accepts them, TaskRouter's JSON does not), as are nesting deeper than
    ATTRIBUTES_MAX_DEPTH and lone surrogates; every refusal is an InvalidParameter."""
    if not isinstance(text, str):
        raise InvalidParameter(f"{param} must be JSON text.", param=param)
    if _SURROGATE_RE.search(text):
        raise InvalidParameter(
            f"{param} contains a character that is not valid Unicode (half a surrogate pair).",
            param=param,
        )
    # Counting brackets is cheap; tracing the nesting is only needed when there are enough
    # of them to nest that deep (every table row's attributes pass here).
    openings = text.count("[") + text.count("{")
    if openings > ATTRIBUTES_MAX_DEPTH and json_depth(text) > ATTRIBUTES_MAX_DEPTH:
        raise InvalidParameter(
            f"{param} nests objects or arrays more than {ATTRIBUTES_MAX_DEPTH} levels deep.",
            param=param,
        )
    try:
        value = _strict_loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(
            f"{param} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            param=param,
        ) from None
    except _NotJson as exc:
        raise InvalidParameter(f"{param} is not valid JSON: {exc}.", param=param) from None
    except (ValueError, RecursionError):
        # Integers of thousands of digits (Python's conversion limit), or a nesting the
        # count above missed: still not something TaskRouter could take.
        raise InvalidParameter(f"{param} is not valid JSON.", param=param) from None
    if not isinstance(value, dict):
        raise InvalidParameter(f"{param} must be a JSON object ({{...}}).", param=param)
    if _SURROGATE_ESCAPE_RE.search(text) and _has_lone_surrogate(value):
        raise InvalidParameter(
            f"{param} contains a \\u escape that is not valid Unicode (half a surrogate pair).",
            param=param,
        )
    return value


def stored_attributes(text: object) -> dict:
    """Attributes already stored (by TaskRouter, or anyone who wrote to it): the object
    when it is strict JSON, else empty. Never raises: a poisoned task must still list,
    route and render."""
    if not isinstance(text, str):
        return {}
    try:
        return load_attributes(text)
    except InvalidParameter:
        return {}


def validate_attributes(attributes: dict, *, param: str = "Attributes") -> str:
    """The JSON text to send for these attributes, within the size limit."""
    if not isinstance(attributes, dict):
        raise InvalidParameter(f"{param} must be a JSON object ({{...}}).", param=param)
    try:
        text = serialize_attributes(attributes)
    except (ValueError, TypeError, RecursionError):
        raise InvalidParameter(f"{param} must hold only JSON values.", param=param) from None
    _check_attributes_size(text, param=param)
    # What is sent must read back as the same strict JSON (no lone surrogates, no depth
    # beyond the limit), whoever built the dict.
    load_attributes(text, param=param)
    return text


# --- Dates --------------------------------------------------------------------------------

EARLIEST_VIRTUAL_START = datetime(1900, 1, 1, tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """TaskRouter's date format: ISO 8601 in UTC, whole seconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object, *, param: str) -> datetime:
    """An ISO 8601 date-time; naive values are taken as UTC, as TaskRouter does."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidParameter(
                f"{param} must be an ISO 8601 date and time, like 2026-01-31T09:30:00Z.",
                param=param,
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the calendar starts
        raise InvalidParameter(
            f"{param} must be a date and time between the years 1 and 9999.", param=param
        ) from None


def validate_virtual_start_time(
    value: object, *, now: datetime, param: str = "VirtualStartTime"
) -> datetime:
    moment = parse_datetime(value, param=param)
    if moment > now:
        raise InvalidParameter(f"{param} cannot be in the future.", param=param)
    if moment < EARLIEST_VIRTUAL_START:
        raise InvalidParameter(f"{param} cannot be before 1900.", param=param)
    return moment


# --- Statuses given as a filter -----------------------------------------------------------


def parse_statuses(values: Iterable[str], *, param: str = "AssignmentStatus") -> tuple[str, ...]:
    """Statuses given repeated, comma-separated or both; duplicates dropped, order kept."""
    found: list[str] = []
    for value in values:
        for part in str(value).split(","):
            status = part.strip().lower()
            if not status:
                continue
            if status not in STATUSES:
                raise InvalidParameter(
                    f"{param} {part.strip()!r} is not a status; use {', '.join(STATUSES)}.",
                    param=param,
                )
            if status not in found:
                found.append(status)
    return tuple(found)


# --- Ordering -----------------------------------------------------------------------------

ORDERING_ATTRIBUTES: tuple[str, ...] = ("DateCreated", "Priority", "VirtualStartTime")


@dataclass(frozen=True, slots=True)
class OrderKey:
    attribute: str  # one of ORDERING_ATTRIBUTES
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.attribute}:{'desc' if self.descending else 'asc'}"


def parse_ordering(text: str, *, param: str = "Ordering") -> tuple[OrderKey, ...]:
    """``Priority:desc,DateCreated:asc``; TaskRouter refuses DateCreated with VirtualStartTime."""
    keys: list[OrderKey] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        attribute, _, direction = part.partition(":")
        attribute, direction = attribute.strip(), (direction.strip().lower() or "asc")
        canonical = next((a for a in ORDERING_ATTRIBUTES if a.lower() == attribute.lower()), None)
        if canonical is None:
            raise InvalidParameter(
                f"{param} can sort by {', '.join(ORDERING_ATTRIBUTES)}, not {attribute!r}.",
                param=param,
            )
        if direction not in {"asc", "desc"}:
            raise InvalidParameter(
                f"{param} direction must be asc or desc, not {direction!r}.", param=param
            )
        if any(k.attribute == canonical for k in keys):
            raise InvalidParameter(f"{param} names {canonical} twice.", param=param)
        keys.append(OrderKey(canonical, direction == "desc"))
    return validate_ordering(keys, param=param)


def validate_ordering(keys: Iterable[OrderKey], *, param: str = "Ordering") -> tuple[OrderKey, ...]:
    keys = tuple(keys)
    attributes = {k.attribute for k in keys}
    if {"DateCreated", "VirtualStartTime"} <= attributes:
        raise InvalidParameter(
            f"{param} cannot combine DateCreated and VirtualStartTime.", param=param
        )
    return keys


def format_ordering(keys: Iterable[OrderKey]) -> str:
    return ",".join(str(k) for k in keys)


# --- Workers, Activities, Worker Channels -------------------------------------------------
# TaskRouter's Worker, Activity and WorkerChannel resources [OAI] [WkDoc] [ActDoc] [WCDoc];
# docs/taskrouter.md, "Workers and Activities". Decisions are marked.

FRIENDLY_NAME_MAX = 64  # Workers and Activities: "up to 64 characters long" [OAI]
ACTIVITIES_MAX = 100  # per Workspace [ActDoc]
WORKERS_MAX = 15_000  # the default per Workspace [WkDoc]
# DECISION: TaskRouter publishes no maximum for a channel's capacity; 50 keeps a typo
# (5000) from looking like a working setting.
CAPACITY_MIN, CAPACITY_MAX = 0, 50
# TaskRouter reads "true", "1" and "yes" as true in the Available filters and in
# CreateActivity's Available; anything else is false [OAI].
TRUTHY: frozenset[str] = frozenset({"true", "1", "yes"})


def is_truthy(value: object) -> bool:
    """TaskRouter's loose booleans: ``true``, ``1`` or ``yes`` (any case); all else false."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUTHY


def validate_friendly_name(value: object, *, param: str = "FriendlyName") -> str:
    """A Worker's or Activity's name: required, at most 64 characters."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise InvalidParameter(f"{param} is required.", param=param)
    if len(text) > FRIENDLY_NAME_MAX:
        raise InvalidParameter(
            f"{param} must be at most {FRIENDLY_NAME_MAX} characters (this is {len(text)}).",
            param=param,
        )
    return text


def validate_capacity(value: object, *, param: str = "Capacity") -> int:
    return _in_range(value, CAPACITY_MIN, CAPACITY_MAX, param=param)


def available_capacity_percentage(configured: int, held: int) -> int:
    """``floor((1 - held / configured) * 100)``, 0 for a channel with no capacity: held
    counts pending, accepted and wrapping reservations [MT]."""
    if configured <= 0:
        return 0
    return max(0, (100 * (configured - held)) // configured)


def reject_pending_refusal(new_activity_available: bool) -> str | None:
    """RejectPendingReservations "is only valid if the Worker's new Activity" is unavailable
    [OAI]."""
    if new_activity_available:
        return (
            "RejectPendingReservations is only valid when the Worker's new Activity is unavailable."
        )
    return None


# --- Reservations ---------------------------------------------------------------------------

RESERVATION_PENDING = "pending"
RESERVATION_ACCEPTED = "accepted"
RESERVATION_REJECTED = "rejected"
RESERVATION_TIMEOUT = "timeout"
RESERVATION_CANCELED = "canceled"
RESERVATION_RESCINDED = "rescinded"
RESERVATION_WRAPPING = "wrapping"
RESERVATION_COMPLETED = "completed"
# The order of the spec's enum task_reservation_enum_status.
RESERVATION_STATUSES: tuple[str, ...] = (
    RESERVATION_PENDING,
    RESERVATION_ACCEPTED,
    RESERVATION_REJECTED,
    RESERVATION_TIMEOUT,
    RESERVATION_CANCELED,
    RESERVATION_RESCINDED,
    RESERVATION_WRAPPING,
    RESERVATION_COMPLETED,
)
# Statuses in which a reservation takes up its worker's capacity on the task's channel [MT].
RESERVATION_HOLDING: frozenset[str] = frozenset(
    {RESERVATION_PENDING, RESERVATION_ACCEPTED, RESERVATION_WRAPPING}
)
# What a client may ask for with UpdateReservation's ReservationStatus, and from where
# [ResDoc]; timeout, canceled and rescinded are TaskRouter's own.
_RESERVATION_ALLOWED_FROM: dict[str, frozenset[str]] = {
    RESERVATION_ACCEPTED: frozenset({RESERVATION_PENDING}),
    RESERVATION_REJECTED: frozenset({RESERVATION_PENDING}),
    RESERVATION_WRAPPING: frozenset({RESERVATION_ACCEPTED}),
    RESERVATION_COMPLETED: frozenset({RESERVATION_ACCEPTED, RESERVATION_WRAPPING}),
}
_RESERVATION_VERBS: dict[str, str] = {
    RESERVATION_ACCEPTED: "accept",
    RESERVATION_REJECTED: "reject",
    RESERVATION_WRAPPING: "wrap up",
    RESERVATION_COMPLETED: "complete",
}


def validate_reservation_status(value: object, *, param: str = "ReservationStatus") -> str:
    return one_of(value, RESERVATION_STATUSES, param=param)


def reservation_refusal_message(
    *, reservation_sid: str, workspace_sid: str, account_sid: str, current: str, target: str
) -> str | None:
    """Why a reservation in ``current`` may not be moved to ``target`` by a client, or None.

    DECISION: TaskRouter's words for these refusals are not published; they follow its
    task refusals ("Cannot cancel task WT... because it is not pending or reserved.")."""
    where = f"in workspace {workspace_sid} for account {account_sid}"
    if target not in _RESERVATION_ALLOWED_FROM:
        return (
            f"Cannot move reservation {reservation_sid} to {target} {where}: TaskRouter sets "
            "that status itself."
        )
    if current in _RESERVATION_ALLOWED_FROM[target]:
        return None
    return (
        f"Cannot {_RESERVATION_VERBS[target]} reservation {reservation_sid} {where} "
        f"because it is {current}."
    )


# --- Statistics parameters ------------------------------------------------------------------

STATISTICS_MINUTES_DEFAULT = 15  # [OAI]
STATISTICS_HISTORY_DAYS = 30  # [WSStat] [TQStat] [WFStat]
STATISTICS_MINUTES_MAX = STATISTICS_HISTORY_DAYS * 24 * 60
# DECISION: TaskRouter names no limit on the thresholds of one request; 20 is far beyond
# any service-level report.
SPLIT_BY_WAIT_TIME_MAX = 20
BULK_QUEUES_MIN, BULK_QUEUES_MAX = 1, 50  # POST TaskQueues/RealTimeStatistics [OAI]


def parse_split_by_wait_time(text: str, *, param: str = "SplitByWaitTime") -> tuple[int, ...]:
    """``5,30``: thresholds in whole seconds, distinct, in the order given.

    DECISION: whole seconds (0 or more) only; a blank entry is ignored."""
    found: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if not re.fullmatch(r"\d+", part):
            raise InvalidParameter(
                f"{param} must be whole seconds separated by commas, like 5,30 "
                f"(not {part[:20]!r}).",
                param=param,
            )
        value = int(part)
        if value not in found:
            found.append(value)
    if len(found) > SPLIT_BY_WAIT_TIME_MAX:
        raise InvalidParameter(
            f"{param} takes at most {SPLIT_BY_WAIT_TIME_MAX} thresholds.", param=param
        )
    return tuple(found)


def statistics_window(
    *, minutes: object | None, start: object | None, end: object | None, now: datetime
) -> tuple[datetime, datetime]:
    """The cumulative window: ``Minutes`` up to now, or ``StartDate`` to ``EndDate`` (now
    when absent); 15 minutes with none. ``Minutes`` cannot be combined with the dates
    [WSStat] [TQStat]. DECISION: a window starting more than 30 days ago (TaskRouter keeps
    30 days of statistics) or ending before it starts is refused."""
    if minutes is not None and (start is not None or end is not None):
        raise InvalidParameter(
            "Minutes cannot be combined with StartDate or EndDate.", param="Minutes"
        )
    window_end = parse_datetime(end, param="EndDate") if end is not None else now
    if start is not None:
        window_start = parse_datetime(start, param="StartDate")
    else:
        count = STATISTICS_MINUTES_DEFAULT
        if minutes is not None:
            count = _in_range(minutes, 1, STATISTICS_MINUTES_MAX, param="Minutes")
        try:
            window_start = window_end - timedelta(minutes=count)
        except OverflowError:  # an EndDate at the start of the calendar
            raise InvalidParameter(
                "EndDate is too early for the window it asks for.", param="EndDate"
            ) from None
    if window_start > window_end:
        raise InvalidParameter("StartDate must be before EndDate.", param="StartDate")
    if window_start < now - timedelta(days=STATISTICS_HISTORY_DAYS):
        raise InvalidParameter(
            f"StartDate cannot be more than {STATISTICS_HISTORY_DAYS} days ago: TaskRouter "
            "keeps statistics for 30 days.",
            param="StartDate",
        )
    return window_start, window_end


def validate_queue_sids(values: Iterable[str], *, param: str = "QueueSids") -> tuple[str, ...]:
    """1 to 50 TaskQueue SIDs (repeated or comma-separated), duplicates dropped."""
    found: list[str] = []
    for value in values:
        for part in str(value).split(","):
            if part.strip():
                sid = validate_sid(part, "WQ", param=param)
                if sid not in found:
                    found.append(sid)
    if not BULK_QUEUES_MIN <= len(found) <= BULK_QUEUES_MAX:
        raise InvalidParameter(
            f"{param} must name between {BULK_QUEUES_MIN} and {BULK_QUEUES_MAX} TaskQueues.",
            param=param,
        )
    return tuple(found)


# --- Events ---------------------------------------------------------------------------------

# TaskRouter keeps a workspace's Events for 30 days; a StartDate further back is a 400.
EVENTS_RETENTION = timedelta(days=30)
# With no StartDate, EndDate or Minutes, a list of Events covers the last 15 minutes.
EVENTS_DEFAULT_MINUTES = 15


def event_window(
    *,
    start: datetime | None,
    end: datetime | None,
    minutes: int | None,
    now: datetime,
) -> tuple[datetime, datetime]:
    """The span a ListEvent request covers, both ends included.

    ``end`` defaults to now. ``start`` wins over ``minutes``; without it the span is the
    ``minutes`` (default 15) before ``end``. A span starting more than 30 days before now
    is refused, whichever parameter set it.
    """
    if minutes is not None and minutes < 1:
        raise InvalidParameter("Minutes must be 1 or more.", param="Minutes")
    end = end if end is not None else now
    oldest = now - EVENTS_RETENTION
    param = "StartDate" if start is not None else "Minutes" if minutes is not None else "EndDate"
    if start is None:
        # Capped just past 30 days: anything longer is refused all the same, and never
        # overflows the calendar (nor does an EndDate already too old).
        longest = EVENTS_RETENTION // timedelta(minutes=1) + 1
        span = timedelta(minutes=min(minutes or EVENTS_DEFAULT_MINUTES, longest))
        start = end - span if end >= oldest else end
    if start < oldest:
        raise InvalidParameter(
            f"{param} reaches more than 30 days back: TaskRouter keeps Events for 30 days.",
            param=param,
        )
    if start > end:
        raise InvalidParameter("StartDate must be on or before EndDate.", param="StartDate")
    return start, end
