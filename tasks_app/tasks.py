"""Background task functions (django-tasks; on Django 6 the import becomes django.tasks).

Arguments are plain ids: a task may run in another process, on another machine, after a
restart. Each function looks the job up again and does nothing when it is gone.
"""

from __future__ import annotations

from django_tasks import task

from tasks_app import bulk, requestlog
from tasks_app.models import BulkJob


def _job(job_id: int) -> BulkJob | None:
    return BulkJob.objects.filter(pk=job_id).first()


def _logged_as(job_id: int):
    """Log lines (TaskRouter calls included) name the job instead of a request."""
    return requestlog.bound(f"bulk-job-{job_id}")


@task()
def prepare_bulk_job(job_id: int) -> None:
    """Read a bulk job's tasks for its preview."""
    with _logged_as(job_id):
        if job := _job(job_id):
            bulk.prepare(job)


@task()
def run_bulk_job(job_id: int) -> None:
    """Write a started bulk job's queued tasks until none is left."""
    with _logged_as(job_id):
        if job := _job(job_id):
            bulk.run(job)
