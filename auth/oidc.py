"""Trusting an external OpenID Connect provider (Keycloak and the like) as a second token issuer.

Discovery (``/.well-known/openid-configuration``, or RFC 8414's ``oauth-authorization-server``) and the
provider's JWKS are fetched over HTTP and cached; a token naming a ``kid`` we do not have triggers one
re-fetch (at most every ``refetch_seconds``), which is how the provider's key rotation is followed. The
``kid`` is only ever looked up in that fetched set: ``jku``/``x5u`` headers are never followed.

Roles, scopes and region come from configurable claims (``realm_access.roles`` is Keycloak's roles claim).
A person's scopes are their roles' scopes (narrowed to the token's ``scope`` when it names any of ours);
a client token without roles gets the scopes it names. A role bound to a region without a region claim
is refused rather than treated as national.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from auth.principal import Principal, PrincipalKind
from auth.scopes import REGION_BOUND_ROLES, ROLE_SCOPES, Role, Scope
from auth.tokens import LEEWAY_SECONDS, InvalidToken, claim_problem
from domain.regions.rules import InvalidRegionCode, RegionCode


@dataclass(frozen=True)
class ExternalIssuerConfig:
    issuer: str
    audience: str
    roles_claim: str = "realm_access.roles"
    scope_claim: str = "scope"
    region_claim: str = "region"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    #: ``typ`` header values accepted; Keycloak's access tokens say "JWT", RFC 9068 ones "at+jwt".
    token_types: tuple[str, ...] = ("at+jwt",)
    cache_seconds: float = 600.0
    #: An unknown kid re-fetches the keys at most this often (a flood of made-up kids costs little).
    refetch_seconds: float = 5.0
    timeout_seconds: float = 5.0
    #: Client ids (as the provider names them) allowed to act nationally, i.e. without a region claim.
    #: Deny by default: any other token without a region claim is refused.
    national_clients: frozenset[str] = frozenset()


def external_name(issuer: str, local: str) -> str:
    """A subject or client id from the provider, namespaced by issuer so it never equals one of ours
    (separation of duties, audit attribution and idempotency keys all compare subjects)."""
    return f"{issuer}#{local}"


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def principal_from_external(claims: dict[str, Any], config: ExternalIssuerConfig) -> Principal:
    known_roles = {r.value for r in Role}
    roles = frozenset(Role(r) for r in _words(claim_at(claims, config.roles_claim)) if r in known_roles)
    named = frozenset(Scope(s) for s in _words(claim_at(claims, config.scope_claim)) if s in Scope._value2member_map_)
    if roles:
        scopes = frozenset().union(*(ROLE_SCOPES[r] for r in roles))
        scopes = scopes & named if named else scopes
    else:
        scopes = named
    raw_region = claim_at(claims, config.region_claim)
    try:
        region = RegionCode.parse(str(raw_region)) if raw_region else None
    except InvalidRegionCode as exc:
        raise InvalidToken(f"the token's claims are not accepted: {exc}") from None
    if region is None and roles & REGION_BOUND_ROLES:
        raise InvalidToken("the token names a region-bound role but no region claim; it is not accepted")
    sub = str(claims["sub"])
    client_id = claims.get("client_id") or claims.get("azp")
    kind = PrincipalKind.CLIENT if not roles and sub == client_id else PrincipalKind.USER
    if region is None and kind is PrincipalKind.CLIENT and sub not in config.national_clients:
        raise InvalidToken(
            "the token names no region; only clients configured as national (JAMSOS_OIDC_NATIONAL_CLIENTS) may omit it"
        )
    return Principal(
        subject=external_name(config.issuer, sub),
        kind=kind,
        scopes=scopes,
        roles=roles,
        region=region,
        client_id=external_name(config.issuer, str(client_id)) if client_id else None,
        token_id=external_name(config.issuer, str(claims["jti"])) if claims.get("jti") else None,
        extra={"issuer": config.issuer},
    )


class ExternalIssuer:
    def __init__(self, config: ExternalIssuerConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        base = self.config.issuer.rstrip("/")
        async with httpx.AsyncClient(timeout=self.config.timeout_seconds, follow_redirects=False) as http:
            metadata = None
            for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
                response = await http.get(base + path)
                if response.status_code == 200:
                    metadata = response.json()
                    break
            if not isinstance(metadata, dict) or metadata.get("issuer") != self.config.issuer:
                raise InvalidToken("the token issuer's metadata could not be read or names another issuer")
            jwks = (await http.get(str(metadata["jwks_uri"]))).json()
        self._keys = KeySet.import_key_set(jwks)
        self._fetched_at = self._clock()

    async def keys(self, kid: str | None) -> KeySet:
        async with self._lock:
            age = None if self._fetched_at is None else self._clock() - self._fetched_at
            stale = age is None or age >= self.config.cache_seconds
            unknown = self._keys is not None and kid is not None and not any(k.kid == kid for k in self._keys.keys)
            if stale or (unknown and age is not None and age >= self.config.refetch_seconds):
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError, KeyError, JoseError):
                    if self._keys is None:
                        raise InvalidToken("the token issuer's keys could not be fetched; try again later") from None
                    # Keep serving the keys we have and back off: without this every request would wait
                    # on the unreachable provider again.
                    self._fetched_at = self._clock() - self.config.cache_seconds + self.config.refetch_seconds
        assert self._keys is not None
        return self._keys

    async def verify(self, token: str, header: dict[str, Any]) -> Principal:
        config = self.config
        if header.get("alg") not in config.algorithms:
            raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted from this issuer")
        if header.get("typ") not in config.token_types:
            raise InvalidToken("the token is not an access token of this issuer (unexpected typ)")
        kid = header.get("kid")
        keys = await self.keys(kid if isinstance(kid, str) else None)
        if not isinstance(kid, str) or not any(k.kid == kid for k in keys.keys):
            raise InvalidToken("the token was not signed by a key of its issuer")
        try:
            decoded = jwt.decode(token, keys, algorithms=list(config.algorithms))
        except JoseError:
            raise InvalidToken("the token signature is not valid") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise InvalidToken(claim_problem(exc)) from None
        return principal_from_external(decoded.claims, config)
