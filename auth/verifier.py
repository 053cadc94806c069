"""Bearer-token verification for every request: our own tokens, revocation, and an optional external issuer."""

from __future__ import annotations

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
    ) -> None:
        self.keyring = keyring
        self.config = config
        self.revocations = revocations
        self.external = external

    async def verify(self, token: str) -> Principal:
        header, issuer = unverified_header_and_issuer(token)
        if self.external is not None and issuer == self.external.config.issuer and issuer != self.config.issuer:
            # External tokens are revoked at their provider; our list still applies to the (namespaced)
            # subjects and clients an administrator has cut off here.
            principal = await self.external.verify(token, header)
        else:
            kid = header.get("kid")
            keys = await self.keyring.verification_keys(kid if isinstance(kid, str) else None)
            principal = principal_from_claims(verify_claims(token, keys, self.config))
        if await self.revocations.is_revoked(
            principal.token_id, client_id=principal.client_id, subject=principal.subject
        ):
            raise InvalidToken("the token has been revoked")
        return principal
