"""Background task functions (django-tasks; on Django 6 the import becomes django.tasks).

Arguments are plain ids: a task may run in another process, on another machine, after a
restart. Each function looks the job up again and does nothing when it is gone. They
go to the deployment's own queue (TASKDECK_TASK_QUEUE), which its workers serve.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.db import close_old_connections
from django_tasks import task

from tasks_app import bulk, requestlog
from tasks_app.models import BulkJob

# RQ's queue is named after the deployment's cache prefix (settings.TASKDECK_TASK_QUEUE), so
# two deployments sharing one Redis never run each other's jobs.
QUEUE = settings.TASKDECK_TASK_QUEUE


def _job(job_id: int) -> BulkJob | None:
    return BulkJob.objects.filter(pk=job_id).first()


@contextlib.contextmanager
def _working_on(job_id: int) -> Iterator[None]:
    """Log lines (TaskRouter calls included) name the job instead of a request; and, as
    Django does around a request, a connection the database dropped meanwhile (an outage,
    a restart) is replaced before the job and let go after it: a worker runs job after job
    in one process and would otherwise fail every one on the dead connection."""
    close_old_connections()
    try:
        with requestlog.bound(f"bulk-job-{job_id}"):
            yield
    finally:
        close_old_connections()


@task(queue_name=QUEUE)
def prepare_bulk_job(job_id: int) -> None:
    """Read a bulk job's tasks for its preview."""
    with _working_on(job_id):
        if job := _job(job_id):
            bulk.prepare(job)


@task(queue_name=QUEUE)
def run_bulk_job(job_id: int) -> None:
    """Write a started bulk job's queued tasks until none is left."""
    with _working_on(job_id):
        if job := _job(job_id):
            bulk.run(job)
