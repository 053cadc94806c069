"""The event bus (domain.events) on both databases: what a transaction announces arrives when it commits and
never when it rolls back, in commit order; a subscriber that falls behind its queue is dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import make_engine, make_sessionmaker
from domain.events import Channel, EventBus, Interrupted, TooSlow, publish

WAIT = 10.0  # a deadline to give up waiting, not a timing assertion


@pytest.fixture
def events_url(backend: str, migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database(backend, "events")


@pytest.fixture
async def sessions(events_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(events_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def bus(events_url: str) -> AsyncIterator[EventBus]:
    bus = EventBus(events_url, queue_size=3)
    await bus.start()
    async with asyncio.timeout(WAIT):
        await bus.listening.wait()
    yield bus
    await bus.close()


async def _announce(sessions: async_sessionmaker[AsyncSession], payload: dict[str, Any], *, commit: bool) -> None:
    async with sessions() as session, session.begin():
        await publish(session, Channel.CLAIMS, payload)
        if not commit:
            await session.rollback()


async def test_committed_announcements_arrive_in_order_and_rolled_back_ones_never(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with bus.subscribe(Channel.CLAIMS) as subscriber:
        await _announce(sessions, {"id": 1}, commit=False)
        await _announce(sessions, {"id": 2}, commit=True)
        await _announce(sessions, {"id": 3}, commit=False)
        await _announce(sessions, {"id": 4}, commit=True)
        got = [await subscriber.next(wait_seconds=WAIT), await subscriber.next(wait_seconds=WAIT)]
        assert got == [{"id": 2}, {"id": 4}]
        assert await subscriber.next(wait_seconds=0.3) is None  # nothing else came
    assert bus.active == 0


async def test_a_subscriber_past_its_queue_is_dropped_and_others_are_not(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with bus.subscribe(Channel.CLAIMS) as slow, bus.subscribe(Channel.CLAIMS) as keeping_up:
        for n in range(5):
            await _announce(sessions, {"id": n}, commit=True)
            assert await keeping_up.next(wait_seconds=WAIT) == {"id": n}
        assert bus.dropped == 1
        assert bus.active == 1
        assert bus.queued == 0  # the dropped queue was freed at once
        with pytest.raises(TooSlow):
            await slow.next(wait_seconds=WAIT)


async def test_closing_the_bus_ends_its_subscribers(bus: EventBus) -> None:
    async with bus.subscribe(Channel.CLAIMS) as subscriber:
        await bus.close()
        with pytest.raises(Interrupted):
            await subscriber.next(wait_seconds=WAIT)


async def test_malformed_notifications_are_ignored(bus: EventBus) -> None:
    async with bus.subscribe(Channel.CLAIMS) as subscriber:
        bus.deliver(Channel.CLAIMS.value, "not json")
        bus.deliver(Channel.CLAIMS.value, "[1, 2]")
        bus.deliver(Channel.CLAIMS.value, '{"id": 7}')
        assert await subscriber.next(wait_seconds=WAIT) == {"id": 7}
