"""The one bounded cache every in-memory cache of the server is built on.

A cache here only saves work: a miss costs the query, signature check or write it would have
skipped, never a wrong answer. So each has a size bound (a flood of distinct keys fills no memory)
and, where another process or a CLI command may change the truth behind it, a time to live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_FOREVER = float("inf")


class BoundedCache(Generic[K, V]):
    """At most `maxsize` entries; past that the oldest written goes first. With `ttl` (seconds),
    an entry is a miss that long after it was written; `put` may give one entry its own ttl.
    Writers of a cache shared between threads hold a lock of the owner's; readers need none."""

    def __init__(self, maxsize: int, ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        expires, value = hit
        if expires != _FOREVER and expires <= self._clock():
            # Left in place: a lookup never changes the dict, so threads that only read need no
            # lock while another (holding the owner's lock) writes. `put` replaces it.
            return None
        return value

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        data = self._data
        data.pop(key, None)  # re-written: it becomes the newest
        while len(data) >= self.maxsize:
            del data[next(iter(data))]
        data[key] = (_FOREVER if ttl is None else self._clock() + ttl, value)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        """Drop every entry whose key matches (a shop's entries when its data changed)."""
        for key in [k for k in self._data if predicate(k)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def has(self, key: K) -> bool:
        """Whether a fresh entry is there (one whose value is None too)."""
        hit = self._data.get(key)
        return hit is not None and (hit[0] == _FOREVER or hit[0] > self._clock())
