"""Token buckets: per key, refilled at a steady rate, that a request drains by what it costs.

Two stores behind one interface, :class:`Buckets`:

- :class:`MemoryBuckets` (the default) keeps them in this process; with N processes a caller gets up to N
  times the rate;
- :class:`RedisBuckets` (``JAMSOS_REDIS_URL``) keeps them in Redis and updates each with one atomic script,
  timed by the Redis server's clock, so every worker on every host draws from one budget.

GraphQL drains a caller's bucket by the cost of each operation (schema.core.limits), so aliases and batching
cannot multiply a budget; the token endpoint, the two sign-in forms (OAuth and console) and anonymous GraphQL
callers drain one per request, keyed by client address. The rate limits only slow scripted guessing; what
stops it is the account lockout kept in the database (``domain.identity.models.LockoutPolicy``).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter

REJECTIONS = Counter("jamsos_rate_limited_total", "Requests refused by a rate limit", ["limit"])


@dataclass(frozen=True)
class Rate:
    """``per_minute`` units refill a bucket that holds at most ``burst`` (default: a minute's worth)."""

    per_minute: float
    burst: float | None = None

    @property
    def capacity(self) -> float:
        return float(self.burst if self.burst is not None else self.per_minute)

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0

    def retry_after(self, missing: float) -> int:
        """Whole seconds until `missing` units have refilled (at least 1)."""
        if self.per_second <= 0:
            return 60
        return max(1, math.ceil(missing / self.per_second))


class Buckets(Protocol):
    async def take(self, limit: str, key: str, amount: float, rate: Rate) -> int | None:
        """Drain `amount` from `key`'s bucket of `limit`: None when allowed, else seconds to wait."""

    async def close(self) -> None: ...


def _refill(tokens: float, last: float, now: float, rate: Rate) -> float:
    return min(rate.capacity, tokens + max(0.0, now - last) * rate.per_second)


class MemoryBuckets:
    """Buckets in this process, the least recently used dropped beyond `max_keys`."""

    def __init__(self, *, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    async def take(self, limit: str, key: str, amount: float, rate: Rate) -> int | None:
        now = self.clock()
        tokens, last = self._buckets.pop((limit, key), (rate.capacity, now))
        tokens = _refill(tokens, last, now, rate)
        if tokens >= amount:
            self._store((limit, key), tokens - amount, now)
            return None
        self._store((limit, key), tokens, now)
        REJECTIONS.labels(limit).inc()
        return rate.retry_after(min(amount, rate.capacity) - tokens)

    def _store(self, key: tuple[str, str], tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    async def close(self) -> None:
        self._buckets.clear()


# KEYS[1] the bucket; ARGV: amount, capacity, per-second rate. Returns {allowed (1/0), tokens left * 1000}.
# Time comes from the Redis server, so workers whose clocks differ still agree.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local amount = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= amount then
  tokens = tokens - amount
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
local ttl = 60
if rate > 0 then ttl = math.ceil(capacity / rate) + 1 end
redis.call('EXPIRE', KEYS[1], ttl)
return {allowed, math.floor(tokens * 1000)}
"""


class RedisBuckets:
    """Buckets in Redis under ``<prefix>:<limit>:<key>``, shared by every process using the same URL."""

    def __init__(self, url: str, *, prefix: str = "jamsos:rate") -> None:
        import redis.asyncio as redis

        self.client: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self._script: Any = self.client.register_script(_TAKE)

    async def take(self, limit: str, key: str, amount: float, rate: Rate) -> int | None:
        allowed, left = await self._script(
            keys=[f"{self.prefix}:{limit}:{key}"], args=[amount, rate.capacity, rate.per_second]
        )
        if int(allowed) == 1:
            return None
        REJECTIONS.labels(limit).inc()
        return rate.retry_after(min(amount, rate.capacity) - int(left) / 1000)

    async def close(self) -> None:
        await self.client.aclose()


def make_buckets(redis_url: str | None, prefix: str = "jamsos") -> Buckets:
    """Redis buckets when a URL is configured, else in-process ones."""
    return RedisBuckets(redis_url, prefix=f"{prefix}:rate") if redis_url else MemoryBuckets()


__all__ = ["REJECTIONS", "Buckets", "MemoryBuckets", "Rate", "RedisBuckets", "make_buckets"]
