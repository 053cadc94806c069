"""Read-only snapshots of clients, users, codes and tokens in the shapes authlib asks for.

authlib runs in a worker thread with no database session, so it sees these frozen copies, never ORM rows.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, InvalidScopeError, TokenMixin

from auth.passwords import token_digest, verify_secret
from auth.scopes import Role, Scope, UnknownScope, format_scopes, parse_scopes
from domain.db import utcnow
from domain.identity.models import AuthorizationCode, OAuthClient, RefreshToken, User
from domain.regions.rules import RegionCode


def describe(text: str) -> str:
    """An ``error_description`` that RFC 6749 accepts (printable ASCII without '"' and '\\')."""
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


def decide_scope(requested: str | None, allowed: frozenset[Scope], whose: str) -> str:
    """The scope to grant: what was asked if it is allowed (error if not), everything allowed if nothing was.

    Asking for more is an error, not silently narrowed: a partner should learn that its request was refused.
    """
    if not requested or not requested.strip():
        wanted = allowed
    else:
        try:
            wanted = parse_scopes(requested)
        except UnknownScope as exc:
            raise InvalidScopeError(describe(str(exc))) from None
        if extra := wanted - allowed:
            raise InvalidScopeError(describe(f"{whose} may not be granted: {format_scopes(extra)}"))
    if not wanted:
        raise InvalidScopeError(describe(f"{whose} may not be granted any scope"))
    return format_scopes(wanted)


def _region(code: str | None) -> RegionCode | None:
    return RegionCode.parse(code) if code else None


@dataclass(frozen=True)
class ClientView(ClientMixin):  # type: ignore[misc]
    client_id: str
    name: str
    secret_hash: str | None
    grant_types: frozenset[str]
    redirect_uris: tuple[str, ...]
    scopes: frozenset[Scope]
    region: RegionCode | None
    token_lifetime: int | None
    active: bool
    public: bool

    @classmethod
    def from_row(cls, row: OAuthClient) -> ClientView:
        return cls(
            client_id=row.client_id,
            name=row.name,
            secret_hash=row.secret_hash,
            grant_types=frozenset(row.grant_types),
            redirect_uris=tuple(row.redirect_uris),
            scopes=parse_scopes(row.scopes),
            region=_region(row.region_code),
            token_lifetime=row.token_lifetime_seconds,
            active=row.active,
            public=row.is_public,
        )

    @classmethod
    def unknown(cls, client_id: str) -> ClientView:
        """A stand-in for a client id we do not know: it authenticates with nothing."""
        return cls(client_id, "", None, frozenset(), (), frozenset(), None, None, active=False, public=False)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the redirect_uri parameter is always required

    def get_allowed_scope(self, scope: str | None) -> str:
        """The scope asked for if this client may have it all (``invalid_scope`` if not); everything if none."""
        return decide_scope(scope, self.scopes, "this client")

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact match against the registered list: no prefixes, no wildcards, so no open redirect.
        return self.active and redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        ok = verify_secret(self.secret_hash, client_secret)  # a stand-in burns the same time
        return ok and self.active and not self.public

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if not self.active:
            return method != "none"  # fail later, in check_client_secret, like a wrong secret
        return method == "none" if self.public else method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    subject: str
    role: Role
    region: RegionCode | None
    active: bool

    @classmethod
    def from_row(cls, row: User) -> UserView:
        return cls(row.id, row.username, row.subject, Role(row.role), _region(row.region_code), row.active)

    def get_user_id(self) -> str:
        return self.subject


@dataclass(frozen=True)
class PendingCode:
    """A code authlib issued, to be stored after the response is decided."""

    value: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    region: str | None
    code_challenge: str
    code_challenge_method: str


@dataclass(frozen=True)
class CodeView(AuthorizationCodeMixin):  # type: ignore[misc]
    id: int
    code_hash: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    region: str | None
    code_challenge: str
    code_challenge_method: str
    expires_at: dt.datetime

    @classmethod
    def from_row(cls, row: AuthorizationCode) -> CodeView:
        return cls(
            row.id,
            row.code_hash,
            row.client_id,
            row.user_id,
            row.redirect_uri,
            row.scope,
            row.region_code,
            row.code_challenge,
            row.code_challenge_method,
            row.expires_at,
        )

    def matches(self, value: str) -> bool:
        return hmac.compare_digest(self.code_hash, token_digest(value))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class RefreshView(TokenMixin):  # type: ignore[misc]
    id: int
    token_hash: str
    family_id: str
    client_id: str
    user_id: int
    subject: str
    scope: str
    region: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked: bool

    @classmethod
    def from_row(cls, row: RefreshToken, subject: str) -> RefreshView:
        revoked = row.revoked_at is not None or row.rotated_at is not None
        return cls(
            row.id,
            row.token_hash,
            row.family_id,
            row.client_id,
            row.user_id,
            subject,
            row.scope,
            row.region_code,
            row.created_at,
            row.expires_at,
            revoked,
        )

    def matches(self, value: str) -> bool:
        return hmac.compare_digest(self.token_hash, token_digest(value))

    def check_client(self, client: ClientView) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked

    def introspection(self) -> dict[str, Any]:
        return {
            "active": True,
            "scope": self.scope,
            "client_id": self.client_id,
            "sub": self.subject,
            "exp": int(self.expires_at.timestamp()),
            "iat": int(self.created_at.timestamp()),
            "token_type": "refresh_token",
        }


@dataclass(frozen=True)
class AccessView(TokenMixin):  # type: ignore[misc]
    """A verified JWT access token (signature, issuer, audience, expiry already checked)."""

    claims: dict[str, Any]
    revoked: bool

    @property
    def jti(self) -> str:
        return str(self.claims.get("jti", ""))

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self.claims["exp"]), dt.UTC)

    def check_client(self, client: ClientView) -> bool:
        return bool(self.claims.get("client_id") == client.client_id)

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return max(0, int(self.claims["exp"]) - int(utcnow().timestamp()))

    def is_expired(self) -> bool:
        return self.get_expires_in() <= 0

    def is_revoked(self) -> bool:
        return self.revoked

    def introspection(self) -> dict[str, Any]:
        keys = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "region", "roles")
        return {"active": True, "token_type": "Bearer", **{k: self.claims[k] for k in keys if k in self.claims}}
