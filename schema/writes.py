"""How a mutation runs a domain write: one transaction, and the domain's errors mapped to the contract.

Validation problems become ``UserError`` entries in the payload (nothing written). A target the caller
cannot see is ``NOT_FOUND``, a stale version or a concurrent change ``CONFLICT``, a workflow rule against
this caller ``FORBIDDEN``: those are GraphQL errors with ``extensions.code``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.writes.caller import Caller
from domain.writes.errors import Conflict, Invalid, NotFound, Refused
from domain.writes.placement import OutOfRegion
from schema.context import Info
from schema.errors import ErrorCode
from schema.ids import NO_ROW, local_id

T = TypeVar("T")


@strawberry.type(description="A problem with the input that the caller can fix; nothing was written.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault (camelCase path), if one is.")
    code: str = strawberry.field(description="Stable machine-readable code, e.g. INVALID_NIK, DUPLICATE_NIK.")
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


async def run_write(
    info: Info, work: Callable[[AsyncSession, Caller], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run `work` in its own transaction; commit when it returns, roll back on any error."""
    sessions = info.context.sessions
    if sessions is None:
        raise RuntimeError("this context has no session factory for writes")
    caller = info.context.caller
    try:
        async with sessions() as session, session.begin():
            result = await work(session, caller)
    except Invalid as exc:
        return None, [UserError(field=p.field, code=p.code, message=p.message) for p in exc.problems]
    except NotFound as exc:
        raise WriteError(str(exc), ErrorCode.NOT_FOUND) from None
    except Conflict as exc:
        raise WriteError(str(exc), ErrorCode.CONFLICT) from None
    except (Refused, OutOfRegion) as exc:
        raise WriteError(str(exc), ErrorCode.FORBIDDEN) from None
    except IntegrityError:
        # A unique key taken by a concurrent write between our check and our insert.
        raise WriteError("the record was changed at the same time by someone else; retry", ErrorCode.CONFLICT) from None
    except OperationalError as exc:
        if "database is locked" in str(exc):  # SQLite: a concurrent writer held the database
            raise WriteError("the database was busy with a concurrent change; retry", ErrorCode.CONFLICT) from None
        raise
    return result, []
