"""Signals of the service module: the one seam where listeners (an audit trail, metrics)
see every write, so no write can bypass them.

Both carry ``write_id`` (the same for the two signals of one write), ``actor`` (who the
write is made for), ``operation`` (create, update, delete), ``workspace_sid``,
``task_sid`` (None for a create), ``data`` (the form fields sent), ``if_match``, ``seen``
(the task as the person saw it, or None) and ``why`` (the person's reason when it is not
among the data sent, or None).

- `task_write_started` is sent before the request goes out: the intent.
- `task_written` is sent once the write has ended, with ``outcome``: the ApiResponse, or
  the TaskRouterError raised, or None if something else interrupted it.
"""

from django.dispatch import Signal

task_write_started = Signal()
task_written = Signal()
