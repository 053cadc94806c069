"""How a mutation runs a domain write: one transaction, and the domain's errors mapped to the contract.

Validation problems become ``UserError`` entries in the payload (nothing written). A target the caller
cannot see is ``NOT_FOUND``, a stale version or a concurrent change ``CONFLICT``, a workflow rule against
this caller ``FORBIDDEN``: those are GraphQL errors with ``extensions.code``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from domain.codes import ErrorCode
from domain.writes.caller import Caller
from domain.writes.errors import NotFound
from domain.writes.runner import OutcomeKind
from domain.writes.runner import run_write as domain_run_write
from schema.core.context import Info
from schema.core.enums import UserErrorCodeEnum
from schema.core.ids import NO_ROW, local_id

T = TypeVar("T")


@strawberry.type(description="A problem with the input that the caller can fix; nothing was written.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault (camelCase path), if one is.")
    code: UserErrorCodeEnum = strawberry.field(
        description="Stable machine-readable code (the UserErrorCode catalogue)."
    )
    message: str = strawberry.field(description="What is wrong and how to fix it.")


class WriteError(Exception):
    def __init__(self, message: str, code: ErrorCode) -> None:
        super().__init__(message)
        self.extensions = {"code": code.value}


def require_local_id(global_id: object, type_name: str) -> int:
    """The row id of a global id of `type_name` that a mutation acts on; NOT_FOUND when it is not one."""
    value = local_id(str(global_id), type_name)
    if value == NO_ROW:
        raise WriteError(str(NotFound(type_name, global_id)), ErrorCode.NOT_FOUND)
    return value


#: How each outcome that is not a payload reaches a GraphQL caller: an error with this code.
_ERROR_CODES = {
    OutcomeKind.NOT_FOUND: ErrorCode.NOT_FOUND,
    OutcomeKind.CONFLICT: ErrorCode.CONFLICT,
    OutcomeKind.FORBIDDEN: ErrorCode.FORBIDDEN,
}


async def run_write(
    info: Info, work: Callable[[AsyncSession, Caller], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run `work` through the domain's runner and render its outcome: a value, user errors, or an error."""
    sessions = info.context.sessions
    if sessions is None:
        raise RuntimeError("this context has no session factory for writes")
    outcome = await domain_run_write(sessions, info.context.caller, work)
    if outcome.kind is OutcomeKind.INVALID:
        return None, [UserError(field=p.field, code=p.code, message=p.message) for p in outcome.problems]
    if outcome.kind in _ERROR_CODES:
        raise WriteError(outcome.message, _ERROR_CODES[outcome.kind])
    return outcome.value, []
