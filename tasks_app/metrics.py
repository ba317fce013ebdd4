"""Prometheus metrics, correct under several gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py sets it before the workers fork),
each process writes its samples to files there and `/metrics` merges them all, so any
worker answering the scrape reports the whole instance. Without it (runserver, tests) the
process's own registry is served. Gauges that describe shared state (the bulk queue) are
read from the database at scrape time rather than kept per process.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tasks_app.taskrouter import limits

PAGE_SECONDS = Histogram(
    "taskdeck_page_seconds",
    "Time to answer a page, by view",
    ["view", "method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
TASKROUTER_CALLS = Counter(
    "taskdeck_taskrouter_calls_total",
    "Calls to TaskRouter, by endpoint class and HTTP status ('error': no answer)",
    ["endpoint", "status"],
)
TASKROUTER_RETRIES = Counter(
    "taskdeck_taskrouter_retries_total", "TaskRouter calls that were a retry", ["endpoint"]
)
CONFLICTS = Counter(
    "taskdeck_conflicts_total", "Writes TaskRouter refused because the task had changed (412)"
)
SHARED_READS = Counter(
    "taskdeck_shared_reads_total",
    "Shared table reads: hit (served from the cache), miss (read TaskRouter), "
    "coalesced (waited for another reader's answer)",
    ["result"],
)
BUDGET_WAIT_SECONDS = Histogram(
    "taskdeck_budget_wait_seconds",
    "Time spent waiting for the fleet-wide TaskRouter rate budget",
    ["endpoint"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
BULK_ITEMS = Counter("taskdeck_bulk_items_total", "Bulk items finished, by outcome", ["outcome"])


class _BulkQueue(Collector):
    """The writes waiting or under way, read from the shared database when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from tasks_app import bulk

        try:
            depth = bulk.queue_depth()
        except DatabaseError:
            return  # the rest of the page is still worth scraping
        gauge = GaugeMetricFamily(
            "taskdeck_bulk_queue_depth", "Bulk writes waiting or under way, every job"
        )
        gauge.add_metric([], depth)
        yield gauge


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    registry.register(_BulkQueue())
    return registry


class _Everything(Collector):
    """This process's own metrics (single-process mode)."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """What Prometheus scrapes. Counts and timings only: no task data, no identities."""
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def serve_worker_metrics() -> None:
    """A worker's own /metrics, on TASKDECK_WORKER_METRICS_HOST:TASKDECK_WORKER_METRICS_PORT
    (0: none): what its jobs and duties did (bulk outcomes, its TaskRouter calls, budget
    waits), which no web instance sees. Served from a thread of its own; a port already in
    use is said in the log and the worker runs on without."""
    port = settings.TASKDECK_WORKER_METRICS_PORT
    if not port:
        return
    host = settings.TASKDECK_WORKER_METRICS_HOST
    try:
        start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as error:
        logging.getLogger(__name__).warning(
            "worker metrics: cannot listen on %s:%s (%s); this worker is not scraped",
            host, port, error,
        )  # fmt: skip


# --- Page latency ----------------------------------------------------------------------


class PageTimingMiddleware:
    """Page latency by view name (the URL pattern's name, so not one series per task)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.url_name if match else None) or "unmatched"
        if view != "metrics":
            PAGE_SECONDS.labels(view=view, method=request.method).observe(
                time.perf_counter() - started
            )
        return response


# --- TaskRouter calls, counted from the client's own log lines --------------------------


# The client logs every attempt: "taskrouter METHOD PATH -> STATUS in Ts (attempt N, ...)"
# and "taskrouter METHOD PATH failed after Ts (attempt N): Error". Counting from those
# records keeps the HTTP client free of metrics code. Endpoint classes are TaskRouter's
# rate-limit resource keys ("Task-List-EvaluateTaskAttributes", "Task-Update"...).
class TaskRouterCallFilter(logging.Filter):
    """Counts TaskRouter calls, retries and conflicts from the client's log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not (isinstance(record.msg, str) and record.msg.startswith("taskrouter ")):
            return True
        if len(args) >= 5 and " -> " in record.msg:
            method, path, status, _elapsed, attempt = args[:5]
        elif len(args) >= 4 and "failed after" in record.msg:
            method, path, _elapsed, attempt = args[:4]
            status = "error"
        else:
            return True
        try:
            endpoint = limits.resource_key(str(method), str(path))
            TASKROUTER_CALLS.labels(endpoint=endpoint, status=str(status)).inc()
            if isinstance(attempt, int) and attempt > 1:
                TASKROUTER_RETRIES.labels(endpoint=endpoint).inc()
            if status == 412:
                CONFLICTS.inc()
        except Exception:  # noqa: S110 - counting must never break a call's logging
            pass
        return True
