"""Taskdeck's own index of TaskRouter: the workspace's Events, followed as they happen.

TaskRouter keeps every workspace's Events for 30 days (``GET /v1/Workspaces/{WS}/Events``),
but deletes a closed task 5 to 8 minutes after it closes, and a page that reads tasks sees
only what is there when it looks. The **follower** (`follower`, a fleet duty: one holder per
workspace for the whole fleet) reads the new Events every ``TASKDECK_FOLLOW_SECONDS`` and
applies each exactly once (`apply`) to:

* ``TaskEvent``: every event, kept after TaskRouter forgets it (a task's timeline);
* ``IndexedTask``: every task seen, open or closed, as its latest event left it, with who
  holds it and whether TaskRouter still has it (search, who changed it, live counts).

The follower's cursor (``FollowCursor``) lives in the database, so a restart, a takeover by
another worker or an outage resumes where it stopped (as far back as TaskRouter's 30 days).
"""
