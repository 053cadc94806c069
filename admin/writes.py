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
from domain.writes.codes import WriteCode
from domain.writes.errors import Problem
from domain.writes.runner import OutcomeKind
from domain.writes.runner import run_write as domain_run_write

T = TypeVar("T")


class Gone(Exception):
    """The target does not exist for this user (outside their region, or deleted): the page answers 404."""


@dataclass
class Outcome(Generic[T]):
    """What a write came to, as a form shows it: the result, or problems (per field and for the whole form)."""

    value: T | None = None
    problems: list[Problem] = field(default_factory=list)
    #: A version conflict: nothing was written, the form should say so and offer a reload.
    conflict: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.conflict is None


def caller_of(request: Request) -> Caller:
    return caller_for(console_principal(request), request_meta(request))


#: Refusals of the identity forms (accounts, passwords, user names, regions) shown like a workflow refusal.
_IDENTITY_REFUSALS = (AccountError, WeakPassword, InvalidUsername, InvalidRegionCode)


async def run_write(
    sessions: async_sessionmaker[AsyncSession],
    request: Request,
    work: Callable[[AsyncSession, Caller], Awaitable[T]],
) -> Outcome[T]:
    """Run `work` through the domain's runner as the signed-in user, and render its outcome for a form.

    Raises :class:`Gone` for a target the user cannot see; every other refusal is an :class:`Outcome`.
    """
    outcome = await domain_run_write(sessions, caller_of(request), work, refusals=_IDENTITY_REFUSALS)
    match outcome.kind:
        case OutcomeKind.INVALID:
            return Outcome(problems=list(outcome.problems))
        case OutcomeKind.NOT_FOUND:
            raise Gone
        case OutcomeKind.CONFLICT:
            return Outcome(conflict=outcome.message)
        case OutcomeKind.FORBIDDEN:
            return Outcome(problems=[Problem(None, WriteCode.REFUSED, outcome.message)])
    return Outcome(value=outcome.value)


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
