"""The per-request context every resolver receives: the principal, a database reader and the loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from auth.principal import Principal
from auth.requests import caller_for, request_meta
from domain.audit.access import PersonalDataReads
from domain.writes.caller import Caller
from schema.limits import Limits

if TYPE_CHECKING:
    from schema.loaders import Loaders

T = TypeVar("T")


class Reader:
    """One request's AsyncSession, used by one coroutine at a time.

    Sibling resolvers run concurrently and an AsyncSession must not be (docs/libraries.md, "Strawberry on
    Starlette"); the lock serialises their statements, which on one connection would run one after the other
    anyway.
    """

    def __init__(self, session: AsyncSession, *, autocommit: bool = False) -> None:
        self._session = session
        self._lock = asyncio.Lock()
        self._closed = False
        self._autocommit = autocommit
        self._started = False

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

    async def close(self) -> None:
        """Wait for the statement in flight, then refuse further ones; call before the session closes.

        When a field error nulls out a parent, graphql-core answers without waiting for the parent's other
        children: their loaders may still be running a statement on this session. Closing the session under
        them failed the whole request with a 500; waiting for the lock lets that statement finish first.
        """
        async with self._lock:
            self._closed = True

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


class ReaderClosed(RuntimeError):
    """A resolver outlived its request (its response had already been sent)."""

    def __init__(self) -> None:
        super().__init__("this request has already been answered")


@dataclass
class Context:
    principal: Principal
    reader: Reader
    loaders: Loaders
    request: Any = None
    #: The server's limits (schema.limits), from settings.
    limits: Limits = field(default_factory=Limits)
    #: Opens the session a mutation writes in (one transaction per mutation, apart from the read session).
    sessions: async_sessionmaker[AsyncSession] | None = None
    #: Whether parsed and validated documents are cached (schema.document_cache); off only to measure it.
    document_cache: bool = True
    #: Whether covered reads may be answered by the compiled read path (schema.compiled).
    compiled_reads: bool = True
    #: Whether ``__schema``/``__type`` may be asked (development only; schema.introspection).
    introspection: bool = True
    #: Charges the caller's cost budget (schema.limits): None when allowed, else seconds to wait.
    charge: Callable[[int], Awaitable[int | None]] | None = None
    #: Unmasked personal data this response returned; logged once per request (schema.access_log).
    pii_reads: PersonalDataReads = field(default_factory=PersonalDataReads)

    @property
    def caller(self) -> Caller:
        """The principal as the domain's write functions see it."""
        return caller_for(self.principal, request_meta(self.request))

    def note_pii_read(self, entity_type: str, entity_id: object, field_name: str) -> None:
        self.pii_reads.note(entity_type, entity_id, field_name)


Info = strawberry.Info[Context, None]
