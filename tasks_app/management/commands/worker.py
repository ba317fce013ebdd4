"""``manage.py worker``: one Taskdeck worker process.

It runs bulk jobs from the configured django-tasks backend (the database's queue, or RQ on
Redis: TASKDECK_TASKS_BACKEND) and, beside them, the fleet's duties (tasks_app.fleet):
each duty is done by one worker of the fleet at a time, and taken over by another when that
one dies. Run as many workers as the bulk work needs; two or more also make the duties
survive the loss of one.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tasks_app.fleet.duties import DutyRunner


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
        runner = None if no_duties else DutyRunner()
        if runner is not None:
            runner.start()
        try:
            if duties_only:
                self._wait_for_a_signal()
            elif settings.TASKDECK_TASKS_BACKEND == "rq":
                call_command(
                    "rqworker",
                    settings.TASKDECK_TASK_QUEUE,
                    job_class="django_tasks_rq.Job",
                    with_scheduler=True,
                )
            else:
                # No autoreload: the reloader would run the duties in two processes.
                call_command("db_worker", reload=False, startup_delay=False)
        finally:
            if runner is not None:
                runner.stop()

    @staticmethod
    def _wait_for_a_signal() -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(1):
            pass
