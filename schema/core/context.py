"""The per-request context every resolver receives: the principal, a database reader and the loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from sqlalchemy import Row, Select
from sqlalchemy.engine import Compiled, CursorResult, Dialect, Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from auth.policy import region_exists
from auth.principal import Principal
from auth.requests import caller_for, request_meta
from domain.audit.access import AccessLogWriter, PersonalDataReads
from domain.jobs.queue import JobQueue
from domain.writes.caller import Caller
from schema.compiled.cache import BoundedCache
from schema.compiled.counters import ReadCounters
from schema.compiled.plan import Plans, Statements, plan_cache, statement_cache
from schema.core import driver_sql
from schema.core.bounds import Limits

if TYPE_CHECKING:
    from schema.core.loaders import Loaders
    from schema.core.subscriptions import SubscriberConnection

T = TypeVar("T")


#: Region codes one application remembers as being in the Kemendagri register (the register has about 92,000).
KNOWN_REGIONS_SIZE = 100_000


def known_regions() -> BoundedCache[str, bool]:
    """An application's memory of the region codes found in the register (:meth:`Reader.region_in_register`)."""
    return BoundedCache(KNOWN_REGIONS_SIZE)


class Reader:
    """One request's AsyncSession, used by one coroutine at a time.

    Sibling resolvers run concurrently and an AsyncSession must not be (docs/libraries.md, "Strawberry on
    Starlette"); the lock serialises their statements, which on one connection would run one after the other
    anyway.
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        autocommit: bool = False,
        replica: async_sessionmaker[AsyncSession] | None = None,
        regions: BoundedCache[str, bool] | None = None,
    ) -> None:
        self._session = session
        self._regions = regions
        self._lock = asyncio.Lock()
        self._closed = False
        self._autocommit = autocommit
        self._started = False
        #: Sessions on the read replica, used once :meth:`prefer_replica` says the request only reads.
        self._replica = replica
        self._replica_session: AsyncSession | None = None

    def prefer_replica(self) -> None:
        """Read on the replica (if there is one): called for query operations, before their first statement.

        Mutations keep the primary for their reads too, so that a payload shows the write it reports.
        """
        if self._replica is not None and not self._started and self._replica_session is None:
            self._replica_session = self._session = self._replica()

    async def all(self, stmt: Select[T]) -> Sequence[T]:
        """The first column of every row (ORM entities for ``select(Model)``)."""
        async with self._lock:
            self._check_open()
            if not self._started:
                await self._start()
            return (await self._session.scalars(stmt)).all()

    async def rows(
        self, stmt: Select[*tuple[Any, ...]], params: dict[str, Any] | None = None
    ) -> Sequence[Row[*tuple[Any, ...]]]:
        """Core rows (tuples); `params` bind a prepared statement's ``bindparam``\\ s."""
        async with self._lock:
            self._check_open()
            if not self._started:
                await self._start()
            return (await self._session.execute(stmt, params)).all()

    async def rows_and_compiled(
        self, stmt: Select[*tuple[Any, ...]], params: dict[str, Any] | None = None
    ) -> tuple[Sequence[Row[*tuple[Any, ...]]], Compiled | None]:
        """:meth:`rows`, and the form SQLAlchemy compiled `stmt` to for running it (None when it does not say): a
        statement run once and then kept as text (schema.compiled.sql_text) is not compiled a second time.

        On the session's connection: the session's ORM result of a statement of ORM columns does not keep the
        compiled form, a connection's result does (the rows are the same tuples).
        """
        async with self._lock:
            self._check_open()
            if not self._started:
                await self._start()
            return _with_compiled(await (await self._session.connection()).execute(stmt, params))

    async def text_rows(self, sql: str, parameters: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        """Rows of SQL text already compiled for this database (schema.compiled.sql_text), positional values.

        On PostgreSQL in autocommit they come from the driver's connection directly (schema.core.driver_sql).
        """
        async with self._lock:
            self._check_open()
            if not self._started:
                await self._start()
            return await driver_sql.text_rows(await self._session.connection(), sql, parameters)

    async def with_connection(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` on the request's connection (several statements, e.g. a Monev table), holding the lock."""
        async with self._lock:
            self._check_open()
            if not self._started:
                await self._start()
            return await work(await self._session.connection())

    async def one(self, stmt: Select[T], params: dict[str, Any] | None = None) -> T:
        async with self._lock:
            self._check_open()
            if not self._started:
                await self._start()
            return (await self._session.execute(stmt, params)).scalar_one()

    async def region_in_register(self, code: str) -> bool:
        """Whether `code` is in the Kemendagri register (``auth.policy.region_exists``, public to everyone).

        A code once found is remembered by the application (`regions`), so that a filter by region does not
        ask the database on every request: the register only grows between releases of the Kemendagri
        list. A code not found is asked again each time (it may be imported meanwhile). Should a code leave
        the register while a process runs, a filter naming it there reads as an empty region instead of
        BAD_USER_INPUT: region codes are public, so neither answer tells anyone anything.
        """
        regions = self._regions
        if regions is not None and not regions.missing(regions.get(code)):
            return True
        found = bool(await self.one(region_exists(code)))
        if found and regions is not None:
            regions.put(code, True)
        return found

    @property
    def sql_dialect(self) -> Dialect:
        bind = self._session.bind
        assert bind is not None, "the read session is bound to the engine"
        return bind.dialect

    @property
    def dialect(self) -> str:
        """The database's dialect name (``postgresql``, ``sqlite``)."""
        return self.sql_dialect.name

    async def close(self) -> None:
        """Wait for the statement in flight, then refuse further ones; call before the session closes.

        When a field error nulls out a parent, graphql-core answers without waiting for the parent's other
        children: their loaders may still be running a statement on this session. Closing the session under
        them failed the whole request with a 500; waiting for the lock lets that statement finish first.
        """
        async with self._lock:
            self._closed = True
            if self._replica_session is not None:
                await self._replica_session.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ReaderClosed

    async def _start(self) -> None:
        """Reads in autocommit: no BEGIN before the first statement and no ROLLBACK after the last.

        Under READ COMMITTED (PostgreSQL's default) every statement takes its own snapshot inside a
        transaction too, so a read-only request loses nothing, and a lookup saves two of its four round trips.
        """
        self._started = True
        if self._autocommit:
            await self._session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


class ConnectionReader(Reader):
    """A Reader on one pooled connection of `engine`, without an ORM session around it.

    For work that reads Core rows only: the compiled path's fast lane (api.fast_reads), where the session's
    bookkeeping (its transaction object, identity map, autobegin and close) was a third of the request's
    own Python time. ORM entities (:meth:`all`) need a session and are refused.
    """

    def __init__(
        self, engine: AsyncEngine, *, autocommit: bool = False, regions: BoundedCache[str, bool] | None = None
    ) -> None:
        # The engine's autocommit view shares its pool; it saves setting the option on every checkout.
        self._engine = _autocommit_view(engine) if autocommit else engine
        self._regions = regions
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._autocommit = autocommit
        self._started = False
        self._replica = None
        self._replica_session = None

    @property
    def sql_dialect(self) -> Dialect:
        return self._engine.dialect

    async def all(self, stmt: Select[T]) -> Sequence[T]:
        raise TypeError("ORM entities need a session: use Reader for resolvers")

    async def rows(
        self, stmt: Select[*tuple[Any, ...]], params: dict[str, Any] | None = None
    ) -> Sequence[Row[*tuple[Any, ...]]]:
        async with self._lock:
            return (await (await self._open()).execute(stmt, params)).all()

    async def rows_and_compiled(
        self, stmt: Select[*tuple[Any, ...]], params: dict[str, Any] | None = None
    ) -> tuple[Sequence[Row[*tuple[Any, ...]]], Compiled | None]:
        async with self._lock:
            return _with_compiled(await (await self._open()).execute(stmt, params))

    async def one(self, stmt: Select[T], params: dict[str, Any] | None = None) -> T:
        async with self._lock:
            return (await (await self._open()).execute(stmt, params)).scalar_one()

    async def text_rows(self, sql: str, parameters: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        async with self._lock:
            return await driver_sql.text_rows(await self._open(), sql, parameters)

    async def with_connection(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._lock:
            return await work(await self._open())

    async def _open(self) -> AsyncConnection:
        self._check_open()
        if self._connection is None:
            self._started = True
            self._connection = await self._engine.connect()
        return self._connection

    async def close(self) -> None:
        """Wait for the statement in flight, then give the connection back to the pool."""
        async with self._lock:
            self._closed = True
            if self._connection is not None:
                await self._connection.close()


def _with_compiled(result: Result[*tuple[Any, ...]]) -> tuple[Sequence[Row[*tuple[Any, ...]]], Compiled | None]:
    """`result`'s rows and, for a Core statement's cursor result, the compiled form it ran."""
    compiled = result.context.compiled if isinstance(result, CursorResult) else None
    return result.all(), compiled


_AUTOCOMMIT_VIEWS: dict[int, AsyncEngine] = {}


def _autocommit_view(engine: AsyncEngine) -> AsyncEngine:
    """``engine.execution_options(isolation_level="AUTOCOMMIT")``, one per engine (the same pool)."""
    view = _AUTOCOMMIT_VIEWS.get(id(engine))
    if view is None or view.sync_engine.pool is not engine.sync_engine.pool:
        view = _AUTOCOMMIT_VIEWS[id(engine)] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return view


class ReaderClosed(RuntimeError):
    """A resolver outlived its request (its response had already been sent)."""

    def __init__(self) -> None:
        super().__init__("this request has already been answered")


@dataclass
class Context:
    principal: Principal
    reader: Reader
    request: Any = None
    #: The server's limits (schema.core.limits), from settings.
    limits: Limits = field(default_factory=Limits)
    #: Opens the session a mutation writes in (one transaction per mutation, apart from the read session).
    sessions: async_sessionmaker[AsyncSession] | None = None
    #: Where a bulk write hands its job (domain.jobs.queue): the worker's queue or this process; None: no jobs.
    jobs: JobQueue | None = None
    #: Where an import job's upload is staged (domain.jobs.files); None: uploads over a page are refused.
    job_files: Path | None = None
    #: Whether parsed and validated documents are cached (schema.core.document_cache); off only to measure it.
    document_cache: bool = True
    #: Whether covered reads may be answered by the compiled read path (schema.compiled).
    compiled_reads: bool = True
    #: Whether ``__schema``/``__type`` may be asked (development only; schema.core.introspection).
    introspection: bool = True
    #: Charges the caller's cost budget (schema.core.limits): None when allowed, else seconds to wait.
    charge: Callable[[int], Awaitable[int | None]] | None = None
    #: Unmasked personal data this response returned; logged once per request (schema.core.access_log).
    pii_reads: PersonalDataReads = field(default_factory=PersonalDataReads)
    #: The app's access-log writer (group commit, domain.audit.access); None outside an app.
    access_log: AccessLogWriter | None = None
    #: The document's cost as the limits measured and charged it (schema.core.limits), for the fast lane's entry.
    cost: int | None = None
    #: The operation name as the HTTP request gave it, in a 1-tuple (None inside: not given); None when no
    #: HTTP view recorded it. The fast lane's entries are keyed by it (schema.compiled.extension).
    request_operation: tuple[str | None] | None = None
    #: Where the compiled path records operations it answered, for the fast lane (schema.compiled.fast).
    ready: Any = None
    #: The app's compiled plans, the statements it keeps and its read counters (a context made outside an app
    #: keeps its own).
    plans: Plans = field(default_factory=plan_cache)
    statements: Statements = field(default_factory=statement_cache)
    counters: ReadCounters = field(default_factory=ReadCounters)
    #: A subscriber's connection (graphql-transport-ws or SSE; schema.subscriptions); None on plain HTTP.
    connection: SubscriberConnection | None = None
    #: The graphql-transport-ws ``connection_init`` payload (Strawberry sets it; api.graphql reads the token).
    connection_params: dict[str, object] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        """The request's loaders, built when a resolver first asks (the compiled path never does)."""
        if self._loaders is None:
            from schema.core.loaders import Loaders  # schema.core.loaders imports this module

            self._loaders = Loaders(self.reader, self.principal)
        return self._loaders

    def read_afresh(self, reader: Reader) -> None:
        """Read with `reader` from now on, with new loaders and nothing noted yet: one subscription event's
        reads see the database as it is now, and its personal-data reads are logged with that event."""
        self.reader = reader
        self._loaders = None
        self.pii_reads = PersonalDataReads()

    @property
    def caller(self) -> Caller:
        """The principal as the domain's write functions see it."""
        return caller_for(self.principal, request_meta(self.request))

    def note_pii_read(self, entity_type: str, entity_id: object, field_name: str) -> None:
        self.pii_reads.note(entity_type, entity_id, field_name)


Info = strawberry.Info[Context, None]
