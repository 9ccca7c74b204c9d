"""server/cartback/cache.py: bounded, oldest first out, optional time to live."""

from __future__ import annotations

import pytest
from cartback.cache import BoundedCache

from tests.conftest import FakeClock


def test_the_oldest_written_goes_when_full_and_a_rewrite_makes_an_entry_newest():
    cache: BoundedCache[str, int] = BoundedCache(3)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    cache.put("a", 10)  # a is now the newest
    cache.put("d", 3)
    assert cache.get("b") is None and cache.get("a") == 10 and cache.get("c") == 2 and cache.get("d") == 3
    assert len(cache) == 3


def test_a_flood_of_keys_stays_within_the_bound():
    cache: BoundedCache[int, int] = BoundedCache(100)
    for i in range(10_000):
        cache.put(i, i)
    assert len(cache) == 100 and cache.get(9_999) == 9_999 and cache.get(0) is None


def test_entries_expire_after_their_ttl_and_one_entry_may_have_its_own():
    clock = FakeClock(100.0)
    cache: BoundedCache[str, str] = BoundedCache(10, ttl=30, clock=clock)
    cache.put("shop", "honey")
    cache.put("unknown", "none", ttl=5)
    clock.now += 5
    assert cache.get("unknown") is None and cache.get("shop") == "honey"
    clock.now += 25
    assert cache.get("shop") is None and not cache.has("shop")


def test_pop_discard_where_and_clear():
    cache: BoundedCache[tuple[str, str], int] = BoundedCache(10)
    for shop in ("a", "b"):
        for pid in ("1", "2"):
            cache.put((shop, pid), 1)
    cache.pop(("a", "1"))
    cache.pop(("x", "y"))  # absent: nothing happens
    cache.discard_where(lambda key: key[0] == "b")
    assert len(cache) == 1 and cache.has(("a", "2"))
    cache.clear()
    assert len(cache) == 0


def test_a_cache_needs_room_for_one():
    with pytest.raises(ValueError, match="maxsize"):
        BoundedCache(0)


def test_a_none_value_is_an_entry_and_has_tells_it_from_a_miss():
    clock = FakeClock(100.0)
    cache: BoundedCache[str, str | None] = BoundedCache(10, ttl=5, clock=clock)
    cache.put("junk", None)
    assert cache.get("junk") is None and cache.has("junk") and not cache.has("other")
    clock.now += 5
    assert not cache.has("junk")
