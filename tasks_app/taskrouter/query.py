"""ListTask's filters, written once: the dashboard builds a `TaskQuery` and sends it with
`to_params`; the sandbox reads one back from a request with `from_params`. Both validate
with TaskRouter's rules on construction.

Pure Python, no Django: the sandbox imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import rules
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
