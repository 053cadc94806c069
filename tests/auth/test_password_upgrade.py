"""Raising the argon2 parameters takes effect at each account's next sign-in: the hash is stored anew."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth import accounts
from auth.passwords import PARAMETERS, hash_with, upgraded_hash, verify_secret
from domain.identity.models import User
from tests.auth.conftest import PASSWORD
from tests.conftest import SUITE_HASHING

#: Parameters weaker than the service's (as an older release would have stored them).
OLD = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@pytest.fixture(autouse=True)
def service_parameters() -> Iterator[None]:
    """The service's argon2 parameters for these tests, not the suite's cheaper ones (tests/conftest.py)."""
    hash_with(PARAMETERS)
    yield
    hash_with(SUITE_HASHING)


def test_a_hash_of_current_parameters_is_kept_and_an_old_one_is_replaced() -> None:
    current = upgraded_hash(OLD.hash(PASSWORD), PASSWORD)
    assert current is not None
    assert current.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106's low-memory profile
    assert verify_secret(current, PASSWORD)
    assert upgraded_hash(current, PASSWORD) is None


async def test_a_sign_in_stores_an_old_hash_under_the_current_parameters(
    sessions: async_sessionmaker[AsyncSession], register_user: Callable[..., Any]
) -> None:
    username = await register_user()
    old = OLD.hash(PASSWORD)
    async with sessions() as session, session.begin():
        await session.execute(update(User).where(User.username == username).values(password_hash=old))

    async with sessions() as session, session.begin():
        assert await accounts.authenticate_user(session, username, "not the password at all") is None
    async with sessions() as session:
        assert await session.scalar(select(User.password_hash).where(User.username == username)) == old

    async with sessions() as session, session.begin():
        assert await accounts.authenticate_user(session, username, PASSWORD) is not None
    async with sessions() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == username))
    assert stored is not None
    assert stored != old
    assert upgraded_hash(stored, PASSWORD) is None  # current parameters now
    async with sessions() as session, session.begin():
        assert await accounts.authenticate_user(session, username, PASSWORD) is not None
