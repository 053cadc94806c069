"""The one write runner: each way a write can end becomes the same neutral outcome, whoever renders it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from domain.audit.writes import Actor
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Conflict, NotFound, Refused, invalid
from domain.writes.placement import OutOfRegion
from domain.writes.runner import CONCURRENT_CHANGE, DATABASE_BUSY, OutcomeKind, run_write
from tests.conftest import POSTGRES_URL

CALLER = Caller(Actor(subject="tests", kind="system"))
metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("name", String, unique=True))


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    path = tmp_path / "runner.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.05})
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return len((await session.execute(select(things))).all())


async def test_a_write_that_returns_commits(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def work(session: AsyncSession, caller: Caller) -> str:
        await session.execute(insert(things).values(name="a"))
        return caller.actor.subject

    outcome = await run_write(sessions, CALLER, work)
    assert outcome.ok
    assert outcome.value == "tests"
    assert await _count(sessions) == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (invalid("name", WriteCode.REQUIRED, "give a name"), OutcomeKind.INVALID),
        (NotFound("thing", 7), OutcomeKind.NOT_FOUND),
        (Conflict("thing", 7, 1, 2), OutcomeKind.CONFLICT),
        (Refused("the verifier may not approve"), OutcomeKind.FORBIDDEN),
        (OutOfRegion("52.03.01.2001"), OutcomeKind.FORBIDDEN),
    ],
)
async def test_domain_errors_roll_back_and_become_outcomes(
    sessions: async_sessionmaker[AsyncSession], error: Exception, kind: OutcomeKind
) -> None:
    async def work(session: AsyncSession, caller: Caller) -> None:
        await session.execute(insert(things).values(name="written first"))
        raise error

    outcome = await run_write(sessions, CALLER, work)
    assert outcome.kind is kind
    assert not outcome.ok
    assert await _count(sessions) == 0  # rolled back
    if kind is OutcomeKind.INVALID:
        assert [p.code for p in outcome.problems] == ["REQUIRED"]
    else:
        assert outcome.message == str(error)


async def test_extra_refusals_of_an_entry_point_are_forbidden(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def work(session: AsyncSession, caller: Caller) -> None:
        raise LookupError("no such role")

    outcome = await run_write(sessions, CALLER, work, refusals=(LookupError,))
    assert outcome.kind is OutcomeKind.FORBIDDEN
    assert outcome.message == "no such role"
    with pytest.raises(LookupError):  # without the declaration it is a fault, not an answer
        await run_write(sessions, CALLER, work)


async def test_a_unique_key_taken_concurrently_is_a_conflict(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def work(session: AsyncSession, caller: Caller) -> None:
        await session.execute(insert(things).values(name="same"))

    assert (await run_write(sessions, CALLER, work)).ok
    outcome = await run_write(sessions, CALLER, work)
    assert outcome.kind is OutcomeKind.CONFLICT
    assert outcome.message == CONCURRENT_CHANGE


async def test_sqlite_busy_with_another_writer_is_a_conflict(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "runner.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        other.execute("INSERT INTO things (name) VALUES ('theirs')")

        async def work(session: AsyncSession, caller: Caller) -> None:
            await session.execute(insert(things).values(name="ours"))

        outcome = await run_write(sessions, CALLER, work)
        assert outcome.kind is OutcomeKind.CONFLICT
        assert outcome.message == DATABASE_BUSY
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_other_database_errors_are_faults(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def work(session: AsyncSession, caller: Caller) -> Any:
        return (await session.execute(text("SELECT * FROM no_such_table"))).all()

    with pytest.raises(OperationalError, match="no such table"):
        await run_write(sessions, CALLER, work)


@pytest.fixture
def postgres_url(new_database: Callable[[str, str], str]) -> str:
    if POSTGRES_URL is None:
        pytest.skip("JAMSOS_TEST_POSTGRES_URL is not set")
    return new_database("postgres", "runner")


async def test_a_postgresql_serialization_failure_is_a_conflict(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url, isolation_level="SERIALIZABLE")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with engine.connect() as other:
            await other.begin()
            await other.execute(select(things))

            async def work(session: AsyncSession, caller: Caller) -> None:
                await session.execute(select(things))
                await session.execute(insert(things).values(name="ours"))
                await other.execute(insert(things).values(name="theirs"))
                await other.commit()  # both read what the other wrote: one of them must fail

            outcome = await run_write(sessions, CALLER, work)
        assert outcome.kind is OutcomeKind.CONFLICT
        assert outcome.message == DATABASE_BUSY
    finally:
        await engine.dispose()
