"""JWT access tokens (RFC 9068 profile): signing keys, issuing, verifying.

Verification pins the algorithm (ES256), requires ``typ: at+jwt`` (so no other JWT can pass as an access
token), looks the ``kid`` up only in our own key set (no ``jku``/``x5u`` fetching), and checks ``iss``,
``aud``, ``exp``, ``nbf``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.util import urlsafe_b64decode

from auth.principal import Principal, PrincipalKind
from auth.scopes import Role, Scope, UnknownScope, format_scopes, parse_scopes
from domain.codes import ErrorCode
from domain.regions.rules import InvalidRegionCode, RegionCode

ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JOSE media type, not a secret
LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """A bearer token we cannot accept. The message is safe to show to the caller."""

    extensions = {"code": ErrorCode.UNAUTHENTICATED.value}


@dataclass(frozen=True)
class TokenConfig:
    issuer: str
    audience: str
    lifetime_seconds: int = 900


def load_or_create_key(path: Path) -> ECKey:
    """The ES256 signing key at `path`, generated (owner-readable only) on first use."""
    if path.exists():
        key = ECKey.import_key(path.read_bytes(), {"use": "sig", "alg": ALGORITHM})
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ECKey.generate_key("P-256", {"use": "sig", "alg": ALGORITHM}, private=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.as_pem(private=True))
    key.ensure_kid()
    return key


def key_set(*keys: ECKey) -> KeySet:
    return KeySet(list(keys))


def public_jwks(keys: KeySet) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys.keys]}


def issue_access_token(
    key: ECKey,
    config: TokenConfig,
    *,
    subject: str,
    client_id: str,
    scopes: frozenset[Scope],
    roles: frozenset[Role] = frozenset(),
    region: str | None = None,
    lifetime_seconds: int | None = None,
    now: int | None = None,
) -> str:
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "sub": subject,
        "aud": config.audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + (lifetime_seconds or config.lifetime_seconds),
        "jti": uuid.uuid4().hex,
        "client_id": client_id,
        "scope": format_scopes(scopes),
    }
    if roles:
        claims["roles"] = sorted(r.value for r in roles)
    if region is not None:
        claims["region"] = RegionCode.parse(region).code
    header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])


def _header(token: str) -> dict[str, Any]:
    try:
        head = token.split(".", 1)[0]
        value = json.loads(urlsafe_b64decode(head.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("the bearer token is not a JWT") from None
    if not isinstance(value, dict):
        raise InvalidToken("the bearer token is not a JWT")
    return value


def verify_claims(token: str, keys: KeySet, config: TokenConfig, *, now: int | None = None) -> dict[str, Any]:
    """The claims of a valid access token signed by one of `keys`, or :class:`InvalidToken` saying why not."""
    header = _header(token)
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted; tokens are signed with ES256")
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidToken("the token is not an access token (typ must be at+jwt)")
    kid = header.get("kid")
    if not isinstance(kid, str) or not any(k.kid == kid for k in keys.keys):
        raise InvalidToken("the token was not signed by a key of this service")
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
    except JoseError:
        raise InvalidToken("the token signature is not valid") from None
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": config.issuer},
        aud={"essential": True, "value": config.audience},
        exp={"essential": True},
        sub={"essential": True},
        client_id={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except JoseError as exc:
        raise InvalidToken(claim_problem(exc)) from None
    return decoded.claims


def verify_access_token(token: str, keys: KeySet, config: TokenConfig, *, now: int | None = None) -> Principal:
    """The Principal a valid access token stands for, or :class:`InvalidToken` saying why not."""
    return principal_from_claims(verify_claims(token, keys, config, now=now))


def unverified_header_and_issuer(token: str) -> tuple[dict[str, Any], str | None]:
    """The header and ``iss`` of a JWT before verification: only to choose which issuer verifies it."""
    header = _header(token)
    try:
        payload = json.loads(urlsafe_b64decode(token.split(".")[1].encode()))
    except (ValueError, IndexError, UnicodeDecodeError):
        raise InvalidToken("the bearer token is not a JWT") from None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return header, issuer if isinstance(issuer, str) else None


def claim_problem(exc: JoseError) -> str:
    name = type(exc).__name__
    if name == "ExpiredTokenError":
        return "the token has expired; request a new one"
    if name == "InvalidTokenError":
        return "the token is not valid yet"
    return f"the token's claims are not accepted ({exc.description or name})"


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        scopes = parse_scopes(str(claims.get("scope", "")))
        roles = frozenset(Role(r) for r in claims.get("roles", []) if r in Role._value2member_map_)
        region = RegionCode.parse(claims["region"]) if claims.get("region") else None
    except (UnknownScope, InvalidRegionCode) as exc:
        raise InvalidToken(f"the token's claims are not accepted: {exc}") from None
    sub, client_id = str(claims["sub"]), str(claims["client_id"])
    # RFC 9068: a token issued to a client for itself has sub = client_id.
    kind = PrincipalKind.CLIENT if sub == client_id else PrincipalKind.USER
    return Principal(
        subject=sub,
        kind=kind,
        scopes=scopes,
        roles=roles,
        region=region,
        client_id=client_id,
        token_id=str(claims.get("jti")) if claims.get("jti") else None,
    )
