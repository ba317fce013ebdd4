"""Workflow routing and worker matching: TaskRouter's assignment rule, written once.

The sandbox routes tasks and offers them to workers with it; the task page uses it to say,
before a save, where a workflow will send a task and whether a target keeps its priority.
Pure Python (no Django, no database): the sandbox does the scanning, this module decides.

A Workflow's ``configuration`` is TaskRouter's JSON document (docs/taskrouter.md,
"Workflows" and "Assignment")::

    {"task_routing": {
        "filters": [{"filter_friendly_name": "VIP", "expression": "vip == true",
                     "targets": [{"queue": "WQ...", "priority": 100, "timeout": 120,
                                  "order_by": "worker.level DESC",
                                  "expression": "worker.level >= 3", "skip_if": "1 == 1",
                                  "known_worker_sid": "task.agent_sid"},
                                 {"priority": 100}]}],
        "default_filter": {"queue": "WQ..."}}}

What TaskRouter documents, and this module does ([WfDoc], [TOEval], [OrderW], [SkipIf],
[KAR] in docs/taskrouter.md):

    * Filters are tried top to bottom against the task's attributes; the first match wins.
      With none matching, the task goes to ``default_filter``'s queue.
    * The task enters the first target of its filter. A later target is reached only when
      the one before it times out or is skipped. A target without ``queue`` inherits the
      queue of the target before it.
    * A target's ``priority``, when set, becomes the task's priority (a Workflow Target
      priority wins over the one a client asks for).
    * ``timeout`` is measured against the task's age, not restarted per target: targets of
      10 s each end at ages 10, 20, 30. When the last target of a filter times out, the task
      moves to the first *later* filter that matches; with none, it leaves the workflow
      (``workflow.timeout``). ``default_filter`` is not a next filter after a timeout.
    * ``skip_if`` is evaluated when a task enters a target and no reservation can be made
      there; it may use ``workers.available``, ``workers.unavailable`` and
      ``workers.<Activity SID>``, counts of the workers the target would consider. A filter
      whose last target is skipped counts as not matching: the task moves on to the next
      matching filter, then to ``default_filter``; with neither it leaves the workflow
      (``workflow.skipped``).
    * A target's ``expression`` narrows the queue's workers; it may compare ``worker.``
      fields with ``task.`` attributes (``task.language IN worker.languages``).
    * ``order_by`` ranks the eligible workers by integer worker attributes
      (``worker.level DESC, worker.experience ASC``); workers without the attribute come
      last; a value that is not an integer makes the whole ``order_by`` ignored. The final
      tie-break, and the only order without ``order_by``, is the longest idle worker first.
    * ``known_worker_sid`` or ``known_worker_friendly_name`` (one of them) name a task
      attribute (``task.agent_sid``) holding the worker the task must go to; that worker
      must be in the target's queue.
    * Worker expressions (a queue's ``target_workers``, ``TargetWorkersExpression``) read
      the worker's attributes plus ``sid``, ``friendly_name``, ``activity_sid`` and
      ``activity_name``, and ``channel.<unique name>.configured_capacity``,
      ``.assigned_tasks`` and ``.available_capacity_percentage`` ([MT]).

DECISIONS (Twilio does not document these):
    * A reference without a prefix in a target ``expression`` or ``order_by`` names a
      worker field, as in ``target_workers``; ``worker.x`` names the same field. ``task.x``
      names a task attribute. A worker attribute called ``task`` or ``worker`` cannot be
      reached without the prefix.
    * The built-in worker fields (``sid``, ``friendly_name``, ``activity_sid``,
      ``activity_name``, ``channel``) win over attributes of the same name.
    * A timeout of 0 or less, or one that is not a whole number, makes the configuration
      invalid; so do both known-worker keys on one target, a first target without a queue,
      and an ``order_by`` that is not ``<reference> [ASC|DESC], ...``.
    * ``known_worker_sid`` may also hold a Worker SID itself instead of a task attribute.
    * A queue whose ``target_workers`` is empty or null has no workers: its tasks wait.
    * [TOEval]'s animation shows a task mapped to Q2 when its reservation times out at age
      8, before Q1's 10 s are up, while its text says target timeouts follow the task's
      age. The sandbox follows the text: the task stays at Q1 until age 10.
    * A configuration that is not this JSON shape, or whose expressions do not parse,
      routes nothing (no queue); seeded workflows are always valid.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tasks_app.taskrouter import rules
from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import (
    EQ,
    AllOf,
    Comparison,
    Constant,
    Expression,
    Reference,
    parse_expression,
    parse_reference,
    resolve,
)

__all__ = [
    "DEFAULT_FILTER",
    "NO_ROUTE",
    "Filter",
    "OrderBy",
    "Position",
    "QueueWay",
    "Reroute",
    "Route",
    "Step",
    "Target",
    "WorkflowConfiguration",
    "entry_position",
    "known_worker",
    "next_step",
    "order_workers",
    "parse_configuration",
    "parse_order_by",
    "position_at_age",
    "priority_after",
    "queue_accepts",
    "reroute",
    "reroutes_on_attribute_change",
    "route",
    "set_attributes",
    "should_skip",
    "simple_equalities",
    "target_accepts",
    "target_deadline",
    "ways_to_queues",
    "worker_view",
]

PARAM = "Configuration"
DEFAULT_FILTER = -1  # the filter index of default_filter


@dataclass(frozen=True, slots=True)
class OrderBy:
    reference: Reference
    descending: bool


@dataclass(frozen=True, slots=True)
class Target:
    queue: str
    priority: int | None = None
    timeout: int | None = None
    expression: str | None = None
    skip_if: str | None = None
    order_by: str | None = None
    known_worker_sid: str | None = None
    known_worker_friendly_name: str | None = None
    # Parsed once with the configuration (cached by its text).
    worker_filter: Expression | None = field(default=None, compare=False, repr=False)
    skip_filter: Expression | None = field(default=None, compare=False, repr=False)
    ordering: tuple[OrderBy, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Filter:
    friendly_name: str
    expression: Expression
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class WorkflowConfiguration:
    filters: tuple[Filter, ...]
    default_queue: str | None


@dataclass(frozen=True, slots=True)
class Route:
    """Where a task goes: its queue, and the priority its target sets (None: keep the task's)."""

    task_queue_sid: str | None
    priority: int | None = None
    filter_friendly_name: str | None = None
    # The matching filter's expression as written; None for default_filter (no filter
    # matched) and for a route not found by evaluating the workflow. Not part of equality:
    # the filter's name already tells routes apart.
    filter_expression: str | None = field(default=None, compare=False)


NO_ROUTE = Route(task_queue_sid=None)


@dataclass(frozen=True, slots=True)
class Position:
    """A task's place in its workflow: a filter (``DEFAULT_FILTER`` for default_filter)
    and a target of that filter."""

    filter_index: int
    target_index: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    """Where a task goes when its target times out or is skipped: ``position``, or out of
    the workflow (``position`` None, ``reason`` "timeout" or "skipped")."""

    position: Position | None
    reason: str  # "target", "filter", "default", "timeout", "skipped"


# --- Parsing --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def parse_configuration(text: str) -> WorkflowConfiguration:
    """Parse a Workflow configuration; InvalidParameter (param Configuration) if it is not one."""
    try:
        document = json.loads(text)
        routing = document["task_routing"]
        filters = tuple(_filter(item) for item in routing.get("filters", ()) or ())
        default = routing.get("default_filter") or {}
        queue = default.get("queue")
        return WorkflowConfiguration(filters=filters, default_queue=str(queue) if queue else None)
    except InvalidParameter:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidParameter(
            f"Configuration is not a TaskRouter workflow configuration: {exc}", param=PARAM
        ) from None


def _filter(item: Mapping[str, Any]) -> Filter:
    targets: list[Target] = []
    for raw in item.get("targets", ()) or ():
        targets.append(_target(raw, inherited=targets[-1].queue if targets else None))
    return Filter(
        friendly_name=str(item.get("filter_friendly_name", "")),
        expression=parse_expression(str(item["expression"]), param=PARAM),
        targets=tuple(targets),
    )


def _whole(value: Any, name: str) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", text):
        message = f"Configuration: a target's {name} must be a whole number."
        raise InvalidParameter(message, param=PARAM)
    return int(text)


def _target(item: Mapping[str, Any], *, inherited: str | None) -> Target:
    if not isinstance(item, Mapping):
        raise TypeError("a target must be an object")
    queue = item.get("queue") or inherited
    if not queue:
        message = "Configuration: the first target of a filter needs a queue."
        raise InvalidParameter(message, param=PARAM)
    timeout = _whole(item.get("timeout"), "timeout")
    if timeout is not None and timeout <= 0:
        raise InvalidParameter("Configuration: a target's timeout must be 1 or more.", param=PARAM)
    expression = item.get("expression")
    skip_if = item.get("skip_if")
    order_by = item.get("order_by")
    known_sid = item.get("known_worker_sid")
    known_name = item.get("known_worker_friendly_name")
    if known_sid and known_name:
        raise InvalidParameter(
            "Configuration: a target takes known_worker_sid or known_worker_friendly_name, "
            "not both.",
            param=PARAM,
        )
    return Target(
        queue=str(queue),
        priority=_whole(item.get("priority"), "priority"),
        timeout=timeout,
        expression=str(expression) if expression else None,
        skip_if=str(skip_if) if skip_if else None,
        order_by=str(order_by) if order_by else None,
        known_worker_sid=str(known_sid) if known_sid else None,
        known_worker_friendly_name=str(known_name) if known_name else None,
        worker_filter=parse_expression(str(expression), param=PARAM) if expression else None,
        skip_filter=parse_expression(str(skip_if), param=PARAM) if skip_if else None,
        ordering=parse_order_by(str(order_by)) if order_by else (),
    )


_ORDER_PART = re.compile(r"^\s*(?P<ref>\S+)(?:\s+(?P<dir>asc|desc))?\s*$", re.IGNORECASE)


def parse_order_by(text: str, *, param: str = PARAM) -> tuple[OrderBy, ...]:
    """``worker.level DESC, worker.experience ASC`` (direction optional, ASC by default)."""
    keys = []
    for part in text.split(","):
        match = _ORDER_PART.match(part)
        if match is None:
            raise InvalidParameter(
                f"order_by must be a list of 'worker.<attribute> ASC|DESC', not {part.strip()!r}.",
                param=param,
            )
        reference = parse_reference(match.group("ref"), param=param)
        direction = (match.group("dir") or "asc").lower()
        keys.append(OrderBy(reference, direction == "desc"))
    return tuple(keys)


# --- Where a task goes ----------------------------------------------------------------------


def reroutes_on_attribute_change(status: str) -> bool:
    """Whether TaskRouter routes a task in ``status`` through its workflow again when its
    attributes change: a pending task is, and may move queue and take its new target's
    priority; its age stays (docs/taskrouter.md, "Tasks" [TaskDoc])."""
    return status == rules.PENDING


def route(configuration: str, attributes: Mapping[str, Any]) -> Route:
    """Where a new task with these attributes goes: its first target (or default_filter)."""
    try:
        parsed = parse_configuration(configuration)
    except InvalidParameter:
        return NO_ROUTE
    position = entry_position(parsed, attributes)
    if position is None:
        return NO_ROUTE
    target = target_at(parsed, position)
    if position.filter_index == DEFAULT_FILTER:
        return Route(target.queue, None, None)
    chosen = parsed.filters[position.filter_index]
    return Route(target.queue, target.priority, chosen.friendly_name, chosen.expression.text)


def priority_after(target_priority: int | None, asked: int | None) -> int | None:
    """The priority a task ends with when it stands at a target: the target's, when it
    sets one (it wins over what a client asks for), else the one asked (None: unchanged)."""
    return target_priority if target_priority is not None else asked


@dataclass(frozen=True, slots=True)
class Reroute:
    """What saving new attributes does to a task's place: ``rerouted`` when TaskRouter
    drives it through its workflow again (pending tasks only), ``route`` where the workflow
    sends these attributes, and the queue and priority the task has afterwards."""

    rerouted: bool
    route: Route
    task_queue_sid: str | None
    priority: int | None

    def moves(self, queue_sid: str | None) -> bool:
        return self.task_queue_sid != queue_sid


def reroute(
    configuration: str | None,
    attributes: Mapping[str, Any],
    *,
    status: str,
    task_queue_sid: str | None,
    priority: int | None,
) -> Reroute:
    """Where a task now in ``task_queue_sid`` with ``priority`` stands after its attributes
    become ``attributes`` (the sandbox's UpdateTask and Taskdeck's preview both follow
    this). A task that is not pending stays where it is; so does a pending one whose
    workflow routes the new attributes nowhere. Otherwise it enters the first target of
    the matching filter (or default_filter), and that target's priority when it sets one."""
    found = route(configuration, attributes) if configuration else NO_ROUTE
    if not reroutes_on_attribute_change(status) or found.task_queue_sid is None:
        return Reroute(False, found, task_queue_sid, priority)
    return Reroute(True, found, found.task_queue_sid, priority_after(found.priority, priority))


# --- What attribute change sends a task to a queue -------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueWay:
    """How a task can be sent to one queue its workflow reaches.

    ``changes`` are the attributes to set (paths and JSON values), empty when the task is
    routed there already (``already``); None when no simple change reaches the queue, and
    ``reason`` says why. ``filter_friendly_name`` and ``filter_expression`` name the filter
    that would send it there (None for default_filter)."""

    task_queue_sid: str
    changes: tuple[tuple[tuple[str, ...], Any], ...] | None
    reason: str = ""
    already: bool = False
    filter_friendly_name: str | None = None
    filter_expression: str | None = None
    priority: int | None = None


def simple_equalities(expression: Expression) -> tuple[tuple[tuple[str, ...], Any], ...] | None:
    """The attribute values a plain conjunction of equalities asks for (``a == "x" AND
    b.c == 2``: ``(("a",), "x"), (("b", "c"), 2)``); None when the expression is anything
    else (OR, another operator, an array index, an array value, two values for one key).
    A constant comparison that is always true (``1 == 1``) asks for nothing."""
    node = expression.tree
    conditions = node.conditions if isinstance(node, AllOf) else (node,)
    found: dict[tuple[str, ...], Any] = {}
    for condition in conditions:
        if not isinstance(condition, Comparison) or condition.operator != EQ:
            return None
        left, right = condition.left, condition.right
        if isinstance(left, Constant) and isinstance(right, Constant):
            if not Expression(expression.text, tree=condition).matches({}):
                return None  # never true: nothing can satisfy it
            continue
        if isinstance(left, Constant):
            left, right = right, left
        if not isinstance(left, Reference) or not isinstance(right, Constant):
            return None  # two references: no single value to set
        if isinstance(right.value, tuple) or not all(isinstance(p, str) for p in left.path):
            return None
        path = tuple(str(p) for p in left.path)
        if path in found and found[path] != right.value:
            return None
        if any(path[: len(k)] == k or k[: len(path)] == path for k in found if k != path):
            return None  # one key inside another: they cannot both hold values
        found[path] = right.value
    return tuple(found.items())


def set_attributes(
    attributes: Mapping[str, Any], changes: Iterable[tuple[tuple[str, ...], Any]]
) -> dict[str, Any] | None:
    """A copy of ``attributes`` with each path set to its value (objects made on the way);
    None when a path runs through a value that is not an object."""
    result: dict[str, Any] = json.loads(json.dumps(dict(attributes)))
    for path, value in changes:
        here = result
        for key in path[:-1]:
            nxt = here.setdefault(key, {})
            if not isinstance(nxt, dict):
                return None
            here = nxt
        here[path[-1]] = value
    return result


def describe_changes(changes: Iterable[tuple[tuple[str, ...], Any]]) -> str:
    """``language = "es", customer.tier = "gold"`` (values as JSON)."""
    return ", ".join(
        f"{'.'.join(path)} = {json.dumps(value, ensure_ascii=False)}" for path, value in changes
    )


def ways_to_queues(configuration: str, attributes: Mapping[str, Any]) -> list[QueueWay]:
    """Every queue the workflow can route a task to, in the workflow's order, each with the
    attribute change that sends a task with ``attributes`` there when the change is simple:
    the values of a plain conjunction of equalities in a filter whose first target is that
    queue, and only when no filter before it then matches (checked with :func:`route`)."""
    try:
        parsed = parse_configuration(configuration)
    except InvalidParameter:
        return []
    now = route(configuration, attributes)
    order: list[str] = []
    for target in first_targets(parsed):
        if target.queue not in order:
            order.append(target.queue)
    ways = []
    for queue in order:
        if now.task_queue_sid == queue:
            ways.append(
                QueueWay(
                    queue,
                    (),
                    already=True,
                    filter_friendly_name=now.filter_friendly_name,
                    filter_expression=now.filter_expression,
                    priority=now.priority,
                )
            )
            continue
        ways.append(_way_to(parsed, configuration, attributes, queue))
    return ways


def _way_to(
    parsed: WorkflowConfiguration, configuration: str, attributes: Mapping[str, Any], queue: str
) -> QueueWay:
    reasons: list[str] = []
    for item in parsed.filters:
        if not item.targets or item.targets[0].queue != queue:
            continue
        name = f"“{item.friendly_name}”" if item.friendly_name else "a filter"
        changes = simple_equalities(item.expression)
        if changes is None:
            reasons.append(
                f"{name} ({item.expression.text}) is not a plain list of equalities "
                "joined by AND, so no single change is certain to match it"
            )
            continue
        changed = set_attributes(attributes, changes)
        if changed is None:
            reasons.append(
                f"{name} needs {describe_changes(changes)}, which the attributes "
                "cannot take (a value on the way is not an object)"
            )
            continue
        found = route(configuration, changed)
        if found.task_queue_sid == queue:
            return QueueWay(
                queue,
                changes,
                filter_friendly_name=item.friendly_name or None,
                filter_expression=item.expression.text,
                priority=found.priority,
            )
        first = (
            f"“{found.filter_friendly_name}”" if found.filter_friendly_name else "another filter"
        )
        reasons.append(
            f"setting {describe_changes(changes) or 'nothing'} for {name} is not enough: "
            f"{first} ({found.filter_expression}) comes first and still matches"
            if found.filter_expression
            else f"{name} would not match"
        )
    if queue == parsed.default_queue:
        reasons.append(
            "the workflow's default sends a task there only when no filter matches, "
            "and no single change is certain to make every filter miss"
        )
    elif not reasons:
        reasons.append("a task reaches it only when an earlier target times out")
    text = "; ".join(reasons)
    return QueueWay(queue, None, reason=text[:1].upper() + text[1:] + ".")


def entry_position(
    parsed: WorkflowConfiguration, attributes: Mapping[str, Any], *, after: int = -1
) -> Position | None:
    """The first filter after index ``after`` that matches (its first target); without
    one, default_filter when ``after`` is -1 (a new or re-routed task); else None."""
    for index in range(after + 1, len(parsed.filters)):
        item = parsed.filters[index]
        if item.targets and item.expression.matches(attributes):
            return Position(index)
    if after == -1 and parsed.default_queue:
        return Position(DEFAULT_FILTER)
    return None


def target_at(parsed: WorkflowConfiguration, position: Position) -> Target:
    if position.filter_index == DEFAULT_FILTER:
        return Target(queue=parsed.default_queue or "")
    return parsed.filters[position.filter_index].targets[position.target_index]


def target_deadline(parsed: WorkflowConfiguration, position: Position) -> int | None:
    """Seconds after the task entered its filter at which this target times out; None when
    it never does (no timeout, or default_filter)."""
    if position.filter_index == DEFAULT_FILTER:
        return None
    targets = parsed.filters[position.filter_index].targets
    if targets[position.target_index].timeout is None:
        return None
    return sum(t.timeout or 0 for t in targets[: position.target_index + 1])


def next_step(
    parsed: WorkflowConfiguration,
    attributes: Mapping[str, Any],
    position: Position,
    *,
    skipped: bool,
) -> Step:
    """Where a task goes when the target at ``position`` times out (``skipped`` False) or is
    skipped by its ``skip_if`` (True)."""
    if position.filter_index == DEFAULT_FILTER:
        return Step(None, "skipped" if skipped else "timeout")
    targets = parsed.filters[position.filter_index].targets
    if position.target_index + 1 < len(targets):
        return Step(Position(position.filter_index, position.target_index + 1), "target")
    later = entry_position(parsed, attributes, after=position.filter_index)
    if later is not None:
        return Step(later, "filter")
    if skipped and parsed.default_queue:
        return Step(Position(DEFAULT_FILTER), "default")
    return Step(None, "skipped" if skipped else "timeout")


def position_at_age(
    parsed: WorkflowConfiguration, attributes: Mapping[str, Any], age: float
) -> tuple[Position | None, float]:
    """Where a task of this ``age`` stands if nothing but timeouts moved it: its position,
    and the age at which it entered that position's filter (None position: it left)."""
    position = entry_position(parsed, attributes)
    entered = 0.0
    while position is not None:
        deadline = target_deadline(parsed, position)
        if deadline is None or age < entered + deadline:
            return position, entered
        step = next_step(parsed, attributes, position, skipped=False)
        if step.position is not None and step.position.filter_index != position.filter_index:
            entered += deadline
        position = step.position
    return None, entered


# --- Which workers --------------------------------------------------------------------------


def worker_view(
    attributes: Mapping[str, Any] | None,
    *,
    sid: str,
    friendly_name: str,
    activity_sid: str | None,
    activity_name: str | None,
    channels: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """What worker expressions read: the attributes, the built-in fields, and ``worker``
    naming the same (so ``worker.skills`` and ``skills`` are one thing)."""
    view: dict[str, Any] = dict(attributes) if isinstance(attributes, Mapping) else {}
    view["sid"] = sid
    view["friendly_name"] = friendly_name
    view["activity_sid"] = activity_sid
    view["activity_name"] = activity_name
    view["channel"] = {name: dict(values) for name, values in (channels or {}).items()}
    view["worker"] = view
    return view


@functools.lru_cache(maxsize=512)
def _queue_expression(text: str) -> Expression | None:
    try:
        return parse_expression(text, param="TargetWorkers")
    except InvalidParameter:
        return None


def queue_accepts(target_workers: str | None, view: Mapping[str, Any]) -> bool:
    """Whether a worker is in a queue: its ``target_workers`` matches the worker."""
    if not target_workers or not target_workers.strip():
        return False
    expression = _queue_expression(target_workers)
    return expression is not None and expression.matches(view)


def _scope(task_attributes: Mapping[str, Any], view: Mapping[str, Any]) -> dict[str, Any]:
    scope = dict(view)
    scope["task"] = task_attributes
    scope["worker"] = view
    return scope


def target_accepts(
    target: Target, task_attributes: Mapping[str, Any], view: Mapping[str, Any]
) -> bool:
    """Whether the target's ``expression`` (if any) lets this worker have this task."""
    if target.worker_filter is None:
        return True
    return target.worker_filter.matches(_scope(task_attributes, view))


_TASK_REFERENCE = re.compile(r"^task\.(?P<path>.+)$")


def known_worker(target: Target, task_attributes: Mapping[str, Any]) -> tuple[str, str] | None:
    """("sid", value) or ("friendly_name", value) when the target names a known worker,
    ("none", "") when it names one the task's attributes do not give; None otherwise."""
    for kind, source in (
        ("sid", target.known_worker_sid),
        ("friendly_name", target.known_worker_friendly_name),
    ):
        if not source:
            continue
        match = _TASK_REFERENCE.match(source.strip())
        if match is None:
            return kind, source.strip()  # a value given outright (a WK... SID)
        try:
            value = resolve(parse_reference(match.group("path"), param=PARAM), task_attributes)
        except InvalidParameter:
            value = None
        if isinstance(value, str) and value:
            return kind, value
        return "none", ""
    return None


def should_skip(target: Target, counts: Mapping[str, int]) -> bool:
    """``skip_if`` against the workers the target would consider: ``workers.available``,
    ``workers.unavailable`` and ``workers.<Activity SID>``."""
    if target.skip_filter is None:
        return False
    return target.skip_filter.matches({"workers": dict(counts)})


T = TypeVar("T")


def order_workers(
    target: Target,
    candidates: Iterable[T],
    *,
    view: Any,
    idle_since: Any,
) -> list[T]:
    """The candidates in the order TaskRouter offers them: by ``order_by`` (workers
    without the attribute last; ignored entirely when a value is not an integer), then
    longest idle first. ``view(c)`` gives a candidate's worker view, ``idle_since(c)`` the
    moment it became idle (smaller: idle longer)."""
    items = list(candidates)
    keys: dict[int, tuple] = {}
    ordering = target.ordering
    if ordering:
        for position, item in enumerate(items):
            worker = view(item)
            key: list[Any] = []
            for clause in ordering:
                value = resolve(clause.reference, {**worker, "worker": worker})
                if value is None:
                    key.append((1, 0))
                    continue
                if isinstance(value, bool) or not isinstance(value, int):
                    ordering = ()
                    break
                key.append((0, -value if clause.descending else value))
            if not ordering:
                break
            keys[position] = tuple(key)
    indexed = list(enumerate(items))
    indexed.sort(key=lambda pair: (keys.get(pair[0], ()) if ordering else (), idle_since(pair[1])))
    return [item for _, item in indexed]


def first_targets(parsed: WorkflowConfiguration) -> Sequence[Target]:
    """Every target a workflow has, in order (for seeding and explanations)."""
    found: list[Target] = [t for f in parsed.filters for t in f.targets]
    if parsed.default_queue:
        found.append(Target(queue=parsed.default_queue))
    return found
