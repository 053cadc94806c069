"""The version check and the last step every correction shares: refuse an empty one, flush, audit it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from domain.audit import writes as audit
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Conflict, Invalid, invalid
from domain.writes.reasons import check_reason


def check_version(entity: str, key: object, expected: int, actual: int) -> None:
    if expected != actual:
        raise Conflict(entity, key, expected, actual)


def require_change(changed: dict[str, Any]) -> None:
    if not changed:
        raise invalid(None, WriteCode.NO_CHANGE, "nothing to change: every given value equals the current one")


async def flush_versioned(session: AsyncSession, entity: str, key: object) -> None:
    """Flush; a row changed meanwhile by someone else (``version_id_col`` matched nothing) is a Conflict.

    `key` is read by the caller before the flush: a failed flush expires the object.
    """
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict(entity, key, None, None) from None


async def save_correction(
    session: AsyncSession,
    caller: Caller,
    *,
    entity: str,
    key: object,
    entity_type: str,
    entity_id: object,
    changed: dict[str, Any],
    reason: str,
    reason_code: str | None,
) -> None:
    """Flush a corrected row and append its audit event (action ``<entity>.update``) in the same transaction.

    Every correction carries a known reason code (:func:`domain.writes.reasons.check_reason`): checked here
    too, so a correction path that forgot to check it cannot write.
    """
    _, _, problems = check_reason(reason, reason_code)
    if problems:
        raise Invalid(problems)
    require_change(changed)
    await flush_versioned(session, entity, key)
    await audit.record(
        session,
        actor=caller.actor,
        action=f"{entity}.update",
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=changed,
        reason=reason,
        reason_code=reason_code,
        meta=caller.meta,
    )
