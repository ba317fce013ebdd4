"""A waiting task's time to breach its service-level target.

A task waits from its creation until an agent accepts it (TaskRouter's SplitByWaitTime
counts the same way, and a re-route does not restart it). It *breaches* once its wait is
past its target (a wait exactly at the target is within it, as the sandbox and the service
level count it); it breaches *soon* when that happens within SOON_SECONDS. Only waiting
tasks (pending, reserved) can breach; the rest have no time to breach.

TaskRouter can neither filter nor sort tasks by this, so the table's ``breach`` filter and
``sort=breach`` work on one read of the oldest waiting tasks (up to READ_LIMIT, shared
through the cache like every table read), filtered and sorted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage.targets import Targets

WAITING = (rules.PENDING, rules.RESERVED)
SOON_SECONDS = 300
# The most waiting tasks one breach read covers (TaskRouter's largest page): the oldest,
# which are the ones closest to breaching whatever their targets.
READ_LIMIT = rules.PAGE_SIZE_MAX

NOW, SOON, LATER = "now", "soon", "later"
FILTERS = {NOW: "breaching now", SOON: "breaching within 5 minutes"}


@dataclass(frozen=True, slots=True)
class Breach:
    target: int  # seconds
    waited: int  # seconds since the task was created
    at: datetime  # when it breaches (or breached)

    @property
    def remaining(self) -> int:
        """Seconds until it breaches (negative: past its target by that much)."""
        return self.target - self.waited

    @property
    def state(self) -> str:
        if self.remaining < 0:
            return NOW
        return SOON if self.remaining <= SOON_SECONDS else LATER


def of(task: taskrouter.Task, targets: Targets, now: datetime) -> Breach | None:
    """The task's time to breach as of ``now``; None for a task that is not waiting, has
    no target, or no creation date."""
    if task.assignment_status not in WAITING or task.date_created is None:
        return None
    target = targets.for_task(task.task_queue_sid, task.task_channel_unique_name)
    if target is None:
        return None
    waited = max(0, int((now - task.date_created).total_seconds()))
    return Breach(target=target, waited=waited, at=task.date_created + timedelta(seconds=target))


def matching(
    tasks: Iterable[taskrouter.Task], targets: Targets, now: datetime, state: str
) -> list[taskrouter.Task]:
    """The tasks breaching now (``state`` NOW) or within five minutes, not yet (SOON)."""
    found = []
    for task in tasks:
        breach = of(task, targets, now)
        if breach is not None and breach.state == state:
            found.append(task)
    return found


def closest_first(
    tasks: Sequence[taskrouter.Task], targets: Targets, now: datetime, *, reverse: bool = False
) -> list[taskrouter.Task]:
    """Breaching or closest to breaching first (the furthest past its target leads); then
    the tasks with no time to breach, highest priority and longest waiting first, as
    TaskRouter would assign them. ``reverse``: the furthest from breaching first."""

    def key(task: taskrouter.Task) -> tuple:
        breach = of(task, targets, now)
        created = task.date_created.timestamp() if task.date_created else 0.0
        if breach is None:
            return (1, 0.0, -task.priority, created)
        moment = breach.at.timestamp()
        return (0, -moment if reverse else moment, -task.priority, created)

    return sorted(tasks, key=key)
