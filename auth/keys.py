"""Signing keys in the database: one active ES256 key, retired keys published until their tokens expire.

Every web process reads the same ``signing_keys`` table, so ``jamsos keys rotate`` run anywhere takes effect
everywhere: processes re-read the table every ``refresh_seconds`` and at once when a token names a ``kid``
they have not seen (at most every few seconds, so random ``kid`` values cannot flood the database).

The first key is the one in the key file (``JAMSOS_SIGNING_KEY_PATH``, generated on first use), imported on
first need: a deployment that had only the file keeps its key and the tokens signed with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import ECKey, KeySet
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.tokens import ALGORITHM, LEEWAY_SECONDS, load_or_create_key
from domain.db import utcnow
from domain.identity.models import OAuthClient, SigningKey


class NoSigningKey(RuntimeError):
    pass


def import_pem(pem: str) -> ECKey:
    key = ECKey.import_key(pem.encode(), {"use": "sig", "alg": ALGORITHM})
    key.ensure_kid()
    return key


def _import(row: SigningKey) -> ECKey:
    return ECKey.import_key(row.private_pem.encode(), {"use": "sig", "alg": ALGORITHM, "kid": row.kid})


def new_key() -> ECKey:
    key = ECKey.generate_key("P-256", {"use": "sig", "alg": ALGORITHM}, private=True)
    key.ensure_kid()
    return key


def _row(key: ECKey, now: dt.datetime) -> SigningKey:
    return SigningKey(
        kid=key.kid,
        algorithm=ALGORITHM,
        private_pem=key.as_pem(private=True).decode(),
        created_at=now,
        activated_at=now,
    )


def _published(now: dt.datetime) -> ColumnElement[bool]:
    return or_(SigningKey.expires_at.is_(None), SigningKey.expires_at > now)


async def published_keys(session: AsyncSession, now: dt.datetime | None = None) -> Sequence[SigningKey]:
    """Keys that sign or still verify tokens: the active ones and the retired ones not yet expired."""
    now = now or utcnow()
    stmt = select(SigningKey).where(_published(now)).order_by(SigningKey.activated_at.desc(), SigningKey.kid)
    return (await session.scalars(stmt)).all()


async def all_keys(session: AsyncSession) -> Sequence[SigningKey]:
    return (await session.scalars(select(SigningKey).order_by(SigningKey.activated_at.desc()))).all()


async def ensure_active_key(session: AsyncSession, bootstrap_path: Path | None) -> SigningKey:
    """The active key; on an empty table, imports the key file (or makes a key) and commits it."""
    active = await _active(session)
    if active is not None:
        return active
    key = load_or_create_key(bootstrap_path) if bootstrap_path else new_key()
    session.add(_row(key, utcnow()))
    try:
        await session.commit()
    except IntegrityError:  # another process imported the same file first
        await session.rollback()
    active = await _active(session)
    if active is None:
        raise NoSigningKey("no active signing key, and none could be created")
    return active


async def _active(session: AsyncSession) -> SigningKey | None:
    stmt = (
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.activated_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def longest_token_lifetime(session: AsyncSession, default_seconds: int) -> int:
    lifetimes = (await session.scalars(select(OAuthClient.token_lifetime_seconds))).all()
    return max([default_seconds, *(x for x in lifetimes if x)])


#: Processes keep signing with a retired key until they next read the table (``key_refresh_seconds``);
#: the retired key stays trusted this much longer than a token lives, so their tokens stay valid too.
ROTATION_GRACE_SECONDS = 300


async def rotate(session: AsyncSession, *, default_lifetime_seconds: int) -> tuple[SigningKey, list[SigningKey]]:
    """Make a new key active; retire the others, published until every token they signed has expired.

    Returns the new key and the keys retired now. The caller commits.
    """
    now = utcnow()
    lifetime = await longest_token_lifetime(session, default_lifetime_seconds)
    keep = dt.timedelta(seconds=lifetime + LEEWAY_SECONDS + ROTATION_GRACE_SECONDS)
    retired = list((await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))).all())
    for row in retired:
        row.retired_at = now
        row.expires_at = now + keep
    fresh = _row(new_key(), now)
    session.add(fresh)
    await session.flush()
    return fresh, retired


@dataclass(frozen=True)
class LoadedKey:
    key: ECKey
    retired: bool
    expires_at: dt.datetime | None


class KeyRing:
    """A process's cached view of the signing keys table."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bootstrap_path: Path | None,
        *,
        refresh_seconds: float = 60.0,
        unknown_kid_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._bootstrap = bootstrap_path
        self._refresh_seconds = refresh_seconds
        self._unknown_kid_interval = unknown_kid_interval
        self._clock = clock
        self._keys: list[LoadedKey] = []
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._sessions() as session:
            await ensure_active_key(session, self._bootstrap)
            rows = await published_keys(session)
        self._keys = [LoadedKey(_import(r), r.retired_at is not None, r.expires_at) for r in rows]
        self._loaded_at = self._clock()

    async def _ensure(self, *, older_than: float) -> None:
        async with self._lock:
            if self._loaded_at is None or self._clock() - self._loaded_at >= older_than:
                await self.refresh()

    async def signing_key(self) -> ECKey:
        await self._ensure(older_than=self._refresh_seconds)
        for loaded in self._keys:
            if not loaded.retired:
                return loaded.key
        raise NoSigningKey("no active signing key")

    async def verification_keys(self, kid: str | None = None) -> KeySet:
        """Keys a token may be signed with now; re-reads the table (rate-limited) for a ``kid`` not seen yet."""
        await self._ensure(older_than=self._refresh_seconds)
        if kid is not None and not any(k.key.kid == kid for k in self._keys):
            await self._ensure(older_than=self._unknown_kid_interval)
        now = utcnow()
        return KeySet([k.key for k in self._keys if k.expires_at is None or k.expires_at > now])
