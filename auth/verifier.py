"""Bearer-token verification for every request: our own tokens, revocation, and an optional external issuer."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from auth.keys import KeyRing
from auth.oidc import ExternalIssuer
from auth.principal import Principal
from auth.revocation import RevocationList
from auth.tokens import InvalidToken, TokenConfig, principal_from_claims, unverified_header_and_issuer, verify_claims


class TokenVerifier:
    """Turns a bearer token into a Principal, or raises :class:`InvalidToken` with a reason safe to show.

    The unverified ``iss`` only chooses which issuer's rules apply; that issuer then checks everything
    (signature with its own keys, ``iss``, ``aud``, ``exp``, ``nbf``, ``typ``) before anything is trusted.
    """

    def __init__(
        self,
        keyring: KeyRing,
        config: TokenConfig,
        revocations: RevocationList,
        external: ExternalIssuer | None = None,
        *,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyring = keyring
        self.config = config
        self.revocations = revocations
        self.external = external
        self._cache = VerifiedTokens(cache_size, clock)

    async def verify(self, token: str) -> Principal:
        principal = await self._our_verified(token)
        if principal is None:
            header, issuer = unverified_header_and_issuer(token)
            if self.external is not None and issuer == self.external.config.issuer and issuer != self.config.issuer:
                # External tokens are revoked at their provider; our list still applies to the (namespaced)
                # subjects and clients an administrator has cut off here.
                principal = await self.external.verify(token, header)
            else:
                kid = header.get("kid")
                keys = await self.keyring.verification_keys(kid if isinstance(kid, str) else None)
                claims = verify_claims(token, keys, self.config)
                principal = principal_from_claims(claims)
                self._cache.put(token, principal, claims.get("exp"), kid if isinstance(kid, str) else None)
        if await self.revocations.is_revoked(
            principal.token_id, client_id=principal.client_id, subject=principal.subject
        ):
            raise InvalidToken("the token has been revoked")
        return principal

    async def _our_verified(self, token: str) -> Principal | None:
        """The principal of one of our tokens verified before, until it expires, as long as the key that signed
        it is still one of ours (a withdrawn key ends its tokens at once); the token is not decoded again."""
        entry = self._cache.get(token)
        if entry is None:
            return None
        principal, kid = entry
        keys = await self.keyring.verification_keys(kid)
        return principal if kid is not None and any(k.kid == kid for k in keys.keys) else None


class VerifiedTokens:
    """Principals of tokens whose signature and claims were checked, each kept until the token expires.

    Checking an ES256 signature and the claims is the largest fixed cost of an authenticated request. The
    cache is keyed by the token itself, bounded (least recently used first out), and an entry is dropped at
    the token's ``exp``; revocation is not cached (the verifier asks the revocation list every time).
    """

    def __init__(self, maxsize: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, tuple[Principal, str | None, float]] = OrderedDict()
        self._maxsize = maxsize
        self._clock = clock

    def get(self, token: str) -> tuple[Principal, str | None] | None:
        """The principal of `token` and the ``kid`` of the key that signed it, if it was verified and has not
        expired."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, kid, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return principal, kid

    def put(self, token: str, principal: Principal, exp: object, kid: str | None = None) -> None:
        if self._maxsize <= 0 or not isinstance(exp, int | float):
            return
        self._entries[token] = (principal, kid, float(exp))
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)
