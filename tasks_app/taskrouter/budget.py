"""One rate budget for the whole fleet: every Taskdeck process spends TaskRouter's per-account
limits together, through the shared cache (Redis at scale), so nobody collects 429s.

The limits are TaskRouter's (`limits`: 3 per second for lists filtered by an expression,
the rest configurable). TaskRouter averages each limit over 10 seconds; the budget counts
calls per resource key in one-second buckets and admits a call while the current bucket
and the ten before it hold fewer than limit x 10. Any 10-second window TaskRouter looks at
lies inside those eleven buckets, so the fleet never goes over, and a quiet account may
still spend a burst at once.

When the budget is spent, a call waits for the next second: reads briefly
(TASKDECK_BUDGET_READ_WAIT, then the page says TaskRouter is busy, which it shows with
the last data it has), writes longer, and bulk jobs as long as it takes (`patience`), so
they slow down instead of failing. Every instance must share the cache for the budget to
be fleet-wide; with the default local-memory cache it holds per process. The buckets
follow the wall clock, so instances on several machines need their clocks in step (NTP).
"""

from __future__ import annotations

import contextlib
import contextvars
import random
import time
from collections.abc import Iterator, Mapping
from functools import cache as memoize
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from . import limits
from .errors import RateLimited

_patience: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "taskrouter_budget_patience", default=None
)
BUCKETS = limits.WINDOW_SECONDS + 1


@contextlib.contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Calls made inside wait up to ``seconds`` for budget (background work)."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


@memoize
def _overrides(text: str) -> Mapping[str, int]:
    return limits.parse_overrides(text)


def _enabled() -> bool:
    configured = settings.TASKDECK_RATE_BUDGET
    if configured is not None:
        return configured
    # The embedded sandbox enforces no limits; any real or loopback TaskRouter does.
    return settings.TASKROUTER_BASE_URL != settings.EMBEDDED_SANDBOX_URL


def _parameter_names(params: Any) -> list[str]:
    if not params:
        return []
    if isinstance(params, Mapping):
        return list(params)
    return [name for name, _ in params]


def acquire(method: str, url: str, params: Any = None) -> None:
    """Spend one call of ``method`` ``url`` from the fleet's budget, waiting for it if
    need be; raises RateLimited when the wait would be longer than this call may wait."""
    if not _enabled():
        return
    parts = urlsplit(url)
    names = _parameter_names(params)
    if parts.query:
        names += [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
    key = limits.resource_key(method, parts.path, names)
    allowed = limits.limit_for(key, _overrides(settings.TASKDECK_RATE_LIMITS)) * (
        limits.WINDOW_SECONDS
    )
    account = settings.TWILIO_ACCOUNT_SID or settings.TWILIO_API_KEY
    wait_limit = _patience.get()
    if wait_limit is None:
        wait_limit = (
            settings.TASKDECK_BUDGET_READ_WAIT
            if method.upper() == "GET"
            else settings.TASKDECK_BUDGET_WRITE_WAIT
        )
    started = time.monotonic()
    while True:
        now = time.time()
        second = int(now)
        names_by_second = {f"budget:{account}:{key}:{second - n}": n for n in range(BUCKETS)}
        current = f"budget:{account}:{key}:{second}"
        # Spend first, then look: two instances racing for the last call both see each
        # other's spending, and the one over the limit gives its call back.
        cache.add(current, 0, timeout=BUCKETS + 2)
        try:
            mine = cache.incr(current)
        except ValueError:  # evicted between add and incr
            cache.set(current, 1, timeout=BUCKETS + 2)
            mine = 1
        earlier = cache.get_many([name for name in names_by_second if name != current])
        if mine + sum(earlier.values()) <= allowed:
            _observe(key, time.monotonic() - started)
            return
        with contextlib.suppress(ValueError):
            cache.decr(current)
        pause = second + 1 - now + random.uniform(0, 0.05)  # jitter: do not stampede
        if time.monotonic() - started + pause > wait_limit:
            _observe(key, time.monotonic() - started)
            raise RateLimited(
                "TaskRouter's rate limit for this account is spent for the moment. "
                "Try again in a few seconds."
            )
        time.sleep(pause)


def _observe(key: str, waited: float) -> None:
    if waited > 0.001:
        from tasks_app import metrics

        metrics.BUDGET_WAIT_SECONDS.labels(endpoint=key).observe(waited)
