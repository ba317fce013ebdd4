"""The fleet's duties: work that must run exactly once for the whole fleet, however many
web instances and workers run, and be taken over when the process doing it dies.

Following TaskRouter's Events into Taskdeck's index, evaluating alerts and handing stalled
bulk jobs to a live worker are such duties. Each is a `Duty` registered here by the
capability that owns it; every worker process (`manage.py worker`) runs a `DutyRunner`,
which holds a database `lease` for each duty (and each key of it, such as a workspace)
before doing it. A holder renews its lease every few seconds; when it dies, the lease
expires and another worker takes the duty over (`TASKDECK_LEASE_SECONDS`, 6 by default,
so within about 7 seconds).

A lease is a promise, not a lock: a holder paused longer than its lease (a stopped VM, a
long garbage collection) may overlap briefly with its successor. Duties are therefore
written to be idempotent (the follower applies an event once whoever applies it), and a
duty checks `Held.still_held()` before anything it must not do twice.
"""
