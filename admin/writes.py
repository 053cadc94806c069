"""How the console runs a domain write: one transaction, the signed-in user as the caller, errors as outcomes.

The same domain functions as the GraphQL mutations do the work (validation, version check, audit record in
the same transaction); this module only opens the transaction and turns the domain's errors into something
a form can show: problems per field, a conflict message, or "not found".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from admin.auth import console_principal
from auth.accounts import AccountError
from auth.passwords import WeakPassword
from auth.requests import caller_for, request_meta
from domain.audit.models import AuditEvent
from domain.identity.models import InvalidUsername
from domain.regions.rules import InvalidRegionCode
from domain.writes.caller import Caller
from domain.writes.errors import Conflict, Invalid, NotFound, Problem, Refused
from domain.writes.placement import OutOfRegion

T = TypeVar("T")


class Gone(Exception):
    """The target does not exist for this user (outside their region, or deleted): the page answers 404."""


@dataclass
class Outcome(Generic[T]):
    """What a write came to: the result, or problems to show (per field and for the whole form)."""

    value: T | None = None
    problems: list[Problem] = field(default_factory=list)
    #: A version conflict: nothing was written, the form should say so and offer a reload.
    conflict: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.conflict is None


def caller_of(request: Request) -> Caller:
    return caller_for(console_principal(request), request_meta(request))


async def run_write(
    sessions: async_sessionmaker[AsyncSession],
    request: Request,
    work: Callable[[AsyncSession, Caller], Awaitable[T]],
) -> Outcome[T]:
    """Run `work` in its own transaction; commit when it returns, roll back on any error.

    Raises :class:`Gone` for a target the user cannot see; every other refusal is an :class:`Outcome`.
    """
    caller = caller_of(request)
    try:
        async with sessions() as session, session.begin():
            result = await work(session, caller)
    except Invalid as exc:
        return Outcome(problems=list(exc.problems))
    except NotFound:
        raise Gone from None
    except Conflict as exc:
        return Outcome(conflict=str(exc))
    except (Refused, OutOfRegion, AccountError, WeakPassword, InvalidUsername, InvalidRegionCode) as exc:
        return Outcome(problems=[Problem(None, "REFUSED", str(exc))])
    except IntegrityError:
        return Outcome(conflict="the record was changed at the same time by someone else; reload it and try again")
    except OperationalError as exc:
        if "database is locked" in str(exc):
            return Outcome(conflict="the database was busy with a concurrent change; try again")
        raise
    return Outcome(value=result)


async def latest_event(session: AsyncSession, entity_type: str, entity_id: object) -> AuditEvent | None:
    """The audit event a write just appended for this record (read inside the same transaction)."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


def saved_message(event: AuditEvent | None) -> str:
    """What the clerk is told after a correction (field names only: flash messages travel in the cookie)."""
    if event is None:
        return "Saved."
    fields = ", ".join(sorted(event.changes or {})) or "nothing"
    return f"Saved. Changed: {fields}. Audit event #{event.seq} records the values before and after."
