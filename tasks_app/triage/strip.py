"""The queue strip: one row per queue beside the tasks, as a supervisor triages.

Per queue: waiting now, the longest wait, breaching now and within 5 minutes, the service
level today and the agents available of those eligible. Every number links to the table
filtered to exactly the tasks it counts (same statuses as the landing view).

What it costs TaskRouter, shared through the cache by every viewer and instance for
STATISTICS_MAX_AGE seconds (`service._shared_read`), per viewer time zone:

* one read of TaskQueues/Statistics (every queue's real-time figures, and today's
  cumulative ones split at each queue's target: ``StartDate`` = midnight in the viewer's
  zone, ``SplitByWaitTime`` = the targets);
* one more per task channel that has a target of its own (``TaskChannel``);
* one read of the oldest waiting tasks (breaching now and soon: statistics do not count
  them), the same read the table's breach filter and sort use.

The service level of a queue is the share of today's tasks answered within the target:
reservations accepted within it, over those accepted plus the tasks canceled (abandoned)
after waiting past it. Canceled within the target is not held against the queue (a
caller hanging up after five seconds was never going to be answered in time). With
per-channel targets, each channel is counted at its own target and the rest at the
queue's.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest

from tasks_app import presentation
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.statistics import WaitSplit
from tasks_app.triage import breach
from tasks_app.triage.targets import Targets

ZONE_COOKIE = "taskdeck_tz"
WAITING = breach.WAITING
WITH_AGENTS = (rules.ASSIGNED, rules.WRAPPING)


def viewer_zone(request: HttpRequest | None) -> tzinfo:
    """The viewer's time zone: the one their browser uses or they chose (static/js sets
    the cookie), else TASKDECK_TIME_ZONE. "Today" starts at midnight there."""
    name = request.COOKIES.get(ZONE_COOKIE, "") if request is not None else ""
    if name and len(name) <= 64:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def start_of_today(zone: tzinfo, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)


def table_query(**params: str) -> str:
    return "?" + urlencode(params)


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    within: int  # accepted within the target
    counted: int  # accepted, plus canceled after waiting past the target

    @property
    def percent(self) -> int | None:
        return None if not self.counted else int(100 * self.within / self.counted)

    @property
    def text(self) -> str:
        return "none yet" if self.percent is None else f"{self.percent}%"


@dataclass(frozen=True, slots=True)
class QueueRow:
    sid: str
    name: str
    waiting: int
    longest_wait: int  # seconds since creation of its longest-waiting task
    longest_in_queue: int  # seconds in this queue of the task there longest
    breaching: int | None  # None: no target
    soon: int | None
    target: str  # "2 min", "2 min; chat 30 s", or "" (no target)
    service_level: ServiceLevel | None
    available: int
    eligible: int

    @property
    def longest_wait_text(self) -> str:
        return presentation.human_duration(self.longest_wait) if self.waiting else ""

    @property
    def level_class(self) -> str:
        """breach-now under 80%, breach-soon under 95% (the text always says the figure)."""
        level = self.service_level
        if level is None or level.percent is None:
            return ""
        return "breach-now" if level.percent < 80 else "breach-soon" if level.percent < 95 else ""

    # The table filtered to exactly what each figure counts.
    def _query(self, **more: str) -> str:
        return table_query(status=",".join(WAITING), queue=self.sid, **more)

    @property
    def waiting_query(self) -> str:
        return self._query(sort="breach")

    @property
    def longest_query(self) -> str:
        return self._query(sort="created")

    @property
    def breaching_query(self) -> str:
        return self._query(breach=breach.NOW, sort="breach")

    @property
    def soon_query(self) -> str:
        return self._query(breach=breach.SOON, sort="breach")

    @property
    def with_agents_query(self) -> str:
        # Today's accepted tasks that are still open (TaskRouter forgets closed ones).
        return table_query(status=",".join(WITH_AGENTS), queue=self.sid, sort="-priority,created")


@dataclass(frozen=True, slots=True)
class QueueStrip:
    rows: tuple[QueueRow, ...]
    statistics: tuple[taskrouter.TaskQueueStatistics, ...]
    since: datetime  # the start of "today"
    zone_name: str
    targets_set: bool
    capped: bool  # more waiting tasks than one breach read covers
    # When the oldest of the reads it was built from was sent (None: no read said).
    read_at: datetime | None = None


def _chunks(values: Sequence[int]) -> list[tuple[int, ...]]:
    size = rules.SPLIT_BY_WAIT_TIME_MAX
    ordered = sorted(set(values))
    return [tuple(ordered[i : i + size]) for i in range(0, len(ordered), size)] or [()]


def _read(
    workspace_sid: str,
    viewer: str | None,
    since: datetime | None,
    thresholds: Sequence[int],
    channel: str | None = None,
) -> tuple[dict[str, taskrouter.TaskQueueStatistics], dict[str, dict[int, WaitSplit]]]:
    """Every queue's statistics, and its splits by threshold (several reads only when more
    thresholds than TaskRouter takes at once)."""
    first: dict[str, taskrouter.TaskQueueStatistics] = {}
    splits: dict[str, dict[int, WaitSplit]] = {}
    for chunk in _chunks(thresholds):
        items = taskrouter.queue_statistics(
            workspace_sid=workspace_sid,
            viewer=viewer,
            start_date=since,
            split_by_wait_time=chunk,
            task_channel=channel,
        )
        for item in items:
            first.setdefault(item.task_queue_sid, item)
            splits.setdefault(item.task_queue_sid, {}).update(item.split_by_wait_time)
    return first, splits


def _service_level(
    queue_sid: str,
    targets: Targets,
    whole: taskrouter.TaskQueueStatistics | None,
    splits: dict[str, dict[int, WaitSplit]],
    by_channel: dict[str, tuple[dict, dict]],
) -> ServiceLevel | None:
    own = targets.for_queue(queue_sid)
    channels = targets.channels_of(queue_sid)
    if own is None and not channels:
        return None
    within = counted = 0
    rest_accepted = whole.reservations_accepted if whole else 0
    rest_within = rest_canceled_late = 0
    if own is not None:
        split = splits.get(queue_sid, {}).get(own, WaitSplit())
        rest_within, rest_canceled_late = split.accepted_below, split.canceled_above
    for channel, seconds in channels.items():
        stats, channel_splits = by_channel.get(channel, ({}, {}))
        item = stats.get(queue_sid)
        split = channel_splits.get(queue_sid, {})
        at_own = split.get(seconds, WaitSplit())
        within += at_own.accepted_below
        counted += (item.reservations_accepted if item else 0) + at_own.canceled_above
        if own is not None:  # this channel's share comes out of the queue's figures
            at_queue = split.get(own, WaitSplit())
            rest_accepted -= item.reservations_accepted if item else 0
            rest_within -= at_queue.accepted_below
            rest_canceled_late -= at_queue.canceled_above
    if own is not None:
        within += max(0, rest_within)
        counted += max(0, rest_accepted) + max(0, rest_canceled_late)
    return ServiceLevel(within=within, counted=counted)


def _target_text(queue_sid: str, targets: Targets) -> str:
    parts = []
    own = targets.for_queue(queue_sid)
    if own is not None:
        parts.append(presentation.human_duration(own))
    parts += [
        f"{channel} {presentation.human_duration(seconds)}"
        for channel, seconds in sorted(targets.channels_of(queue_sid).items())
    ]
    return "; ".join(parts)


def build(
    *,
    workspace_sid: str,
    queues: Sequence[taskrouter.TaskQueue],
    targets: Targets,
    zone: tzinfo,
    viewer: str | None = None,
    now: datetime | None = None,
) -> QueueStrip:
    """The strip (raises TaskRouterError when a read fails)."""
    now = now or datetime.now(UTC)
    since = start_of_today(zone, now)
    queue_targets = [t for q in queues if (t := targets.for_queue(q.sid)) is not None]
    stats, splits = _read(workspace_sid, viewer, since, queue_targets)
    by_channel: dict[str, tuple[dict, dict]] = {}
    for channel in sorted({channel for (_wq, channel) in targets.channels}):
        wanted = [s for (wq, ch), s in targets.channels.items() if ch == channel]
        wanted += [
            t
            for (wq, ch) in targets.channels
            if ch == channel and (t := targets.for_queue(wq)) is not None
        ]
        by_channel[channel] = _read(workspace_sid, viewer, since, wanted, channel)

    breaching: dict[str, int] = {}
    soon: dict[str, int] = {}
    capped = False
    read_times = [
        item.read_at
        for found in (stats, *(channel_stats for channel_stats, _ in by_channel.values()))
        for item in found.values()
        if item.read_at is not None
    ]
    if not targets.empty:
        page = waiting_tasks(workspace_sid, viewer=viewer)
        capped = page.next_page_url is not None
        read_times.append(page.read_at)
        for task in page.tasks:
            found = breach.of(task, targets, now)
            if found is None or not task.task_queue_sid:
                continue
            if found.state == breach.NOW:
                breaching[task.task_queue_sid] = breaching.get(task.task_queue_sid, 0) + 1
            elif found.state == breach.SOON:
                soon[task.task_queue_sid] = soon.get(task.task_queue_sid, 0) + 1

    rows = []
    for queue in sorted(queues, key=lambda q: q.friendly_name.casefold()):
        item = stats.get(queue.sid)
        by_status = item.tasks_by_status if item else {}
        has_target = targets.has_any(queue.sid)
        rows.append(
            QueueRow(
                sid=queue.sid,
                name=queue.friendly_name,
                waiting=sum(by_status.get(s, 0) for s in WAITING),
                longest_wait=item.longest_task_waiting_age if item else 0,
                longest_in_queue=item.longest_relative_task_age_in_queue if item else 0,
                breaching=breaching.get(queue.sid, 0) if has_target else None,
                soon=soon.get(queue.sid, 0) if has_target else None,
                target=_target_text(queue.sid, targets),
                service_level=_service_level(queue.sid, targets, item, splits, by_channel),
                available=item.total_available_workers if item else 0,
                eligible=item.total_eligible_workers if item else 0,
            )
        )
    return QueueStrip(
        rows=tuple(rows),
        statistics=tuple(stats.values()),
        since=since,
        zone_name=getattr(zone, "key", None) or str(zone),
        targets_set=not targets.empty,
        capped=capped,
        read_at=min(read_times) if read_times else None,
    )


WAITING_QUERY = taskrouter.TaskQuery(
    statuses=WAITING, ordering=(rules.OrderKey("DateCreated", descending=False),)
)


def waiting_tasks(workspace_sid: str, *, viewer: str | None) -> taskrouter.TaskPage:
    """The oldest waiting tasks of the workspace (one shared read)."""
    return taskrouter.list_tasks(
        workspace_sid=workspace_sid,
        query=WAITING_QUERY,
        page_size=breach.READ_LIMIT,
        max_age=taskrouter.STATISTICS_MAX_AGE,
        viewer=viewer,
    )
