"""How task values read on a page and in an export. Plain functions: the table renders
thousands of cells with them, so no template is involved per value."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from django.utils import timezone

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.expressions import Reference, resolve

ZERO = timedelta(0)

STATUS_LABELS = {
    "pending": "Pending",
    "reserved": "Reserved",
    "assigned": "Assigned",
    "wrapping": "Wrapping",
    "completed": "Completed",
    "canceled": "Canceled",
}


@dataclass(frozen=True, slots=True)
class TimeInStatus:
    """How long a task has been doing what its status says, in words a supervisor reads:
    "waiting 12 min", "with an agent 40 min", "wrapping up 3 min"."""

    word: str
    seconds: int
    meaning: str  # what the seconds count (a tooltip); no digits, the browser reads the number

    @property
    def title(self) -> str:
        return f"{self.seconds:,} seconds {self.meaning}"


# Per open status: the word, the moment it counts from, and what that means. TaskRouter
# gives no time of assignment; an assigned or wrapping task's last change is its move to
# that status unless someone changed it since (the tooltip says so).
_SINCE_CHANGED = "counted from TaskRouter's last change to it"
_TIME_IN_STATUS = {
    rules.PENDING: ("waiting", "task_queue_entered_date", "waiting in its queue"),
    rules.RESERVED: ("waiting", "task_queue_entered_date", "waiting, offered to an agent"),
    rules.ASSIGNED: ("with an agent", "date_updated", f"with an agent, {_SINCE_CHANGED}"),
    rules.WRAPPING: ("wrapping up", "date_updated", f"wrapping up, {_SINCE_CHANGED}"),
}


def time_in_status(task: Any, now: datetime) -> TimeInStatus | None:
    """How long an open task has been waiting, with an agent or wrapping up, as of
    ``now``; None for a closed task or one TaskRouter gave no moment for."""
    found = _TIME_IN_STATUS.get(task.assignment_status)
    if found is None:
        return None
    word, field, meaning = found
    since = getattr(task, field)
    if since is None:
        return None
    return TimeInStatus(word, max(0, int((now - since).total_seconds())), meaning)


def human_duration(seconds: int | float | None) -> str:
    """``725`` -> ``12 min``; coarse on purpose, the exact value goes in a tooltip."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def display_zone() -> tzinfo:
    """The zone pages show times in (TASKDECK_TIME_ZONE), as datetime.UTC when it is UTC
    so formatting can take the fast path."""
    zone = timezone.get_current_timezone()
    return UTC if getattr(zone, "key", None) in ("UTC", "Etc/UTC") else zone


def moment_texts(value: datetime, zone: tzinfo) -> tuple[str, str, str]:
    """(ISO 8601 in the zone, "2026-01-31 09:30" in the zone, "2026-01-31 08:30:00 UTC")
    for a table cell: its datetime, its text and its title (the exact UTC moment, as the
    browser writes it when it shows the cell in another zone).

    Slicing isoformat() is several times cheaper than astimezone() plus strftime(), and a
    1000-row page formats 2000 moments; UTC (the default zone) takes only that path."""
    utc_iso = value.isoformat() if value.utcoffset() == ZERO else value.astimezone(UTC).isoformat()
    title = f"{utc_iso[:10]} {utc_iso[11:19]} UTC"
    if zone is UTC:
        return utc_iso, f"{utc_iso[:10]} {utc_iso[11:16]}", title
    local = value.astimezone(zone)
    return local.isoformat(), local.strftime("%Y-%m-%d %H:%M"), title


def zone_name() -> str:
    """The IANA name of the zone pages show times in (TASKDECK_TIME_ZONE): table cells
    carry it, so the browser leaves alone the times already written in its own zone."""
    zone = timezone.get_current_timezone()
    return getattr(zone, "key", None) or str(zone)


def full_moment(value: datetime | None) -> str:
    """ "2026-01-31 09:30:00 UTC" in the display zone, with the zone's abbreviation (the
    task page and the audit trail)."""
    if not value:
        return ""
    zone = display_zone()
    if zone is UTC and value.utcoffset() == ZERO:
        iso = value.isoformat()
        return f"{iso[:10]} {iso[11:19]} UTC"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


# What a cell of an attribute column shows for a task whose attributes cannot be read.
UNREADABLE_ATTRIBUTES = "(unreadable attributes)"


def task_attribute_text(task: Any, reference: Reference) -> str:
    """One attribute of a task as a table cell or CSV value reads it (``cols=a.b``)."""
    if task.attributes_problem:
        return UNREADABLE_ATTRIBUTES
    return attribute_text(resolve(reference, task.attributes))


def _json_text(value: Any, **options: Any) -> str:
    """JSON for display that never raises: a value that cannot be written as JSON (NaN,
    a lone surrogate, nesting past the stack) falls back to repr, which always works and
    is escaped like any other text on the way out."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, **options)
        text.encode("utf-8")  # a lone surrogate would fail later, in the response
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return ascii(value) if _reprable(value) else "(a value Taskdeck cannot display)"
    return text


def _reprable(value: Any) -> bool:
    try:
        ascii(value)
    except RecursionError:
        return False
    return True


def attribute_text(value: Any) -> str:
    """An attribute value in a cell: strings as they are, everything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    return _json_text(value)


def pretty_json(value: Any) -> str:
    return _json_text(value, indent=2, sort_keys=True)


def attributes_block(task: Any) -> str:
    """The task page's attributes: formatted JSON, or, when TaskRouter holds something
    that is not strict JSON, the text exactly as it sent it under a note saying why
    (templates escape it like any other text)."""
    problem = getattr(task, "attributes_problem", None)
    if problem is None:
        return pretty_json(task.attributes or {})
    raw = task.attributes_json.encode("utf-8", "backslashreplace").decode("utf-8")
    return (
        f"Taskdeck cannot read these attributes. {problem} "
        f"They are shown exactly as TaskRouter sent them:\n\n{raw}"
    )


# The most attribute paths the column chooser offers, and how deep it looks into objects.
COLUMN_CHOICES_MAX = 24
_PATH_DEPTH = 3


def _leaf_paths(value: dict, prefix: str, depth: int, into: set[str]) -> None:
    """Adds the dotted paths of `value`'s leaves to `into` (no deeper than _PATH_DEPTH). A
    plain recursion into one set: this runs for every attribute of every row of a page."""
    for key, inner in value.items():
        if isinstance(key, str) and key and "." not in key:
            if isinstance(inner, dict) and depth + 1 < _PATH_DEPTH:
                _leaf_paths(inner, f"{prefix}{key}.", depth + 1, into)
            else:
                into.add(prefix + key)


def column_choices(tasks: Iterable[Any], chosen: Iterable[str]) -> list[tuple[str, bool]]:
    """The attribute columns a person can pick for this table: the paths the page's tasks
    hold (most common first), and those already shown; each with whether it is shown."""
    counts: Counter[str] = Counter()
    for task in tasks:
        if task.attributes and not task.attributes_problem:
            paths: set[str] = set()
            _leaf_paths(task.attributes, "", 0, paths)
            counts.update(paths)
    chosen = list(dict.fromkeys(chosen))
    seen = [path for path, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    offered = list(dict.fromkeys([*chosen, *seen]))[: max(COLUMN_CHOICES_MAX, len(chosen))]
    return [(path, path in chosen) for path in offered]
