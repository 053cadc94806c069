"""Stored grants: authorization codes and refresh-token families, and revoking what was issued from them.

Codes and refresh tokens are looked up by their SHA-256 digest. A refresh-token family is everything that
descends from one sign-in; revoking it marks every refresh token of the family revoked and adds the access
tokens issued with them to the revoked list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.passwords import token_digest
from auth.revocation import Revoked, record_revocations
from domain.db import utcnow
from domain.identity.models import AuthorizationCode, RefreshToken


async def find_code(session: AsyncSession, value: str) -> AuthorizationCode | None:
    stmt = select(AuthorizationCode).where(AuthorizationCode.code_hash == token_digest(value))
    return (await session.scalars(stmt)).first()


async def find_refresh(session: AsyncSession, value: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_digest(value))
    return (await session.scalars(stmt)).first()


async def consume_code(session: AsyncSession, code_id: int, *, family_id: str | None, access: Revoked | None) -> bool:
    """Mark a code used, only if nobody else did first (compare-and-set). False when it was already used."""
    result = await session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code_id, AuthorizationCode.used_at.is_(None))
        .values(
            used_at=utcnow(),
            family_id=family_id,
            access_jti=access.jti if access else None,
            access_expires_at=access.expires_at if access else None,
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def rotate_refresh(session: AsyncSession, token_id: int) -> bool:
    """Mark a refresh token used (compare-and-set). False when it was used or revoked meanwhile."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _access_of(rows: Sequence[RefreshToken | AuthorizationCode]) -> list[Revoked]:
    return [Revoked(r.access_jti, r.access_expires_at) for r in rows if r.access_jti and r.access_expires_at]


async def _revoke_refresh_rows(session: AsyncSession, rows: Sequence[RefreshToken], reason: str) -> list[Revoked]:
    now = utcnow()
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at = now
    access = _access_of(rows)
    await record_revocations(session, access, reason)
    await session.flush()
    return access


async def revoke_family(session: AsyncSession, family_id: str, reason: str) -> list[Revoked]:
    """Revoke every refresh token of the family and the access tokens issued with them; returns the latter."""
    rows = (await session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id))).all()
    codes = (await session.scalars(select(AuthorizationCode).where(AuthorizationCode.family_id == family_id))).all()
    access = await _revoke_refresh_rows(session, rows, reason)
    from_codes = _access_of(codes)
    await record_revocations(session, from_codes, reason)
    return access + from_codes


async def revoke_code_grant(session: AsyncSession, code: AuthorizationCode, reason: str) -> list[Revoked]:
    """A code used twice: revoke what its first exchange issued (RFC 6749 §4.1.2)."""
    if code.family_id:
        return await revoke_family(session, code.family_id, reason)
    access = _access_of([code])
    await record_revocations(session, access, reason)
    return access


async def revoke_sessions(
    session: AsyncSession, *, user_id: int | None = None, client_id: str | None = None, reason: str
) -> list[Revoked]:
    """Revoke all live refresh tokens of a user or a client (disabling them)."""
    stmt = select(RefreshToken).where(RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > utcnow())
    if user_id is not None:
        stmt = stmt.where(RefreshToken.user_id == user_id)
    if client_id is not None:
        stmt = stmt.where(RefreshToken.client_id == client_id)
    return await _revoke_refresh_rows(session, (await session.scalars(stmt)).all(), reason)


#: Expired codes and refresh tokens are kept this long (reuse of a just-expired one is still recognised).
KEEP_EXPIRED = dt.timedelta(days=1)


async def prune(session: AsyncSession) -> None:
    """Delete codes and refresh tokens that expired more than a day ago (called now and then, e.g. on sign-in)."""
    cutoff = utcnow() - KEEP_EXPIRED
    await session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff))
    await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))


def expiry(seconds: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) + dt.timedelta(seconds=seconds)
