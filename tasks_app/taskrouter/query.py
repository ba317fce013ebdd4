"""ListTask's and ListEvent's filters, written once: Taskdeck builds a `TaskQuery` (or an
`EventQuery`) and sends it with `to_params`; the sandbox reads one back from a request with
`from_params`. Both validate with TaskRouter's rules on construction.

Pure Python, no Django: the sandbox imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from . import rules
from .errors import InvalidParameter
from .expressions import check_expression

# ListTask's filter parameters, in the order TaskRouter's own page URLs echo them.
FILTER_PARAMETERS: tuple[str, ...] = (
    "Priority",
    "AssignmentStatus",
    "WorkflowSid",
    "WorkflowName",
    "TaskQueueSid",
    "TaskQueueName",
    "EvaluateTaskAttributes",
    "RoutingTarget",
    "Ordering",
    "HasAddons",
)


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """The filters of ListTask, validated on construction (invalid -> InvalidParameter)."""

    statuses: tuple[str, ...] = ()
    priority: int | None = None
    workflow_sid: str | None = None
    workflow_name: str | None = None
    task_queue_sid: str | None = None
    task_queue_name: str | None = None
    evaluate_task_attributes: str | None = None
    routing_target: str | None = None
    has_addons: bool | None = None
    ordering: tuple[rules.OrderKey, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "statuses", rules.parse_statuses(self.statuses))
        if self.priority is not None:
            object.__setattr__(self, "priority", rules.validate_priority(self.priority))
        if self.workflow_sid:
            rules.validate_sid(self.workflow_sid, "WW", param="WorkflowSid")
        if self.task_queue_sid:
            rules.validate_sid(self.task_queue_sid, "WQ", param="TaskQueueSid")
        if self.evaluate_task_attributes:
            object.__setattr__(
                self, "evaluate_task_attributes", check_expression(self.evaluate_task_attributes)
            )
        object.__setattr__(self, "ordering", rules.validate_ordering(self.ordering))

    def to_params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = [("AssignmentStatus", s) for s in self.statuses]
        optional = {
            "Priority": self.priority,
            "WorkflowSid": self.workflow_sid,
            "WorkflowName": self.workflow_name,
            "TaskQueueSid": self.task_queue_sid,
            "TaskQueueName": self.task_queue_name,
            "EvaluateTaskAttributes": self.evaluate_task_attributes,
            "RoutingTarget": self.routing_target,
            "HasAddons": None if self.has_addons is None else str(self.has_addons).lower(),
            "Ordering": rules.format_ordering(self.ordering) or None,
        }
        params += [
            (name, str(value)) for name, value in optional.items() if value not in (None, "")
        ]
        return params

    @classmethod
    def from_params(
        cls, first: Callable[[str], str | None], values: Callable[[str], list[str]]
    ) -> TaskQuery:
        """Read the filters of a ListTask request: ``first(name)`` gives a parameter's value
        (None when absent or blank), ``values(name)`` every value of a repeated one."""

        def parsed(name: str, parse: Callable):
            value = first(name)
            return None if value is None else parse(value)

        routing_target = first("RoutingTarget")
        return cls(
            statuses=tuple(values("AssignmentStatus")),
            priority=parsed("Priority", lambda v: rules.parse_int(v, param="Priority")),
            workflow_sid=first("WorkflowSid"),
            workflow_name=first("WorkflowName"),
            task_queue_sid=first("TaskQueueSid"),
            task_queue_name=first("TaskQueueName"),
            evaluate_task_attributes=first("EvaluateTaskAttributes"),
            routing_target=routing_target.strip() if routing_target else None,
            has_addons=parsed("HasAddons", lambda v: rules.parse_bool(v, param="HasAddons")),
            ordering=parsed("Ordering", rules.parse_ordering) or (),
        )


# No filter at all: every task of the workspace, in TaskRouter's default order.
EVERY_TASK = TaskQuery()


# --- Events ---------------------------------------------------------------------------------

# ListEvent's filter parameters, in the order TaskRouter's own page URLs echo them (the
# spec's example), then those its example leaves out.
EVENT_FILTER_PARAMETERS: tuple[str, ...] = (
    "TaskQueueSid",
    "StartDate",
    "EndDate",
    "WorkerSid",
    "EventType",
    "TaskSid",
    "WorkflowSid",
    "ReservationSid",
    "Minutes",
    "TaskChannel",
    "Sid",
)
# SID filters: parameter -> (field, SID prefix).
_EVENT_SID_FILTERS: dict[str, tuple[str, str]] = {
    "TaskSid": ("task_sid", "WT"),
    "WorkerSid": ("worker_sid", "WK"),
    "TaskQueueSid": ("task_queue_sid", "WQ"),
    "ReservationSid": ("reservation_sid", "WR"),
    "WorkflowSid": ("workflow_sid", "WW"),
    "Sid": ("sid", "EV"),
}


@dataclass(frozen=True, slots=True)
class EventQuery:
    """The filters of ListEvent, validated on construction (invalid -> InvalidParameter).

    ``window(now)`` is the span it covers (``rules.event_window``: 15 minutes by default,
    never more than 30 days back). ``task_channel`` is a TaskChannel SID or unique name.
    """

    # Dates and minutes may be given as the request's text: parsed on construction.
    start_date: datetime | str | None = None
    end_date: datetime | str | None = None
    minutes: int | str | None = None
    event_type: str | None = None
    task_sid: str | None = None
    worker_sid: str | None = None
    task_queue_sid: str | None = None
    reservation_sid: str | None = None
    workflow_sid: str | None = None
    task_channel: str | None = None
    sid: str | None = None

    def __post_init__(self) -> None:
        for param, (name, prefix) in _EVENT_SID_FILTERS.items():
            value = getattr(self, name)
            if value:
                object.__setattr__(self, name, rules.validate_sid(value, prefix, param=param))
        for name, param in (("start_date", "StartDate"), ("end_date", "EndDate")):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, rules.parse_datetime(value, param=param))
        if self.minutes is not None:
            minutes = rules.parse_int(self.minutes, param="Minutes")
            if minutes < 1:
                raise InvalidParameter("Minutes must be 1 or more.", param="Minutes")
            object.__setattr__(self, "minutes", minutes)
        for name in ("event_type", "task_channel"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() if value and value.strip() else None)
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise InvalidParameter("StartDate must be on or before EndDate.", param="StartDate")

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        return rules.event_window(
            start=self.start_date, end=self.end_date, minutes=self.minutes, now=now
        )

    def to_params(self) -> list[tuple[str, str]]:
        values = {
            "TaskQueueSid": self.task_queue_sid,
            "StartDate": _event_date(self.start_date),
            "EndDate": _event_date(self.end_date),
            "WorkerSid": self.worker_sid,
            "EventType": self.event_type,
            "TaskSid": self.task_sid,
            "WorkflowSid": self.workflow_sid,
            "ReservationSid": self.reservation_sid,
            "Minutes": self.minutes,
            "TaskChannel": self.task_channel,
            "Sid": self.sid,
        }
        return [(name, str(value)) for name, value in values.items() if value not in (None, "")]

    @classmethod
    def from_params(cls, first: Callable[[str], str | None]) -> EventQuery:
        """Read the filters of a ListEvent request (``first(name)``: None when absent)."""
        return cls(
            start_date=first("StartDate"),
            end_date=first("EndDate"),
            minutes=first("Minutes"),
            event_type=first("EventType"),
            task_sid=first("TaskSid"),
            worker_sid=first("WorkerSid"),
            task_queue_sid=first("TaskQueueSid"),
            reservation_sid=first("ReservationSid"),
            workflow_sid=first("WorkflowSid"),
            task_channel=first("TaskChannel"),
            sid=first("Sid"),
        )


def _event_date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; milliseconds only when the moment has them (a follower's cursor)."""
    if value is None:
        return None
    if value.microsecond:
        return rules.format_datetime(value)[:-1] + f".{value.microsecond // 1000:03d}Z"
    return rules.format_datetime(value)
