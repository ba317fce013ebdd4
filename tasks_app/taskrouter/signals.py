"""Signals of the service package: the one seam where listeners (the audit trail, metrics)
see what it does, so `taskrouter/` never imports the code above it.

Writes. Both carry ``write_id`` (the same for the two signals of one write), ``actor`` (who
the write is made for), ``operation`` (create, update, delete), ``workspace_sid``,
``task_sid`` (None for a create), ``data`` (the form fields sent), ``if_match``, ``seen``
(the task as the person saw it, or None) and ``why`` (the person's reason when it is not
among the data sent, or None).

- `task_write_started` is sent before the request goes out: the intent.
- `task_written` is sent once the write has ended, with ``outcome``: the ApiResponse, or
  the TaskRouterError raised, or None if something else interrupted it.

Calls, reads and waits (for metrics; every value comes from a closed set or is a number):

- `call_finished`: one attempt of one HTTP call ended. ``method``; ``endpoint``, TaskRouter's
  rate-limit resource key (``Task-List``, ``Task-Update``...); ``endpoint_class``, the
  breaker it belongs to (tasks, task, write, directory); ``status``, the HTTP status or None
  when no answer came; ``outcome`` (see `OUTCOMES`); ``attempt`` (1 for the first);
  ``elapsed`` in seconds.
- `shared_read`: a shared read was served: ``result`` is hit, miss or coalesced.
- `budget_waited`: a call waited ``seconds`` for the fleet's rate budget (``endpoint``).
"""

from django.dispatch import Signal

task_write_started = Signal()
task_written = Signal()
call_finished = Signal()
shared_read = Signal()
budget_waited = Signal()

# What became of one attempt, from its HTTP status.
OUTCOMES = (
    "ok",
    "not_found",
    "conflict",
    "rejected",
    "rate_limited",
    "auth_failed",
    "server_error",
    "no_answer",
)


def outcome_of(status: int | None) -> str:
    """The `OUTCOMES` value of an answer's HTTP status (None: no answer at all)."""
    if status is None:
        return "no_answer"
    if 200 <= status < 400:
        return "ok"
    if status == 404:
        return "not_found"
    if status == 412:
        return "conflict"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth_failed"
    if status >= 500:
        return "server_error"
    return "rejected"
