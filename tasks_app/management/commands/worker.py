"""``manage.py worker``: one Taskdeck worker process.

It runs bulk jobs from the configured django-tasks backend (the database's queue, or RQ on
Redis: TASKDECK_TASKS_BACKEND) and, beside them, the fleet's duties (tasks_app.fleet):
each duty is done by one worker of the fleet at a time, and taken over by another when that
one dies. Run as many workers as the bulk work needs; two or more also make the duties
survive the loss of one.

A worker outlives its engines' outages: when the database (or RQ's Redis) goes away, the
queue's own loop stops with an error; this command says so, waits (1 s, doubling up to
30 s) and starts the loop again, for as long as it takes. Only a signal stops it. A job cut
off by the outage is handed to a worker again by the fleet's bulk-takeover duty.

RQ runs each job in the worker's own process (rq's SimpleWorker), as the database queue
does, rather than in a work-horse forked per job: the worker has duty threads, and a fork
beside running threads can leave the child waiting forever on a lock one of them held;
and the worker's metrics (bulk outcomes, TaskRouter calls) stay in the process that serves
them on TASKDECK_WORKER_METRICS_PORT.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from tasks_app import metrics
from tasks_app.fleet.duties import DutyRunner

log = logging.getLogger("tasks_app.worker")

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0


class Command(BaseCommand):
    help = "Run bulk jobs (database queue or RQ, per settings) and the fleet's duties."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--duties-only",
            action="store_true",
            help="Only the fleet's duties (no bulk jobs): a process that follows and alerts.",
        )
        parser.add_argument(
            "--no-duties", action="store_true", help="Only bulk jobs, none of the fleet's duties."
        )

    def handle(self, *args: Any, duties_only: bool, no_duties: bool, **options: Any) -> None:
        _without_connection_pool()
        metrics.serve_worker_metrics()
        runner = None if no_duties else DutyRunner()
        if runner is not None:
            runner.start()
        try:
            if duties_only:
                self._wait_for_a_signal()
            else:
                self._run_the_queue()
        finally:
            if runner is not None:
                runner.stop()

    def _run_the_queue(self) -> None:
        """The queue's loop, started again after any failure until a signal stops it (the
        loops' own signal handlers end them; between two runs, ours do)."""
        stop = threading.Event()
        pause = FIRST_PAUSE
        while True:
            started = time.monotonic()
            try:
                self._queue_loop()
                return  # the loop ended by itself: a signal asked it to
            except Exception as error:  # nothing but a signal stops a worker
                if time.monotonic() - started > LONGEST_PAUSE:
                    pause = FIRST_PAUSE  # it ran well for a while: a new outage
                first_line = (str(error).strip().splitlines() or [""])[0]
                log.warning(
                    "worker: the job queue stopped (%s: %s); starting it again in %g s",
                    type(error).__name__, first_line, pause,
                )  # fmt: skip
            connections.close_all()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            if stop.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE)

    @staticmethod
    def _queue_loop() -> None:
        queue = settings.TASKDECK_TASK_QUEUE
        if settings.TASKDECK_TASKS_BACKEND == "rq":
            from django_rq.workers import get_worker

            # No scheduler: nothing is deferred (stalled jobs are handed over by a fleet
            # duty, which needs no lock that a dead worker could keep). Not `manage.py
            # rqworker`, which exits when Redis is unreachable instead of raising.
            worker = get_worker(
                queue, job_class="django_tasks_rq.Job", worker_class="rq.SimpleWorker"
            )
            connections.close_all()
            worker.work()
        else:
            # No autoreload: the reloader would run the duties in two processes.
            call_command("db_worker", queue_name=queue, reload=False, startup_delay=False)

    @staticmethod
    def _wait_for_a_signal() -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(1):
            pass


def _without_connection_pool() -> None:
    """A worker's threads (the queue's loop, each duty, each bulk write) each keep their
    own database connection for as long as they run, which is what a pool sized for
    request threads (DATABASE_POOL_MAX) cannot serve: they would wait on one another.
    Before the first connection is made, the pool is taken out of this process's settings:
    a worker holds one connection for its queue, one for the duty runner and one per duty
    it holds, and one per bulk write in flight (README, "Connections")."""
    for alias in connections:
        connections.settings[alias].get("OPTIONS", {}).pop("pool", None)
