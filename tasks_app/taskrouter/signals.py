"""Signals of the service module.

`task_written` is sent once for every write to TaskRouter (create, update, delete), after
it ends, with ``operation``, ``workspace_sid``, ``task_sid``, ``data`` (the form fields
sent), ``if_match`` and ``outcome`` (the ApiResponse, or the TaskRouterError raised). The
audit trail and metrics listen here, so no write can bypass them.
"""

from django.dispatch import Signal

task_written = Signal()
