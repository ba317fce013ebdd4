"""A local-memory cache bounded by bytes, for instances running without Redis.

Django's LocMemCache bounds entries (300), not bytes: a shared read of a 1000-row page is
about a megabyte pickled, so a worker serving many distinct pages grew by hundreds of
MiB. This one keeps the pickled size of everything it holds under ``MAX_BYTES`` (the
TASKDECK_LOCAL_CACHE_MAX_BYTES setting), evicting the least recently used entries first,
and never stores one value larger than the whole budget.
"""

from __future__ import annotations

import pickle
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

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
