"""Revoked access tokens: a table of ``jti`` values and a per-process cache checked on every request.

Access tokens are JWTs that verify without the database; revocation adds a ``jti`` to
``oauth_revoked_tokens`` and every process re-reads what was added recently every ``refresh_seconds``
(default 5). So a revoked token stops working at once in the process that revoked it and within seconds
everywhere else, and a request costs a set lookup, not a query. Rows are kept until the token would have
expired anyway; the cache forgets them at that point too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import utcnow
from domain.identity.models import RevokedToken

#: How far back each incremental read looks, so rows committed late (long transactions) are still seen.
_OVERLAP = dt.timedelta(seconds=120)


@dataclass(frozen=True, slots=True)
class Revoked:
    """A revoked ``jti``, or a marker revoking every token of a client or subject issued until now."""

    jti: str
    expires_at: dt.datetime


def client_marker(client_id: str) -> str:
    """Stands for every token issued to a disabled client (a ``jti`` never contains ':')."""
    return f"client:{client_id}"


def subject_marker(subject: str) -> str:
    """Stands for every token issued for a disabled user."""
    return f"sub:{subject}"


async def record_revocations(session: AsyncSession, tokens: Iterable[Revoked], reason: str) -> None:
    """Add `tokens` to the revoked list (idempotent), inside the caller's transaction."""
    now = utcnow()
    rows = [
        {"jti": t.jti, "expires_at": t.expires_at, "revoked_at": now, "reason": reason}
        for t in tokens
        if t.expires_at > now
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(RevokedToken).values(rows).on_conflict_do_nothing(index_elements=["jti"]))
    # Rows of tokens that have expired anyway are no longer needed (indexed on expires_at).
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))


class RevocationList:
    """This process's view of the revoked ``jti`` values."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._revoked: dict[str, dt.datetime] = {}
        self._checked_at: float | None = None
        self._read_since: dt.datetime | None = None
        self._lock = asyncio.Lock()

    def note(self, tokens: Iterable[Revoked]) -> None:
        """Revoked in this process: effective here at once, without waiting for the next read."""
        for t in tokens:
            self._revoked[t.jti] = t.expires_at

    async def is_revoked(self, jti: str | None, *, client_id: str | None = None, subject: str | None = None) -> bool:
        """True when the token, its client or its subject has been revoked."""
        if self._checked_at is None or self._clock() - self._checked_at >= self._refresh_seconds:
            async with self._lock:
                if self._checked_at is None or self._clock() - self._checked_at >= self._refresh_seconds:
                    await self._read()
        keys = [jti, client_marker(client_id) if client_id else None, subject_marker(subject) if subject else None]
        return any(k is not None and k in self._revoked for k in keys)

    async def _read(self) -> None:
        now = utcnow()
        stmt = select(RevokedToken.jti, RevokedToken.expires_at).where(RevokedToken.expires_at > now)
        if self._read_since is not None:
            stmt = stmt.where(RevokedToken.revoked_at >= self._read_since - _OVERLAP)
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        for jti, expires_at in rows:
            self._revoked[jti] = expires_at
        self._revoked = {j: e for j, e in self._revoked.items() if e > now}
        self._read_since = now
        self._checked_at = self._clock()
