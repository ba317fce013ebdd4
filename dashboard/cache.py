"""Taskdeck's cache backends.

`ResilientRedisCache`: Django's Redis cache, except that Redis being down (or too slow)
costs pages their speed, never their answer. `BoundedLocMemCache`: a local-memory cache
bounded by bytes, for instances running without Redis and for each process's cached
template fragments.

Django's LocMemCache bounds entries (300), not bytes: a shared read of a 1000-row page is
about a megabyte pickled, so a worker serving many distinct pages grew by hundreds of
MiB. This one keeps the pickled size of everything it holds under ``MAX_BYTES`` (the
TASKDECK_LOCAL_CACHE_MAX_BYTES setting), evicting the least recently used entries first,
and never stores one value larger than the whole budget.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 32 * 1024 * 1024

# Bytes held per cache name, shared like LocMemCache's own module-level stores (every
# instance of one named cache in a process sees the same data).
_totals: dict[str, list[int]] = {}


class BoundedLocMemCache(LocMemCache):
    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        options = params.get("OPTIONS") or {}
        self.max_bytes = int(options.get("MAX_BYTES", DEFAULT_MAX_BYTES))
        self._total = _totals.setdefault(name, [0])

    @property
    def bytes_held(self) -> int:
        """The pickled size of everything held now."""
        return self._total[0]

    # LocMemCache stores each value pickled, so an entry's size is the length of its
    # bytes; every path that adds or removes one comes through the methods below, always
    # under the cache's lock.

    def _set(self, key: str, value: bytes, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._delete(key)
        if len(value) > self.max_bytes:
            return  # would evict everything else and still not fit
        super()._set(key, value, timeout)
        self._total[0] += len(value)
        while self._total[0] > self.max_bytes and len(self._cache) > 1:
            self._evict_oldest()

    def _evict_oldest(self) -> None:
        # The most recently used entries are at the front (LocMemCache's order).
        old_key, old_value = self._cache.popitem()
        self._expire_info.pop(old_key, None)
        self._total[0] -= len(old_value)

    def _cull(self) -> None:
        if self._cull_frequency == 0:
            self._cache.clear()
            self._expire_info.clear()
            self._total[0] = 0
            return
        for _ in range(len(self._cache) // self._cull_frequency):
            self._evict_oldest()

    def _delete(self, key: str) -> bool:
        value = self._cache.get(key)
        removed = super()._delete(key)
        if removed and value is not None:
            self._total[0] -= len(value)
        return removed

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._delete(key)
                raise ValueError(f"Key '{key}' not found")
            old = self._cache[key]
            new_value = pickle.loads(old) + delta  # noqa: S301 -- pickled by this process
            pickled = pickle.dumps(new_value, self.pickle_protocol)
            self._cache[key] = pickled
            self._cache.move_to_end(key, last=False)
            self._total[0] += len(pickled) - len(old)
        return new_value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._expire_info.clear()
            self._total[0] = 0


# --- Redis, when it is down ----------------------------------------------------------------

# After a failure, Redis is left alone this long: a page makes a dozen cache calls, and
# each would otherwise wait for its own timeout.
RETRY_AFTER_SECONDS = 5.0
# Connecting to Redis on the same network takes a millisecond; a Redis that does not
# answer within these is treated as down rather than holding every page.
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 2.0


class _Outage:
    """Whether one Redis (by location) is down, as this process last found it."""

    def __init__(self) -> None:
        self.until = 0.0
        self.lock = threading.Lock()

    @property
    def down(self) -> bool:
        return time.monotonic() < self.until

    def failed(self, location: str, error: Exception) -> None:
        with self.lock:
            was_down, self.until = self.down, time.monotonic() + RETRY_AFTER_SECONDS
        if not was_down:
            logger.warning(
                "the cache at %s is not answering (%s); pages go without it for %gs",
                location.rsplit("@", 1)[-1],  # never the password
                type(error).__name__,
                RETRY_AFTER_SECONDS,
            )

    def recovered(self) -> None:
        self.until = 0.0


_outages: dict[str, _Outage] = {}


def _outage(location: str) -> _Outage:
    return _outages.setdefault(location, _Outage())


class _ResilientClient(RedisCacheClient):
    """Each operation answers as a cache that holds nothing when Redis fails: a read
    misses, a write is dropped, an ``add`` is refused, an ``incr`` finds no key."""

    location = ""

    def _guard(self, call: Callable[[], Any], fallback: Callable[[], Any]) -> Any:
        outage = _outage(self.location)
        if outage.down:
            return fallback()
        try:
            return call()
        except self._lib.RedisError as error:
            outage.failed(self.location, error)
            return fallback()

    def add(self, key, value, timeout):
        return self._guard(
            lambda: super(_ResilientClient, self).add(key, value, timeout), lambda: False
        )

    def get(self, key, default):
        return self._guard(lambda: super(_ResilientClient, self).get(key, default), lambda: default)

    def set(self, key, value, timeout):
        return self._guard(
            lambda: super(_ResilientClient, self).set(key, value, timeout), lambda: None
        )

    def touch(self, key, timeout):
        return self._guard(lambda: super(_ResilientClient, self).touch(key, timeout), lambda: False)

    def delete(self, key):
        return self._guard(lambda: super(_ResilientClient, self).delete(key), lambda: False)

    def get_many(self, keys):
        return self._guard(lambda: super(_ResilientClient, self).get_many(keys), dict)

    def has_key(self, key):
        return self._guard(lambda: super(_ResilientClient, self).has_key(key), lambda: False)

    def incr(self, key, delta):
        def missing():
            raise ValueError(f"Key {key!r} not found (the cache is not answering)")

        return self._guard(lambda: super(_ResilientClient, self).incr(key, delta), missing)

    def set_many(self, data, timeout):
        return self._guard(lambda: super(_ResilientClient, self).set_many(data, timeout), list)

    def delete_many(self, keys):
        return self._guard(lambda: super(_ResilientClient, self).delete_many(keys), lambda: None)

    def clear(self):
        return self._guard(lambda: super(_ResilientClient, self).clear(), lambda: False)


class ResilientRedisCache(RedisCache):
    """Django's Redis cache that a Redis outage cannot turn into an error page: every
    operation behaves as on an empty cache while Redis fails (see `_ResilientClient`), so
    pages keep working, more slowly, reading TaskRouter and the database themselves.
    Short socket timeouts (options ``socket_connect_timeout``, ``socket_timeout``, set in
    settings) bound what a hanging Redis costs, and after a failure this process leaves
    Redis alone for RETRY_AFTER_SECONDS. `down` tells pages to say so; `ping` tells
    /readyz the truth, asking Redis whatever this process last found."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        location = server if isinstance(server, str) else ",".join(server)
        self._class = type("ResilientClient", (_ResilientClient,), {"location": location})
        self.location = location

    @property
    def down(self) -> bool:
        return _outage(self.location).down

    def failed(self, error: Exception) -> None:
        """Note a failure met outside the cache's own calls (a pipeline of the budget)."""
        _outage(self.location).failed(self.location, error)

    def ping(self) -> bool:
        try:
            self._cache.get_client(write=True).ping()
        except self._cache._lib.RedisError as error:
            _outage(self.location).failed(self.location, error)
            return False
        _outage(self.location).recovered()
        return True
