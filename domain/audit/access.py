"""The personal-data access log (UU PDP 27/2022): who received unmasked NIKs, family-card numbers, birth dates
or wages, from which entry point, in which request.

Every entry point that shows personal data in full (GraphQL, the compiled read path, the console's lists,
details and CSV exports) notes what it showed in a :class:`PersonalDataReads` and writes it with
:func:`log_reads` before the data leaves: one ``DataAccessEvent`` per entity type per request (or per export
batch), never one per record. If the log cannot be written, the entry point withholds the data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit.models import DataAccessEvent
from domain.audit.writes import Actor, RequestMeta
from domain.db import utcnow


@dataclass
class PersonalDataReads:
    """Unmasked personal data shown so far: entity type -> (ids, fields)."""

    by_type: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)

    def note(self, entity_type: str, entity_id: object, field_name: str) -> None:
        ids, fields = self.by_type.setdefault(entity_type, (set(), set()))
        ids.add(str(entity_id))
        fields.add(field_name)

    def update(self, other: PersonalDataReads) -> None:
        """Add what `other` noted (a read path notes into its own until its answer is complete)."""
        for entity_type, (ids, fields) in other.by_type.items():
            mine_ids, mine_fields = self.by_type.setdefault(entity_type, (set(), set()))
            mine_ids |= ids
            mine_fields |= fields

    def __bool__(self) -> bool:
        return bool(self.by_type)

    def take(self) -> PersonalDataReads:
        """What was noted so far, leaving this empty (a streamed export logs batch by batch)."""
        taken = PersonalDataReads(self.by_type)
        self.by_type = {}
        return taken


def access_rows(actor: Actor, meta: RequestMeta, reads: PersonalDataReads) -> list[dict[str, object]]:
    """The access-log rows for `reads`: one per entity type, ids in a stable order."""
    occurred_at = utcnow()
    return [
        {
            "occurred_at": occurred_at,
            "actor_subject": actor.subject,
            "actor_kind": actor.kind,
            "client_id": actor.client_id,
            "entity_type": entity_type,
            "entity_ids": sorted(ids, key=lambda i: (len(i), i)),
            "count": len(ids),
            "fields": sorted(fields),
            "request_id": meta.request_id,
            "source_ip": meta.source_ip,
        }
        for entity_type, (ids, fields) in sorted(reads.by_type.items())
    ]


#: The one statement access-log rows are inserted with: a Core INSERT of the table, run as an executemany
#: (no ORM bulk-insert bookkeeping per row: the rows are plain dictionaries already).
_INSERT = insert(cast(Table, DataAccessEvent.__table__))


async def write_rows(session: AsyncSession | AsyncConnection, rows: list[dict[str, object]]) -> None:
    """Insert access-log rows in the caller's transaction (one statement for all of them)."""
    if rows:
        await session.execute(_INSERT, rows)


async def log_reads(session: AsyncSession, actor: Actor, meta: RequestMeta, reads: PersonalDataReads) -> None:
    """Append one access-log row per entity type in `reads` (nothing when it is empty), in the caller's transaction."""
    if reads:
        await write_rows(session, access_rows(actor, meta, reads))


class AccessLogUnavailable(Exception):
    """A request's access-log rows could not be made durable: the data they describe must not leave."""


#: Requests whose rows may wait for the next group commit; one more is refused (its response withheld).
MAX_WAITING = 1024

#: Transactions of access-log rows that may run at once on PostgreSQL (the ``JAMSOS_ACCESS_LOG_COMMITS``
#: setting). One by default: on the 2-core bench machine four cost more CPU per request (smaller groups) than
#: they saved in waiting (bench/README.md "Access-log commits in flight"); more pay where the disk's flush,
#: not the CPU, is what a response waits for.
COMMITS_IN_FLIGHT = 1


@dataclass
class _Waiting:
    rows: list[dict[str, object]]
    done: asyncio.Future[None]


class AccessLogWriter:
    """Group commit for the access log: the rows of every request waiting at that moment in one transaction.

    :meth:`write` returns once the caller's own rows are committed and raises :class:`AccessLogUnavailable`
    when they are not (the commit failed, ``max_waiting`` requests are already waiting, or the writer is
    closed): the caller then withholds its response. Up to ``commits_in_flight`` transactions run at once,
    each on a connection of its own. A request whose rows arrive while fewer are running starts one at once
    (no added wait); otherwise its rows queue, and the next transaction to end takes all rows waiting at that
    moment into its next one. With one in flight that is plain group commit: a request waits for the commit
    in flight to end and then for its own. With more, it waits only for its own, and PostgreSQL flushes the
    write-ahead log of concurrent commits together, so the disk's flush is still shared (ADR 0012 §2,
    amended). SQLite has one writer: there it is always one. :meth:`close` (at shutdown) refuses new rows
    and waits until those already accepted are committed or have failed, so that no accepted request is
    left without an answer.

    A group's transaction is one round trip on PostgreSQL: its rows go as one executemany on a connection in
    autocommit, which asyncpg sends as one pipeline ending in a single Sync, so the server runs them as one
    implicit transaction and commits it before it answers (asyncpg's ``executemany`` is atomic since 0.22).
    ``BEGIN`` and ``COMMIT`` would be two more round trips for the same guarantee. Elsewhere (SQLite) the
    rows are inserted in an explicit transaction, committed before :meth:`write` returns.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_waiting: int = MAX_WAITING,
        commits_in_flight: int = COMMITS_IN_FLIGHT,
    ) -> None:
        self.sessions = sessions
        engine: AsyncEngine = sessions.kw["bind"]
        postgresql = engine.dialect.name == "postgresql"
        #: Where a group's rows are written: on PostgreSQL a view of the engine in autocommit (the same pool).
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT") if postgresql else engine
        self.max_waiting = max_waiting
        self.commits_in_flight = commits_in_flight if postgresql else 1
        #: Transactions committed, and requests whose rows they carried (``requests / commits`` = group size).
        self.commits = 0
        self.requests = 0
        #: Requests refused because the queue was full or the writer closed.
        self.refused = 0
        self._waiting: list[_Waiting] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def waiting(self) -> int:
        """Requests whose rows wait for the next transaction (not counting those being committed)."""
        return len(self._waiting)

    async def write(self, actor: Actor, meta: RequestMeta, reads: PersonalDataReads) -> None:
        if not reads:
            return
        if self._closed:
            self.refused += 1
            raise AccessLogUnavailable("the access log is closed (the server is shutting down)")
        loop = asyncio.get_running_loop()
        if any(flusher.get_loop() is not loop for flusher in self._flushers):
            # The loop the last commits ran on is gone (a test's loop, a restarted worker): what waited there
            # can no longer be answered, and must not hold this loop's requests back.
            self._waiting = [w for w in self._waiting if w.done.get_loop() is loop]
            self._flushers = {flusher for flusher in self._flushers if flusher.get_loop() is loop}
        if len(self._waiting) >= self.max_waiting:
            self.refused += 1
            raise AccessLogUnavailable(f"{self.max_waiting} requests already wait for the access log")
        entry = _Waiting(access_rows(actor, meta, reads), loop.create_future())
        self._waiting.append(entry)
        if len(self._flushers) < self.commits_in_flight:
            flusher = loop.create_task(self._flush())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        try:
            # Shielded: a request cancelled while it waits (its client left) does not cancel the commit
            # that carries other requests' rows too.
            await asyncio.shield(entry.done)
        except AccessLogUnavailable:
            raise
        except Exception as error:
            raise AccessLogUnavailable("the access log could not be written") from error

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self._engine.begin() as connection:
                    await write_rows(connection, [row for entry in batch for row in entry.rows])
            except BaseException as error:
                for entry in batch:
                    if not entry.done.done():
                        entry.done.set_exception(error if isinstance(error, Exception) else AccessLogUnavailable())
                    entry.done.exception()  # retrieved: a waiter that went away leaves no "never retrieved" warning
                if not isinstance(error, Exception):
                    for entry in self._waiting:
                        entry.done.set_exception(AccessLogUnavailable("the access log writer was stopped"))
                        entry.done.exception()
                    self._waiting = []
                    raise
                continue
            self.commits += 1
            self.requests += len(batch)
            for entry in batch:
                if not entry.done.done():
                    entry.done.set_result(None)

    async def close(self) -> None:
        """Refuse new rows; return once every accepted request's rows are committed or have failed."""
        self._closed = True
        running = [flusher for flusher in self._flushers if not flusher.done()]
        if running:
            await asyncio.shield(asyncio.gather(*running, return_exceptions=True))
