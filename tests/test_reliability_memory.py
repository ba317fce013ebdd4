"""Without Redis, what one process caches stays within its byte budget, however many
distinct large pages are viewed."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from dashboard.cache import BoundedLocMemCache

pytestmark = pytest.mark.django_db


def test_the_default_cache_is_bounded_by_bytes():
    assert isinstance(caches["default"], BoundedLocMemCache)


def test_many_distinct_large_pages_keep_the_cache_under_its_budget():
    bounded = BoundedLocMemCache("budget-test", {"OPTIONS": {"MAX_BYTES": 5_000_000}})
    bounded.clear()
    for n in range(60):  # about 1 MB each: 60 MB without the bound
        page = [{"sid": f"WT{i:032d}", "attributes": f"{n}:{i}:" + "x" * 900} for i in range(1000)]
        bounded.set(f"read:{n}", {"tasks": page, "n": n}, 300)
        assert bounded.bytes_held <= 5_000_000
    assert bounded.get("read:59")["n"] == 59  # the newest stays
    assert bounded.get("read:0") is None  # the oldest went first
    held = sum(len(v) for v in bounded._cache.values())
    assert held == bounded.bytes_held


def test_recently_read_entries_outlive_older_unread_ones():
    bounded = BoundedLocMemCache("lru-test", {"OPTIONS": {"MAX_BYTES": 3_500}})
    bounded.clear()
    for name in "abc":
        bounded.set(name, "v" * 1000)
    bounded.get("a")  # a is now the most recently used
    bounded.set("d", "v" * 1000)
    assert bounded.get("a") is not None
    assert bounded.get("b") is None


def test_a_value_larger_than_the_budget_is_not_kept_and_evicts_nothing():
    bounded = BoundedLocMemCache("huge-test", {"OPTIONS": {"MAX_BYTES": 10_000}})
    bounded.clear()
    bounded.set("small", "s")
    bounded.set("huge", "h" * 20_000)
    assert bounded.get("huge") is None
    assert bounded.get("small") == "s"


def test_counters_and_deletes_keep_the_byte_count_exact():
    bounded = BoundedLocMemCache("count-test", {"OPTIONS": {"MAX_BYTES": 100_000}})
    bounded.clear()
    bounded.set("n", 1)
    for _ in range(300):
        bounded.incr("n")
    bounded.set("n", 2**100)
    bounded.add("lock", 1)
    bounded.set("text", "t" * 500)
    bounded.delete("text")
    assert bounded.get("n") == 2**100
    assert bounded.bytes_held == sum(len(v) for v in bounded._cache.values())
    bounded.clear()
    assert bounded.bytes_held == 0


def test_the_table_viewed_at_many_sizes_keeps_the_shared_reads_within_the_budget(
    client, settings, monkeypatch
):
    settings.TASKROUTER_SHARED_READ_SECONDS = 60
    default = caches["default"]
    monkeypatch.setattr(default, "max_bytes", 1_000_000)  # two or three pages of 600 tasks
    sizes = range(990, 1000)  # 10 distinct pages of the 600 seeded tasks
    for size in sizes:
        assert client.get(f"/w/Support/tasks/?size={size}").status_code == 200
        assert default.bytes_held <= 1_000_000
    shared = [key for key in default._cache if ":read:" in key]
    assert 0 < len(shared) < len(sizes)  # the newest pages kept, the oldest evicted
