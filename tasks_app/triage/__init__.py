"""Triage: waiting work against service-level targets.

- `targets`: the targets admins set per queue (and per channel of a queue), and the
  default (TASKDECK_DEFAULT_SLA_SECONDS); their form and their audited changes.
- `breach`: a waiting task's time to breach, the table's breach filter and sort.
- `strip`: the per-queue row beside the tasks (waiting, longest wait, breaching now and
  soon, service level today, agents), from TaskRouter's statistics and one shared read of
  the waiting tasks.
"""
