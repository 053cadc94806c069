"""The one way a write runs: its own transaction, and every way it can end as a neutral :class:`Outcome`.

GraphQL mutations and the console's forms both call :func:`run_write`; they only render the outcome (a
payload with ``UserError`` entries or an error code; form errors, a conflict banner or a 404). So a domain
error means the same thing at every entry point, and the database's own refusals — a unique key taken by a
concurrent insert, SQLite's busy lock, PostgreSQL's serialization failure — are recognised in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.writes.caller import Caller
from domain.writes.errors import Conflict, Invalid, NotFound, Problem, Refused
from domain.writes.placement import OutOfRegion

T = TypeVar("T")

#: SQLSTATEs of PostgreSQL's "another transaction got there first": serialization failure, deadlock.
_CONCURRENCY_SQLSTATES = frozenset({"40001", "40P01"})

CONCURRENT_CHANGE = "the record was changed at the same time by someone else; reload it and try again"
DATABASE_BUSY = "the database was busy with a concurrent change; try again"


class OutcomeKind(enum.StrEnum):
    OK = "OK"
    #: Problems with the input the caller can fix (per field); nothing was written.
    INVALID = "INVALID"
    #: The target does not exist for this caller (missing or outside their region: no existence leaks).
    NOT_FOUND = "NOT_FOUND"
    #: A stale expected version, or a concurrent change; nothing was written.
    CONFLICT = "CONFLICT"
    #: A rule forbids this action for this caller (separation of duties, a region they are not bound to).
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a write came to, independent of how it reaches the caller."""

    kind: OutcomeKind
    value: T | None = None
    problems: list[Problem] = field(default_factory=list)
    #: What went wrong, in words a person can act on (for NOT_FOUND, CONFLICT and FORBIDDEN).
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.OK


def is_concurrency_failure(exc: DBAPIError) -> bool:
    """Whether the database refused because a concurrent transaction held or changed the rows.

    SQLite answers "database is locked" when another writer holds it past the busy timeout; PostgreSQL
    answers SQLSTATE 40001 (serialization failure) or 40P01 (deadlock). Either way the write can be retried.
    """
    if "database is locked" in str(exc.orig):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return sqlstate in _CONCURRENCY_SQLSTATES


async def run_write(
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
    work: Callable[[AsyncSession, Caller], Awaitable[T]],
    *,
    refusals: tuple[type[Exception], ...] = (),
) -> Outcome[T]:
    """Run `work` in its own transaction; commit when it returns, roll back on any error.

    `refusals` are further exception types that mean FORBIDDEN for this entry point (the console's identity
    forms refuse a weak password or an unknown role this way). Anything else propagates: it is a fault.
    """
    forbidden: tuple[type[Exception], ...] = (Refused, OutOfRegion, *refusals)
    try:
        async with sessions() as session, session.begin():
            result = await work(session, caller)
    except Invalid as exc:
        return Outcome(OutcomeKind.INVALID, problems=list(exc.problems))
    except NotFound as exc:
        return Outcome(OutcomeKind.NOT_FOUND, message=str(exc))
    except Conflict as exc:
        return Outcome(OutcomeKind.CONFLICT, message=str(exc))
    except forbidden as exc:
        return Outcome(OutcomeKind.FORBIDDEN, message=str(exc))
    except IntegrityError:
        # A unique key taken by a concurrent write between our check and our insert.
        return Outcome(OutcomeKind.CONFLICT, message=CONCURRENT_CHANGE)
    except DBAPIError as exc:
        if is_concurrency_failure(exc):
            return Outcome(OutcomeKind.CONFLICT, message=DATABASE_BUSY)
        raise
    return Outcome(OutcomeKind.OK, value=result)
