"""A small per-key token bucket, for the token endpoint and the sign-in form.

It is per process: with N processes a caller gets up to N times the rate. It slows down scripted guessing;
the account lockout (``domain.identity.models.LockoutPolicy``), kept in the database, is what stops it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def hit(self, key: str) -> int | None:
        """Take one request from `key`'s bucket: None when allowed, else seconds until the next one is."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._store(key, tokens - 1, now)
            return None
        self._store(key, tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate)) if self.rate > 0 else 60

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
