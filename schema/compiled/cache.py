"""A bounded plan cache: unique documents cannot exhaust it, and it says how often it evicts."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_MISSING = object()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    size: int = 0
    maxsize: int = 0


class BoundedCache(Generic[K, V]):
    """Least-recently-used mapping of at most `maxsize` entries; ``None`` is a value worth caching too.

    A plan cache keyed by document text is fed by the callers: an attacker sending unique documents only
    ever evicts older plans (counted in :attr:`stats`), it never grows memory past `maxsize` entries.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats(maxsize=maxsize)

    def get(self, key: K) -> V | object:
        """The cached value, or ``MISSING`` (compare with :meth:`missing`)."""
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is _MISSING:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
                self._entries.move_to_end(key)
            return value

    @staticmethod
    def missing(value: object) -> bool:
        return value is _MISSING

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.stats.maxsize:
                self._entries.popitem(last=False)
                self.stats.evictions += 1
            self.stats.size = len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.stats.size = 0
