"""Who changed a task since someone read it: the conflict view's "changed by".

The answer comes from the timeline (`story`): the changes whose version lies after the
version the person's form was read at, up to the version the task is at now.

The index may lag behind TaskRouter (the follower reads every ``TASKDECK_FOLLOW_SECONDS``,
and not at all while no worker runs). When it does not yet hold the event of the task's
current version, this reads that one task's events from TaskRouter (ListEvent filtered by
TaskSid: one small request, usually one page) and applies them to the index, which takes
each event once whoever brings it. Calling the follower itself from a page was the other
way: it would read every workspace event since its cursor (many pages on a busy
workspace, in the person's request) and race the fleet's follower for the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from tasks_app.editing import EDITOR_LIFETIME
from tasks_app.index.apply import apply_events
from tasks_app.index.models import TaskEvent
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter

from .story import Entry, bare_version, timeline_of, version_number

log = logging.getLogger(__name__)


def catch_up(*, workspace_sid: str, task_sid: str, version: str) -> None:
    """Bring the index's events of one task up to ``version`` when it lags (see above)."""
    wanted = bare_version(version)
    if (
        not wanted
        or TaskEvent.objects.filter(task_sid=task_sid, data__task_version=wanted).exists()
    ):
        return
    oldest = datetime.now(UTC) - min(EDITOR_LIFETIME, rules.EVENTS_RETENTION)
    query = taskrouter.EventQuery(task_sid=task_sid, start_date=oldest)
    try:
        for page in taskrouter.iter_event_pages(workspace_sid=workspace_sid, query=query):
            apply_events(workspace_sid, page.events)
    except taskrouter.TaskRouterError as error:
        # The conflict itself is shown regardless; it names fewer people.
        log.warning("who changed %s: events unread: %s", task_sid, error)


def between(entries: Sequence[Entry], seen: str, now: str) -> list[Entry]:
    """The entries of changes after version ``seen`` up to ``now``, oldest first."""
    # Changes: events, and Taskdeck's done writes whose events the index lacks (attempts
    # that changed nothing are not changes).
    changes = [e for e in entries if e.version and e.outcome in ("", "done")]
    first, last = version_number(seen), version_number(now)
    if first is not None and last is not None:
        found = [e for e in changes if first < (version_number(e.version) or -1) <= last]
    else:  # versions that are not counters: what follows the change that made ``seen``
        ordered = sorted(changes, key=lambda e: e.at)
        start = next((i for i, e in enumerate(ordered) if e.version == bare_version(seen)), None)
        found = ordered[start + 1 :] if start is not None else []
    return sorted(found, key=lambda e: e.at)


def changes_since(*, workspace_sid: str, task_sid: str, seen: str, now: str) -> list[Entry]:
    """Who changed the task between the version a person read (``seen``) and ``now``."""
    if not seen or bare_version(seen) == bare_version(now):
        return []
    catch_up(workspace_sid=workspace_sid, task_sid=task_sid, version=now)
    return between(timeline_of(task_sid), seen, now)
