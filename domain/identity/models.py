"""Identity: people who sign in, partner systems (OAuth clients), and the credentials issued to them.

Secrets are never stored: client secrets and passwords as slow (argon2id) hashes, authorization codes and
refresh tokens as SHA-256 digests of high-entropy random values. Revoked access tokens are remembered by
their ``jti`` until they would have expired anyway. Signing keys are kept with their life cycle (active,
retired, expired) so that verification knows which keys it may still trust.

The lockout rule (how many failures lock an account, for how long) lives here; hashing and the audit
trail of sign-ins live in ``auth.accounts``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, PortableJSON, UTCDateTime, utcnow

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
#: A user's token subject is ``user:<username>``; client ids never contain ':', so the two cannot collide.
USER_SUBJECT_PREFIX = "user:"


class InvalidUsername(ValueError):
    pass


def check_username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME_RE.match(name):
        raise InvalidUsername(
            f"{raw!r} is not a valid username: use 3-64 characters, lower-case letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


class User(Base):
    """A person who signs in (the sign-in page, later the admin console)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: argon2id, in the PHC string format (parameters travel with the hash).
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    #: None means national.
    region_code: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def subject(self) -> str:
        return USER_SUBJECT_PREFIX + self.username


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After `max_failures` consecutive failed sign-ins the account is locked for `lock_seconds`."""

    max_failures: int = 5
    lock_seconds: int = 900


def is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def register_failure(user: User, now: dt.datetime, policy: LockoutPolicy) -> bool:
    """Count one failed sign-in; True when this failure locks the account."""
    if is_locked(user, now):
        return False
    user.failed_attempts = (user.failed_attempts or 0) + 1
    if user.failed_attempts >= policy.max_failures:
        user.locked_until = now + dt.timedelta(seconds=policy.lock_seconds)
        user.failed_attempts = 0
        return True
    return False


def register_success(user: User, now: dt.datetime) -> None:
    user.failed_attempts = 0
    user.locked_until = None
    user.last_sign_in_at = now


class OAuthClient(Base):
    """A registered OAuth client: a partner system (client credentials) or a frontend app (authorization code)."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: argon2id of the secret; None for a public client (a browser app, which must use PKCE).
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    grant_types: Mapped[list[str]] = mapped_column(PortableJSON)
    redirect_uris: Mapped[list[str]] = mapped_column(PortableJSON)
    #: The most a token for this client may carry (space-separated); a request may ask for less.
    scopes: Mapped[str] = mapped_column(String(500))
    #: The widest region a token for this client may carry; None means national.
    region_code: Mapped[str | None] = mapped_column(String(20))
    token_lifetime_seconds: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Its tokens run only the documents registered for it (domain.documents), never text sent with a request.
    trusted_documents_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None


class AuthorizationCode(Base):
    """A single-use, short-lived authorization code (stored as a digest), bound to client, redirect and PKCE."""

    __tablename__ = "oauth_authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(500))
    region_code: Mapped[str | None] = mapped_column(String(20))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Set when the code is exchanged; a second exchange is refused and revokes what the first one got.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    family_id: Mapped[str | None] = mapped_column(String(64))
    access_jti: Mapped[str | None] = mapped_column(String(64))
    access_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RefreshToken(Base):
    """One refresh token of a family (all tokens descending from one sign-in); rotated on every use."""

    __tablename__ = "oauth_refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scope: Mapped[str] = mapped_column(String(500))
    region_code: Mapped[str | None] = mapped_column(String(20))
    #: The access token issued together with this refresh token (revoked with the family).
    access_jti: Mapped[str | None] = mapped_column(String(64))
    access_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The family's absolute end: rotation does not extend it.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RevokedToken(Base):
    """An access token (by ``jti``) that must no longer be accepted, kept until it would have expired."""

    __tablename__ = "oauth_revoked_tokens"

    #: A token id, or a marker revoking all tokens of a client or subject (`auth.revocation`).
    jti: Mapped[str] = mapped_column(String(120), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(40))


class SigningKey(Base):
    """An ES256 key that signs access tokens. One is active; retired ones are published until `expires_at`."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: After this, tokens signed with the key are refused and the key leaves the JWKS.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
