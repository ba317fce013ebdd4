"""A task's story: what happened to it, who did it, and undoing Taskdeck's own changes.

* `story`: the task's **timeline**, from the index's copy of TaskRouter's Events merged with
  Taskdeck's audit trail. An event a Taskdeck write caused names the Taskdeck person: the
  write's audit record keeps the version its write produced (``version_after``), and every
  event of that change carries the same version (``event_data.task_version``).
* `who`: **who changed it** between two versions (the conflict view), with the index brought
  up to date for that one task first when it lags.
* `undo`: **undo** and **revert** of Taskdeck's own priority and attribute changes, written
  through the one edit path at the version the change produced (If-Match), so anyone's
  change since is a conflict, never overwritten.
"""
