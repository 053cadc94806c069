"""Budgets per caller: GraphQL drains a client/user's bucket by each document's cost, anonymous callers and
the token endpoint by one per request and address; 429 with Retry-After and RATE_LIMITED.

In-process buckets by default; with Redis (JAMSOS_TEST_REDIS_URL) two separate app processes draw from one
budget. In CI a skipped Redis test is a failure, as for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from auth.ratelimit import MemoryBuckets, Rate, RedisBuckets
from auth.scopes import Role
from tests.conftest import AUDIENCE, ISSUER, needs_redis
from tests.live import free_port, live_server, service_env

PAGE = "{ regions { edges { node { code } } } }"  # 1 + 20 x 2 = 41
TWO_PAGES = "{ a: regions { edges { node { code } } } b: regions { edges { node { code } } } }"  # 82


def _settings(url: str, key_path: Path, **limits: Any) -> Settings:
    return Settings(env="test", database_url=url, signing_key_path=key_path, issuer=ISSUER, audience=AUDIENCE, **limits)


@pytest.fixture
async def small_budget(seeded_url: str, key_path: Path) -> AsyncIterator[Starlette]:
    app = create_app(
        _settings(
            seeded_url,
            key_path,
            cost_budget_per_minute=100,
            anonymous_requests_per_minute=2,
            token_rate_limit_per_minute=2,
        )
    )
    yield app
    await app.state.engine.dispose()


async def _post(app: Starlette, query: str, token: str | None = None, ip: str = "10.0.0.1") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(ip, 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.post("/graphql", json={"query": query}, headers=headers)


async def test_the_budget_is_counted_in_cost(small_budget: Starlette, mint: Any) -> None:
    token = mint(Role.ADMIN, subject=f"budget-{secrets.token_hex(3)}")
    first = await _post(small_budget, PAGE, token)  # 41 of 100
    assert first.status_code == 200, first.text
    assert "errors" not in first.json()
    second = await _post(small_budget, TWO_PAGES, token)  # 82 more: over
    assert second.status_code == 429
    retry = int(second.headers["retry-after"])
    assert retry >= 1
    (error,) = second.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == retry
    assert second.json()["data"] is None
    # Someone else's budget is their own.
    other = await _post(small_budget, PAGE, mint(Role.ADMIN, subject=f"other-{secrets.token_hex(3)}"))
    assert other.status_code == 200


async def test_aliases_cannot_multiply_a_budget(small_budget: Starlette, mint: Any) -> None:
    token = mint(Role.ADMIN, subject=f"aliases-{secrets.token_hex(3)}")
    three = "{ " + " ".join(f"p{i}: regions {{ edges {{ node {{ code }} }} }}" for i in range(3)) + " }"  # 123
    response = await _post(small_budget, three, token)
    assert response.status_code == 429  # one request, but three pages' worth


async def test_anonymous_callers_are_limited_per_address(small_budget: Starlette) -> None:
    statuses = [(await _post(small_budget, "{ _service { sdl } }", ip="10.9.9.9")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await _post(small_budget, "{ _service { sdl } }", ip="10.9.9.10")).status_code == 200


async def test_the_token_endpoint_is_limited_per_address(small_budget: Starlette) -> None:
    transport = httpx.ASGITransport(app=small_budget, client=("10.7.7.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as client:
        statuses = [
            (await client.post("/oauth/token", data={"grant_type": "client_credentials"})).status_code for _ in range(3)
        ]
    assert statuses[:2] != [429, 429]
    assert statuses[2] == 429


async def test_memory_buckets_refill() -> None:
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    rate = Rate(60)  # one per second, 60 at once
    assert await buckets.take("t", "k", 60, rate) is None
    assert await buckets.take("t", "k", 1, rate) == 1
    now[0] = 5.0
    assert await buckets.take("t", "k", 5, rate) is None
    assert await buckets.take("t", "k", 1, rate) is not None
    assert await buckets.take("t", "other", 1, rate) is None  # per key
    assert await buckets.take("u", "k", 1, rate) is None  # per limit


async def test_memory_buckets_are_bounded() -> None:
    buckets = MemoryBuckets(max_keys=100)
    for i in range(1000):
        await buckets.take("signin", f"ip-{i}", 1, Rate(10))
    assert len(buckets._buckets) == 100


@pytest.mark.redis
async def test_redis_buckets_are_one_budget() -> None:
    url = needs_redis()
    prefix = f"jamsos-test-{secrets.token_hex(4)}"
    one, two = RedisBuckets(url, prefix=prefix), RedisBuckets(url, prefix=prefix)
    rate = Rate(10)
    try:
        assert await one.take("cost", "k", 6, rate) is None
        assert await two.take("cost", "k", 6, rate) is not None  # 4 left, seen from another client
        assert await two.take("cost", "k", 4, rate) is None
    finally:
        await one.client.delete(f"{prefix}:cost:k")
        await one.close()
        await two.close()


@pytest.mark.redis
@pytest.mark.whole_machine  # two uvicorn processes
def test_two_processes_share_one_budget(seeded_url: str, key_path: Path, mint: Any, tmp_path: Path) -> None:
    """Two uvicorn processes, one Redis: a caller's 100 cost units are 100 in all, not 100 per process."""
    url = needs_redis()
    if not seeded_url.startswith("sqlite"):
        pytest.skip("one backend is enough for the process test")  # the budget does not touch the database
    prefix = f"jamsos-test-{secrets.token_hex(4)}"
    settings = {
        "signing_key_path": str(key_path),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "redis_url": url,
        "redis_prefix": prefix,
        "cost_budget_per_minute": "100",
    }
    token = mint(Role.ADMIN, subject=f"shared-{secrets.token_hex(3)}")
    headers = {"Authorization": f"Bearer {token}"}
    with (
        live_server(service_env(seeded_url, tmp_path / "a", **settings), free_port()) as a,
        live_server(service_env(seeded_url, tmp_path / "b", **settings), free_port()) as b,
    ):
        statuses = [
            httpx.post(f"{base}/graphql", json={"query": PAGE}, headers=headers, timeout=30).status_code
            for base in (a, b, a, b)
        ]
    # 41 + 41 fit in 100; the third (on either process) does not: one budget.
    assert statuses[:2] == [200, 200]
    assert statuses[2:] == [429, 429]
    asyncio.run(_forget(url, prefix))


@pytest.mark.redis
async def test_sign_in_forms_share_one_budget_across_processes(seeded_url: str, key_path: Path) -> None:
    """Two app instances (two workers) on one Redis: an address gets the sign-in rate once, not once per worker."""
    url = needs_redis()
    prefix = f"jamsos-test-{secrets.token_hex(4)}"
    settings = _settings(seeded_url, key_path, redis_url=url, redis_prefix=prefix, signin_rate_limit_per_minute=2)
    apps = [create_app(settings), create_app(settings)]
    try:
        statuses = []
        for app in apps + apps:  # a, b, a, b
            transport = httpx.ASGITransport(app=app, client=("10.8.8.8", 5555))
            async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
                # No CSRF cookie: the form is refused as expired (400) unless the rate limit refuses it first.
                statuses.append((await client.post("/oauth/authorize", data={"username": "x"})).status_code)
        assert statuses == [400, 400, 429, 429]
    finally:
        for app in apps:  # what the lifespan would do; ASGITransport does not run it
            await app.state.buckets.close()
            await app.state.engine.dispose()
        await _forget(url, prefix)


async def _forget(url: str, prefix: str) -> None:
    buckets = RedisBuckets(url, prefix=prefix)
    keys = [k async for k in buckets.client.scan_iter(f"{prefix}:*")]
    if keys:
        await buckets.client.delete(*keys)
    await buckets.close()
