"""Service-level targets: how long a queue's tasks should wait at most.

A target is kept per queue, and optionally per task channel of a queue (the channel's
wins); TASKDECK_DEFAULT_SLA_SECONDS applies to a queue with neither. With no target at all
a queue shows no service level and its tasks no time to breach: Taskdeck never invents one.
Every change is recorded in the audit trail (`audit.record_change`), with what the target
was and what it became.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tasks_app import audit, presentation
from tasks_app.models import SlaTarget
from tasks_app.taskrouter import service as taskrouter

# The longest target a person can set: a day (TaskRouter keeps a task waiting up to its
# timeout, at most two weeks, but a service level past a day means nothing on a shift).
TARGET_MAX_SECONDS = 86_400


@dataclass(frozen=True)
class Targets:
    """The targets of one workspace, as one read of the database."""

    queues: Mapping[str, int] = field(default_factory=dict)  # queue SID -> seconds
    channels: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (WQ, channel)
    default: int | None = None

    def for_queue(self, queue_sid: str | None) -> int | None:
        """The queue's own target, else the default (None: no target)."""
        if queue_sid and queue_sid in self.queues:
            return self.queues[queue_sid]
        return self.default

    def for_task(self, queue_sid: str | None, channel: str | None) -> int | None:
        """The target of a task in this queue on this channel."""
        if queue_sid and channel and (queue_sid, channel) in self.channels:
            return self.channels[(queue_sid, channel)]
        return self.for_queue(queue_sid)

    def channels_of(self, queue_sid: str) -> dict[str, int]:
        """The queue's per-channel targets, by channel unique name."""
        return {ch: s for (wq, ch), s in self.channels.items() if wq == queue_sid}

    def has_any(self, queue_sid: str) -> bool:
        return self.for_queue(queue_sid) is not None or bool(self.channels_of(queue_sid))

    @property
    def empty(self) -> bool:
        return not self.queues and not self.channels and self.default is None


def default_seconds() -> int | None:
    value = int(settings.TASKDECK_DEFAULT_SLA_SECONDS or 0)
    return value if value > 0 else None


def load(workspace_sid: str) -> Targets:
    """The workspace's targets (one query)."""
    queues: dict[str, int] = {}
    channels: dict[tuple[str, str], int] = {}
    rows = SlaTarget.objects.filter(workspace_sid=workspace_sid).values_list(
        "queue_sid", "channel", "seconds"
    )
    for queue_sid, channel, seconds in rows:
        if channel:
            channels[(queue_sid, channel)] = seconds
        else:
            queues[queue_sid] = seconds
    return Targets(queues=queues, channels=channels, default=default_seconds())


# How long the table's copy of a workspace's targets may be kept. Every change of a target
# deletes it at once (below); this bounds what that cannot reach: a copy stored by a
# reader that read the database just before a change committed, another worker's local
# memory (CACHE_URL unset), or Redis unreachable at the moment of the change. No longer
# than the strip's own figures may be old (STATISTICS_MAX_AGE).
SHARED_SECONDS = taskrouter.STATISTICS_MAX_AGE


def _shared_key(workspace_sid: str) -> str:
    return f"sla-targets:{workspace_sid}:{default_seconds()}"


def shared(workspace_sid: str) -> Targets:
    """`load`, through the shared cache: the table page and its live refreshes read the
    same targets many times a minute, and they change only on the targets page."""
    found = cache.get(_shared_key(workspace_sid))
    if found is None:
        found = load(workspace_sid)
        cache.set(_shared_key(workspace_sid), found, SHARED_SECONDS)
    return found


@receiver(post_save, sender=SlaTarget, dispatch_uid="sla-target-saved")
@receiver(post_delete, sender=SlaTarget, dispatch_uid="sla-target-deleted")
def _forget_shared(sender, instance: SlaTarget, **kwargs) -> None:
    """A changed target shows on the next page: the copy goes now, and again once the
    change commits (a page reading meanwhile may have stored what it read before)."""
    key = _shared_key(instance.workspace_sid)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


# --- Reading what a person typed ---------------------------------------------------------

_WAIT = re.compile(
    r"^\s*(?:(?P<m>\d+)\s*:\s*(?P<s>[0-5]\d)|(?P<n>\d+)\s*(?P<unit>s|sec|secs|seconds?|"
    r"m|min|mins|minutes?|h|hours?)?)\s*$",
    re.IGNORECASE,
)
WAIT_HELP = "Seconds (30), or with a unit (30 s, 2 min, 1 h), or minutes:seconds (1:30)."


def parse_wait(text: str) -> int | None:
    """``"2 min"`` -> 120; blank -> None (no target). ValidationError with a message
    that says what is accepted, for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    found = _WAIT.match(text)
    if found is None:
        raise forms.ValidationError(f"{text[:40]!r} is not a wait. {WAIT_HELP}", code="wait")
    if found["m"] is not None:
        seconds = int(found["m"]) * 60 + int(found["s"])
    else:
        unit = (found["unit"] or "s").lower()
        scale = 3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1
        seconds = int(found["n"]) * scale
    if not 1 <= seconds <= TARGET_MAX_SECONDS:
        raise forms.ValidationError(
            f"A target is between 1 s and {presentation.human_duration(TARGET_MAX_SECONDS)} "
            f"(24 h), not {presentation.human_duration(seconds)}.",
            code="range",
        )
    return seconds


def wait_text(seconds: int | None) -> str:
    """How a stored target reads in its field: exact, and short (``90`` -> ``1:30``)."""
    if seconds is None:
        return ""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    if seconds > 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds} s"


class WaitField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"autocomplete": "off", "class": "narrow", "inputmode": "text"}),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        return parse_wait(super().clean(value))


class QueueTargetsForm(forms.Form):
    """One queue's targets: for every channel (``all``), and per task channel."""

    def __init__(
        self,
        data=None,
        *,
        queue: taskrouter.TaskQueue,
        channels: Sequence[taskrouter.TaskChannel],
        targets: Targets,
    ) -> None:
        super().__init__(data, prefix=queue.sid, label_suffix="")
        self.queue = queue
        self.channels = tuple(channels)
        own = targets.queues.get(queue.sid)
        default = targets.default
        self.fields["all"] = WaitField(
            label="Every channel",
            initial=wait_text(own),
            help_text=(
                f"Empty: the default, {presentation.human_duration(default)}."
                if default
                else "Empty: no target (no service level shown)."
            ),
        )
        for channel in self.channels:
            self.fields[f"channel_{channel.unique_name}"] = WaitField(
                label=channel.friendly_name or channel.unique_name,
                initial=wait_text(targets.channels.get((queue.sid, channel.unique_name))),
            )

    def wanted(self) -> dict[str, int | None]:
        """What the queue's targets become, by channel ("" for every channel)."""
        result = {"": self.cleaned_data["all"]}
        for channel in self.channels:
            result[channel.unique_name] = self.cleaned_data[f"channel_{channel.unique_name}"]
        return result

    def channel_fields(self) -> list[forms.BoundField]:
        return [self[f"channel_{c.unique_name}"] for c in self.channels]


def _label(queue: taskrouter.TaskQueue, channel: str) -> str:
    return f"{queue.friendly_name} ({channel})" if channel else queue.friendly_name


def save(
    *,
    actor: str,
    workspace_sid: str,
    queue: taskrouter.TaskQueue,
    wanted: Mapping[str, int | None],
) -> list[str]:
    """Make the queue's targets what ``wanted`` says (None: no target of its own), each
    change audited in the same transaction; returns the changes in words."""
    changes: list[str] = []
    with transaction.atomic():
        current = {
            row.channel: row
            for row in SlaTarget.objects.select_for_update().filter(
                workspace_sid=workspace_sid, queue_sid=queue.sid
            )
        }
        for channel, seconds in wanted.items():
            row = current.get(channel)
            before = row.seconds if row is not None else None
            if before == seconds:
                continue
            if seconds is None:
                row.delete()
            elif row is None:
                SlaTarget.objects.create(
                    workspace_sid=workspace_sid,
                    queue_sid=queue.sid,
                    channel=channel,
                    seconds=seconds,
                    updated_by=actor,
                )
            else:
                row.seconds, row.updated_by = seconds, actor
                row.save(update_fields=["seconds", "updated_by", "updated"])
            words = (
                f"Service-level target of {_label(queue, channel)}: "
                f"{presentation.human_duration(before) if before else 'none'} → "
                f"{presentation.human_duration(seconds) if seconds else 'none'}"
            )
            audit.record_change(
                actor=actor,
                action="sla-target",
                workspace_sid=workspace_sid,
                summary=words,
                before=_record(queue, channel, before),
                after=_record(queue, channel, seconds),
            )
            changes.append(words)
    return changes


def _record(queue: taskrouter.TaskQueue, channel: str, seconds: int | None) -> dict:
    return {
        "task_queue_sid": queue.sid,
        "task_queue": queue.friendly_name,
        "channel": channel or "every channel",
        "target_seconds": seconds,
    }
