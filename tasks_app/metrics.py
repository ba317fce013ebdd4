"""Prometheus metrics, correct under several gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py sets it before the workers fork),
each process writes its samples to files there and `/metrics` merges them all, so any
worker answering the scrape reports the whole instance. Without it (runserver, tests) the
process's own registry is served. Gauges that describe shared state (the bulk queue, the
circuit breakers) are read from the database or the shared cache at scrape time rather
than kept per process.

TaskRouter calls, shared reads and budget waits are reported by the service package
through its signals (tasks_app/taskrouter/signals.py), which this module listens to: the
service package never imports this one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.dispatch import receiver
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

from dashboard.env import env_str
from tasks_app.taskrouter import client, limits, signals

# Every label takes its values from a closed set, whatever a client sends: a label fed
# from the request (gunicorn accepts any upper-case token as a method) would let anyone
# grow this page, and the samples behind it, without limit.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"

PAGE_SECONDS = Histogram(
    "taskdeck_page_seconds",
    "Time to answer a page, by view (the URL conf's names) and method ('other': any other)",
    ["view", "method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
TASKROUTER_CALLS = Counter(
    "taskdeck_taskrouter_calls_total",
    "Calls to TaskRouter (each attempt), by endpoint (rate-limit resource key) and outcome: "
    + ", ".join(signals.OUTCOMES),
    ["endpoint", "outcome"],
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
INDEX_LAG_SECONDS = Histogram(
    "taskdeck_index_lag_seconds",
    "From TaskRouter recording an event to the follower applying it to the index",
    buckets=(0.5, 1, 2, 3, 5, 10, 30, 60, 300),
)

# The resource keys of the calls Taskdeck makes; a key built from anything else (a path
# TaskRouter handed back) is counted as "other".
ENDPOINTS = frozenset(
    limits.resource_key(method, path, names)
    for method, path, names in (
        ("GET", "/v1/Workspaces", ()),
        ("GET", "/v1/Workspaces/WS/Workflows", ()),
        ("GET", "/v1/Workspaces/WS/TaskQueues", ()),
        ("GET", "/v1/Workspaces/WS/TaskChannels", ()),
        ("GET", "/v1/Workspaces/WS/Tasks", ()),
        ("GET", "/v1/Workspaces/WS/Tasks", ("EvaluateTaskAttributes",)),
        ("GET", f"/v1/Workspaces/WS/Tasks/WT{'0' * 32}", ()),
        ("POST", "/v1/Workspaces/WS/Tasks", ()),
        ("POST", f"/v1/Workspaces/WS/Tasks/WT{'0' * 32}", ()),
        ("DELETE", f"/v1/Workspaces/WS/Tasks/WT{'0' * 32}", ()),
        ("GET", f"/v1/Workspaces/WS{'0' * 32}/RealTimeStatistics", ()),
        ("GET", "/v1/Workspaces/WS/TaskQueues/Statistics", ()),
    )
)


def endpoint_label(key: str) -> str:
    return key if key in ENDPOINTS else OTHER


def method_label(method: str | None) -> str:
    return method if method in METHODS else OTHER


# --- What the service package reports (tasks_app/taskrouter/signals.py) -----------------


@receiver(signals.call_finished, dispatch_uid="metrics-call-finished")
def _count_call(sender, *, endpoint: str, outcome: str, attempt: int, status, **_) -> None:
    endpoint = endpoint_label(endpoint)
    TASKROUTER_CALLS.labels(endpoint=endpoint, outcome=outcome).inc()
    if attempt > 1:
        TASKROUTER_RETRIES.labels(endpoint=endpoint).inc()
    if status == 412:
        CONFLICTS.inc()


@receiver(signals.shared_read, dispatch_uid="metrics-shared-read")
def _count_shared_read(sender, *, result: str, **_) -> None:
    SHARED_READS.labels(result=result).inc()


@receiver(signals.budget_waited, dispatch_uid="metrics-budget-waited")
def _observe_budget_wait(sender, *, endpoint: str, seconds: float, **_) -> None:
    BUDGET_WAIT_SECONDS.labels(endpoint=endpoint_label(endpoint)).observe(seconds)


# --- Read when scraped: state the whole fleet shares -----------------------------------


class _Breakers(Collector):
    """Each endpoint class's circuit breaker, as every instance sees it (shared cache)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            states = client.breaker_states()
        except Exception:
            return  # misconfigured TaskRouter: the rest of the page is still worth scraping
        gauge = GaugeMetricFamily(
            "taskdeck_taskrouter_breaker_open",
            "1 while the breaker of an endpoint class is open (calls fail fast), "
            "0.5 half-open (one probe may go), 0 closed",
            labels=["endpoint_class"],
        )
        values = {"closed": 0.0, "half-open": 0.5, "open": 1.0}
        for kind, state in states.items():
            gauge.add_metric([kind], values[state])
        yield gauge


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


class _Index(Collector):
    """How long ago each workspace's follower last read the Events feed to its end (from
    the shared database, so every instance reports the fleet's one follower)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.utils import timezone

        from tasks_app.index.models import FollowCursor

        try:
            cursors = list(FollowCursor.objects.exclude(caught_up_at=None))
        except DatabaseError:
            return
        gauge = GaugeMetricFamily(
            "taskdeck_index_behind_seconds",
            "Seconds since the follower last read a workspace's TaskRouter Events to the end",
            labels=["workspace"],
        )
        now = timezone.now()
        for cursor in cursors:
            gauge.add_metric([cursor.workspace_sid], (now - cursor.caught_up_at).total_seconds())
        yield gauge


def _registry() -> CollectorRegistry:
    if env_str("PROMETHEUS_MULTIPROC_DIR"):  # gunicorn.conf.py sets it for its workers
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    registry.register(_BulkQueue())
    registry.register(_Breakers())
    registry.register(_Index())
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
    """Page latency by view name (the URL pattern's name, so not one series per task) and
    method (one of `METHODS`, or "other")."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.url_name if match else None) or "unmatched"
        if view != "metrics":
            PAGE_SECONDS.labels(view=view, method=method_label(request.method)).observe(
                time.perf_counter() - started
            )
        return response
