"""Group commit of the personal-data access log (domain.audit.access.AccessLogWriter, ADR 0012).

While one transaction of access-log rows is being committed, the rows of requests that arrive meanwhile
wait and go together in the next one. The tests hold the first commit back at a gate (the real insert
and commit run once it opens), let more requests queue behind it, and count the transactions that wrote
access-log rows with SQLAlchemy's public ``before_cursor_execute`` and ``commit`` connection events: no
timing is measured. Each response leaves only once its own rows are committed, and every waiting response
is withheld when their transaction fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import domain.audit.access
from domain.audit.access import AccessLogUnavailable, AccessLogWriter, PersonalDataReads
from domain.audit.models import DataAccessEvent
from domain.audit.writes import Actor, RequestMeta
from domain.participants.models import Participant
from tests.conftest import AppFactory, Served, suite_settings
from tests.live import until

QUERY = "query($m: String!) { participant(membershipNumber: $m) { membershipNumber nik } }"


class LogCommits:
    """Transactions that inserted access-log rows and were committed, counted from the engine's events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.count = 0

    def _statement(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "data_access_events" in statement and statement.lstrip().upper().startswith("INSERT"):
            conn.info["jamsos_test_access_log"] = True

    def _commit(self, conn: Any) -> None:
        if conn.info.pop("jamsos_test_access_log", False):
            self.count += 1

    def __enter__(self) -> LogCommits:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)


class Gate:
    """Holds every access-log insert until opened; then each runs the real insert (or `fail` raises)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.fail = False
        self.entered = 0
        self.real = domain.audit.access.write_rows

    async def __call__(self, session: AsyncSession, rows: list[dict[str, object]]) -> None:
        self.entered += 1
        await self.opened.wait()
        if self.fail:
            raise OSError("the database went away")
        await self.real(session, rows)


@pytest.fixture
def served(writes_url: str, key_path: Path, app_factory: AppFactory) -> Served:
    """An app on the write tests' database with one access-log transaction in flight at a time: plain group
    commit, where every request that arrives during a commit waits for the next one."""
    return app_factory(suite_settings(writes_url, key_path, access_log_commits=1))


@pytest.fixture
def served_two(writes_url: str, key_path: Path, app_factory: AppFactory) -> Served:
    """The same with two transactions allowed in flight (PostgreSQL; SQLite keeps one writer)."""
    return app_factory(suite_settings(writes_url, key_path, access_log_commits=2))


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    monkeypatch.setattr(domain.audit.access, "write_rows", held)
    yield held
    held.opened.set()


async def _members(engine: AsyncEngine, n: int) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Participant.membership_number)
            .where(Participant.region_code.startswith("52.71"))
            .order_by(Participant.id)
            .limit(n)
        )
        return [r[0] for r in rows]


async def _log_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(DataAccessEvent))).scalar_one())


def _ask(client: httpx.AsyncClient, headers: dict[str, str]) -> Callable[[str], Awaitable[httpx.Response]]:
    async def ask(member: str) -> httpx.Response:
        return await client.post("/graphql", json={"query": QUERY, "variables": {"m": member}}, headers=headers)

    return ask


async def _queue(served: Served, gate: Gate, members: list[str], headers: dict[str, str]) -> list[asyncio.Task[Any]]:
    """The first request's rows at the gate (in their transaction), the others' waiting behind it."""
    writer: AccessLogWriter = served.app.state.graphql.access_log
    ask = _ask(served.client, headers)
    first = asyncio.ensure_future(ask(members[0]))
    await until(lambda: gate.entered == 1, "the first request at the gate")
    rest = [asyncio.ensure_future(ask(m)) for m in members[1:]]
    await until(lambda: writer.waiting == len(rest), "the others queued behind it")
    assert not any(task.done() for task in [first, *rest])  # no response left before its rows were durable
    return [first, *rest]


async def test_concurrent_requests_share_one_commit(served: Served, staff: dict[str, Any], gate: Gate) -> None:
    members = await _members(served.engine, 6)
    writer: AccessLogWriter = served.app.state.graphql.access_log
    before_rows, before_commits = await _log_rows(served.engine), writer.commits
    with LogCommits(served.engine) as commits:
        tasks = await _queue(served, gate, members, staff["verifier"].headers)
        gate.opened.set()
        responses = await asyncio.gather(*tasks)
    for member, response in zip(members, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["data"]["participant"]["membershipNumber"] == member
    # Six requests, two transactions: the first alone, the five that queued behind it together.
    assert commits.count == 2
    assert writer.commits == before_commits + 2
    assert await _log_rows(served.engine) == before_rows + 6


async def test_a_second_commit_starts_while_the_first_is_in_flight(
    served_two: Served, staff: dict[str, Any], gate: Gate, backend: str
) -> None:
    """With two transactions allowed (PostgreSQL), the second request's rows go at once in a transaction of
    their own instead of waiting for the first to end; the four after them wait together for the first of
    the two to end. SQLite has one writer: there the second waits as in plain group commit."""
    served = served_two
    writer: AccessLogWriter = served.app.state.graphql.access_log
    assert writer.commits_in_flight == (2 if backend == "postgres" else 1)
    members = await _members(served.engine, 6)
    ask = _ask(served.client, staff["verifier"].headers)
    before_rows, before_commits = await _log_rows(served.engine), writer.commits
    with LogCommits(served.engine) as commits:
        tasks = [asyncio.ensure_future(ask(members[0]))]
        await until(lambda: gate.entered == 1, "the first request at the gate")
        tasks.append(asyncio.ensure_future(ask(members[1])))
        if writer.commits_in_flight == 2:
            await until(lambda: gate.entered == 2 and writer.waiting == 0, "the second in a transaction of its own")
        else:
            await until(lambda: writer.waiting == 1, "the second queued behind the first")
        tasks += [asyncio.ensure_future(ask(m)) for m in members[2:]]
        queued = 4 if writer.commits_in_flight == 2 else 5
        await until(lambda: writer.waiting == queued, "the rest queued")
        assert not any(task.done() for task in tasks)  # no response left before its rows were durable
        gate.opened.set()
        responses = await asyncio.gather(*tasks)
    for member, response in zip(members, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["data"]["participant"]["membershipNumber"] == member
    expected = 3 if writer.commits_in_flight == 2 else 2
    assert commits.count == expected
    assert writer.commits == before_commits + expected
    assert await _log_rows(served.engine) == before_rows + 6


async def test_a_failed_group_commit_withholds_every_waiting_response(
    served: Served, staff: dict[str, Any], gate: Gate
) -> None:
    members = await _members(served.engine, 4)
    before_rows = await _log_rows(served.engine)
    with LogCommits(served.engine) as commits:
        tasks = await _queue(served, gate, members, staff["verifier"].headers)
        gate.fail = True
        gate.opened.set()
        responses = await asyncio.gather(*tasks)
    for member, response in zip(members, responses, strict=True):
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert member not in response.text
    assert commits.count == 0
    assert await _log_rows(served.engine) == before_rows


def _reads(n: int) -> PersonalDataReads:
    reads = PersonalDataReads()
    reads.note("Participant", n, "nik")
    return reads


ACTOR = Actor(subject="officer.test@52.71", kind="user")
META = RequestMeta(request_id="group-commit-test")


async def test_a_full_queue_refuses_and_shutdown_drains(
    served: Served, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: async_sessionmaker[AsyncSession] = served.app.state.sessions
    writer = AccessLogWriter(sessions, max_waiting=2, commits_in_flight=1)
    before_rows = await _log_rows(served.engine)
    first = asyncio.ensure_future(writer.write(ACTOR, META, _reads(1)))
    await until(lambda: gate.entered == 1, "the first request at the gate")
    waiting = [asyncio.ensure_future(writer.write(ACTOR, META, _reads(n))) for n in (2, 3)]
    await until(lambda: writer.waiting == 2, "two requests queued behind it")
    # The queue is bounded: one more is refused at once, and its caller withholds its response.
    with pytest.raises(AccessLogUnavailable, match="already wait"):
        await writer.write(ACTOR, META, _reads(4))
    # Shutdown: new rows are refused; close() returns once the accepted ones are committed.
    closing = asyncio.ensure_future(writer.close())
    await asyncio.sleep(0)
    with pytest.raises(AccessLogUnavailable, match="shutting down"):
        await writer.write(ACTOR, META, _reads(5))
    await asyncio.sleep(0)
    assert not closing.done()
    gate.opened.set()
    await closing
    assert all(task.done() and task.exception() is None for task in [first, *waiting])
    assert (writer.commits, writer.requests, writer.refused) == (2, 3, 2)
    assert await _log_rows(served.engine) == before_rows + 3
    # Nothing noted, nothing written, even when closed.
    await writer.write(ACTOR, META, PersonalDataReads())


async def test_a_request_that_goes_away_leaves_the_commit_to_the_others(served: Served, gate: Gate) -> None:
    sessions: async_sessionmaker[AsyncSession] = served.app.state.sessions
    writer = AccessLogWriter(sessions, commits_in_flight=1)
    before_rows = await _log_rows(served.engine)
    first = asyncio.ensure_future(writer.write(ACTOR, META, _reads(1)))
    await until(lambda: gate.entered == 1, "the first request at the gate")
    gone, staying = (asyncio.ensure_future(writer.write(ACTOR, META, _reads(n))) for n in (2, 3))
    await until(lambda: writer.waiting == 2, "two requests queued behind it")
    gone.cancel()  # its client left while its rows waited
    gate.opened.set()
    await first
    await staying
    with pytest.raises(asyncio.CancelledError):
        await gone
    await writer.close()
    # The rows it handed over are committed all the same (logged, though never shown, is the safe side).
    assert (writer.commits, writer.requests) == (2, 3)
    assert await _log_rows(served.engine) == before_rows + 3
