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

The counts live in the ``state`` cache (`store`): the Redis of REDIS_URL, which also holds
RQ's queue and must never evict, when set. A Redis that is down lets calls through
uncounted rather than failing every page.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
import time
from collections.abc import Iterator, Mapping
from functools import cache as memoize
from typing import Any

from django.conf import settings
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

from . import limits
from .errors import RateLimited
from .signals import budget_waited

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


def acquire(method: str, url: str, params: Any = None) -> None:
    """Spend one call of ``method`` ``url`` from the fleet's budget, waiting for it if
    need be; raises RateLimited when the wait would be longer than this call may wait."""
    if not _enabled():
        return
    key = limits.request_key(method, url, params)
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
        current = f"budget:{account}:{key}:{second}"
        earlier = [f"budget:{account}:{key}:{second - n}" for n in range(1, BUCKETS)]
        # Spend first, then look: two instances racing for the last call both see each
        # other's spending, and the one over the limit gives its call back.
        mine, spent_before = _spend(current, earlier)
        if mine + spent_before <= allowed:
            _observe(key, time.monotonic() - started)
            return
        with contextlib.suppress(ValueError):
            store().decr(current)
        pause = second + 1 - now + random.uniform(0, 0.05)  # jitter: do not stampede
        if time.monotonic() - started + pause > wait_limit:
            _observe(key, time.monotonic() - started)
            raise RateLimited(
                "TaskRouter's rate limit for this account is spent for the moment. "
                "Try again in a few seconds."
            )
        time.sleep(pause)


def store() -> BaseCache:
    """Where the fleet's shared state lives (this budget, the circuit breakers): the
    ``state`` cache, on the Redis that must never evict (REDIS_URL), when configured;
    else the default cache."""
    try:
        return caches["state"]
    except InvalidCacheBackendError:
        return caches["default"]


def _spend(current: str, earlier: list[str]) -> tuple[int, int]:
    """Counts one call in this second's bucket: (this bucket's count, the earlier
    buckets' total). Every TaskRouter call pays this, so on Redis it is one round trip
    (a pipeline: INCR, EXPIRE, MGET) instead of Django's add, exists, incr and get_many.

    When the store is down, the budget cannot be kept together; calls then go out
    uncounted (0, 0) rather than every page failing: TaskRouter's own 429s, which the
    client retries, are the limit meanwhile."""
    backend = store()
    if isinstance(backend, RedisCache):
        if getattr(backend, "down", False):
            return 0, 0
        keys = [backend.make_and_validate_key(name) for name in (current, *earlier)]
        try:
            pipe = backend._cache.get_client(keys[0], write=True).pipeline(transaction=False)
            pipe.incr(keys[0])
            pipe.expire(keys[0], BUCKETS + 2)
            pipe.mget(keys[1:])
            mine, _expiry_set, counts = pipe.execute()
        except backend._cache._lib.RedisError as error:
            if hasattr(backend, "failed"):
                backend.failed(error)  # pages say the cache is down; Redis is left alone
            return 0, 0
        # Django's Redis cache stores integers as plain numbers, as INCR leaves them.
        return int(mine), sum(int(count) for count in counts if count is not None)
    backend.add(current, 0, timeout=BUCKETS + 2)
    try:
        mine = backend.incr(current)
    except ValueError:  # evicted between add and incr
        backend.set(current, 1, timeout=BUCKETS + 2)
        mine = 1
    return mine, sum(backend.get_many(earlier).values())


def _observe(key: str, waited: float) -> None:
    if waited > 0.001:
        budget_waited.send_robust(sender=__name__, endpoint=key, seconds=waited)
