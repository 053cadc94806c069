"""Slow hashing for passwords and client secrets (argon2id), fast digests for high-entropy tokens.

Passwords and client secrets are verified against argon2id hashes in the PHC string format, so parameters
can be raised later and old hashes still verify; a successful sign-in stores the password again under the
current parameters (:func:`upgraded_hash`). Unknown users and unknown clients are checked against a dummy
hash, so a miss costs as much time as a wrong secret.

Authorization codes and refresh tokens are 48+ random characters: a SHA-256 digest is enough for them (no
dictionary to try), and it can be looked up by equality.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import weakref
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: The parameters of new hashes: argon2id, RFC 9106's low-memory profile (t=3, m=64 MiB, p=4). A hash carries
#: its own parameters, so it verifies whatever these are later.
PARAMETERS = profiles.RFC_9106_LOW_MEMORY
_HASHER = PasswordHasher.from_parameters(PARAMETERS)

T = TypeVar("T")

MIN_PASSWORD_LENGTH = 12
#: argon2 takes 64 MiB and a core for a few tens of milliseconds; at most this many run at once per process,
#: so a burst of sign-ins or token requests queues instead of exhausting memory.
CONCURRENT_HASHES = 4
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


async def in_hashing_thread(func: Callable[..., T], *args: object) -> T:
    """Run `func` (which hashes or verifies) in a worker thread, at most CONCURRENT_HASHES at a time."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(CONCURRENT_HASHES)
    return await to_thread.run_sync(func, *args, limiter=limiter)


MAX_SECRET_LENGTH = 1024


class WeakPassword(ValueError):
    pass


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters; this one has {len(password)}")
    if len(password) > MAX_SECRET_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_SECRET_LENGTH} characters")
    if len(set(password)) < 5:
        raise WeakPassword("a password needs at least 5 different characters")


def hash_with(parameters: Parameters) -> None:
    """Hash new secrets (and the dummy a miss is checked against) with `parameters` in this process from now on.

    For the test suite (tests/conftest.py), which hashes hundreds of secrets: the same argon2id code at a
    fraction of :data:`PARAMETERS`' cost. The service never calls it.
    """
    global _HASHER
    _HASHER = PasswordHasher.from_parameters(parameters)
    _dummy_hash.cache_clear()


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


@cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(32))


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when `secret` matches `stored_hash`; with no stored hash, burns the same time and says False."""
    if len(secret) > MAX_SECRET_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), secret) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def upgraded_hash(stored_hash: str, secret: str) -> str | None:
    """A new hash of `secret` when `stored_hash` (already verified against it) has older parameters, else None.

    Raising the argon2 parameters then takes effect for each account at its next sign-in, without a reset.
    """
    return _HASHER.hash(secret) if _HASHER.check_needs_rehash(stored_hash) else None


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def token_digest(value: str) -> str:
    """The stored form of an authorization code or refresh token."""
    return hashlib.sha256(value.encode()).hexdigest()
