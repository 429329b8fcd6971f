"""The reference application's LRU cache: hits, misses, evictions, recency."""

from __future__ import annotations

import pytest

from pgwarden.demo.cache import LRUCache


def test_counts_hits_misses_and_evictions() -> None:
    cache: LRUCache[str] = LRUCache(2)
    assert cache.get("a") is None
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"
    cache.put("c", "C")  # evicts "b", the least recently used
    assert cache.get("b") is None
    assert cache.get("c") == "C"
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.evictions) == (2, 2, 1)
    assert (stats.size, stats.capacity) == (2, 2)
    assert stats.hit_ratio == 0.5


def test_put_refreshes_recency() -> None:
    cache: LRUCache[int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    cache.put("c", 4)
    assert "a" in cache and "b" not in cache
    assert cache.get("a") == 3


def test_invalidate_and_clear() -> None:
    cache: LRUCache[int] = LRUCache(10)
    cache.put(("dashboard", 1), 1)
    assert cache.invalidate(("dashboard", 1))
    assert not cache.invalidate(("dashboard", 1))
    cache.put("x", 1)
    cache.clear()
    assert len(cache) == 0
    assert cache.stats().evictions == 0


def test_empty_stats_and_bad_capacity() -> None:
    assert LRUCache[int](5).stats().hit_ratio == 0.0
    with pytest.raises(ValueError):
        LRUCache[int](0)
