"""The verified-token cache: an entry lives until its token's ``exp``, the cache is bounded, revocation is not cached.

(tests/auth/test_revocation_introspection.py revokes a token that has just been used, so cached, and checks the
next request is refused.)
"""

from __future__ import annotations

from auth.principal import Principal, PrincipalKind
from auth.verifier import VerifiedTokens

ALICE = Principal(subject="alice", kind=PrincipalKind.USER)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_ends_when_its_token_expires() -> None:
    clock = Clock()
    cache = VerifiedTokens(10, clock)
    cache.put("token-a", ALICE, 1_060, "key-1")
    assert cache.get("token-a") == (ALICE, "key-1"), "the principal and the key that signed the token"
    clock.now = 1_059.9
    assert cache.get("token-a") == (ALICE, "key-1")
    clock.now = 1_060
    assert cache.get("token-a") is None
    clock.now = 1_000
    assert cache.get("token-a") is None, "an expired entry is dropped, not revived"


def test_the_cache_is_bounded_and_keeps_the_recently_used() -> None:
    cache = VerifiedTokens(2, Clock())
    cache.put("a", ALICE, 5_000)
    cache.put("b", ALICE, 5_000)
    assert cache.get("a") == (ALICE, None)
    cache.put("c", ALICE, 5_000)
    assert cache.get("b") is None
    assert cache.get("a") == (ALICE, None)
    assert cache.get("c") == (ALICE, None)


def test_tokens_without_expiry_and_a_zero_size_are_not_cached() -> None:
    cache = VerifiedTokens(2, Clock())
    cache.put("no-exp", ALICE, None)
    assert cache.get("no-exp") is None
    off = VerifiedTokens(0, Clock())
    off.put("a", ALICE, 5_000)
    assert off.get("a") is None
