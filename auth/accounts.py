"""Users and OAuth clients: creating, changing, disabling them, and signing people in.

Every change and every sign-in attempt is an audit event written in the caller's transaction: the caller
commits, in both outcomes of a sign-in (a failure changes the lockout counter). ``authenticate_user`` is the
one sign-in check: the authorization server's sign-in page and the admin console both call it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.credentials import revoke_sessions
from auth.passwords import (
    check_password_strength,
    hash_secret,
    in_hashing_thread,
    new_client_secret,
    upgraded_hash,
    verify_secret,
)
from auth.principal import Principal, PrincipalKind
from auth.revocation import Revoked, client_marker, record_revocations, subject_marker
from auth.scopes import REGION_BOUND_ROLES, ROLE_SCOPES, Role, Scope, format_scopes, parse_scopes
from domain.audit.writes import Actor, RequestMeta, record
from domain.db import utcnow
from domain.identity.models import (
    LockoutPolicy,
    OAuthClient,
    User,
    check_username,
    is_locked,
    register_failure,
    register_success,
)
from domain.regions.models import Region
from domain.regions.rules import RegionCode

GRANT_TYPES = frozenset({"client_credentials", "authorization_code", "refresh_token"})
#: How long the "every token of this client/user" revocation marker lives: longer than any token can.
MARKER_SECONDS = 86_400 + 60


class AccountError(ValueError):
    """A refused change, with a message a person can act on."""


async def _check_region(session: AsyncSession, raw: str | None, role: Role | None = None) -> str | None:
    if role is not None and role not in REGION_BOUND_ROLES and raw:
        raise AccountError(f"role {role.value} is national; do not give a region")
    if role is not None and role in REGION_BOUND_ROLES and not raw:
        raise AccountError(f"role {role.value} is bound to a region; give one (e.g. 52.71)")
    if not raw:
        return None
    code = RegionCode.parse(raw).code
    if await session.get(Region, code) is None:
        raise AccountError(f"region {code} does not exist in the Kemendagri region table")
    return code


async def _user(session: AsyncSession, username: str) -> User:
    user = (await session.scalars(select(User).where(User.username == check_username(username)))).first()
    if user is None:
        raise AccountError(f"there is no user {username!r}")
    return user


async def _hash(secret: str) -> str:
    return await in_hashing_thread(hash_secret, secret)


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    region: str | None,
    actor: Actor,
    meta: RequestMeta | None = None,
) -> User:
    name = check_username(username)
    check_password_strength(password)
    region_code = await _check_region(session, region, role)
    if (await session.scalars(select(User.id).where(User.username == name))).first() is not None:
        raise AccountError(f"the username {name!r} is taken")
    user = User(
        username=name, password_hash=await _hash(password), role=role.value, region_code=region_code, active=True
    )
    session.add(user)
    await session.flush()
    changes = {"username": name, "role": role.value, "region": region_code, "active": True}
    await record(
        session, actor=actor, action="user.create", entity_type="user", entity_id=name, changes=changes, meta=meta
    )
    return user


async def set_password(
    session: AsyncSession, *, username: str, password: str, actor: Actor, meta: RequestMeta | None = None
) -> User:
    """New password; clears a lockout and ends the user's sessions (refresh tokens)."""
    user = await _user(session, username)
    check_password_strength(password)
    user.password_hash = await _hash(password)
    user.password_changed_at = utcnow()
    user.failed_attempts = 0
    user.locked_until = None
    await revoke_sessions(session, user_id=user.id, reason="password_changed")
    await record(
        session,
        actor=actor,
        action="user.password_set",
        entity_type="user",
        entity_id=user.username,
        changes={"password": {"before": "(hidden)", "after": "(changed)"}},
        meta=meta,
    )
    return user


async def disable_user(
    session: AsyncSession, *, username: str, actor: Actor, meta: RequestMeta | None = None
) -> list[Revoked]:
    """Disable a user and cut off every token issued for them. Returns the revocations to note."""
    user = await _user(session, username)
    if not user.active:
        return []
    user.active = False
    revoked = await revoke_sessions(session, user_id=user.id, reason="user_disabled")
    marker = Revoked(subject_marker(user.subject), utcnow() + _marker_lifetime())
    await record_revocations(session, [marker], "user_disabled")
    await record(
        session,
        actor=actor,
        action="user.disable",
        entity_type="user",
        entity_id=user.username,
        changes={"active": {"before": True, "after": False}},
        meta=meta,
    )
    return [*revoked, marker]


async def list_users(session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.username))).all()


async def authenticate_user(
    session: AsyncSession,
    username: str,
    password: str,
    meta: RequestMeta | None = None,
    *,
    policy: LockoutPolicy | None = None,
) -> User | None:
    """The user these credentials belong to, or None; counts failures, locks, and audits every attempt.

    Unknown, disabled and locked accounts cost the same password check as a wrong password and give the
    same None, so the answer does not tell which usernames exist. The caller commits either way.
    """
    policy = policy or LockoutPolicy()
    now = utcnow()
    try:
        name = check_username(username)
    except ValueError:
        name = None
    user = (await session.scalars(select(User).where(User.username == name))).first() if name else None
    ok = await in_hashing_thread(verify_secret, user.password_hash if user else None, password)
    if user is None:
        await _sign_in_event(session, None, username, "unknown_user", meta)
        return None
    reason = "disabled" if not user.active else "locked" if is_locked(user, now) else None if ok else "bad_password"
    if reason is None:
        register_success(user, now)
        fresh = await in_hashing_thread(upgraded_hash, user.password_hash, password)
        if fresh is not None:
            user.password_hash = fresh  # committed with the sign-in event; the old hash verified just now
        await _sign_in_event(session, user, username, None, meta)
        return user
    if reason == "bad_password" and register_failure(user, now, policy):
        await _sign_in_event(session, user, username, "locked_now", meta)
    else:
        await _sign_in_event(session, user, username, reason, meta)
    return None


async def _sign_in_event(
    session: AsyncSession, user: User | None, attempted: str, failure: str | None, meta: RequestMeta | None
) -> None:
    actor = Actor(subject=user.subject, kind="user") if user else Actor(subject="anonymous", kind="anonymous")
    await record(
        session,
        actor=actor,
        action="user.sign_in" if failure is None else "user.sign_in_failed",
        entity_type="user",
        entity_id=user.username if user else None,
        changes=None if user else {"username": attempted[:64]},
        reason_code=failure,
        meta=meta,
    )


@dataclass(frozen=True)
class NewClient:
    client: OAuthClient
    #: Shown once; only its hash is stored. None for a public client.
    secret: str | None


def _client_id_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-") or "client"
    return f"{slug}-{secrets.token_hex(4)}"


def _check_redirect_uri(uri: str) -> str:
    loopback = re.match(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/", uri)
    if not (uri.startswith("https://") or loopback) or "#" in uri or len(uri) > 500:
        raise AccountError(
            f"redirect URI {uri!r} is not accepted: use an absolute https:// URI (http only for loopback), "
            "without a fragment"
        )
    return uri


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: frozenset[Scope],
    region: str | None,
    actor: Actor,
    grant_types: frozenset[str] = frozenset({"client_credentials"}),
    redirect_uris: Sequence[str] = (),
    public: bool = False,
    token_lifetime_seconds: int | None = None,
    trusted_documents_only: bool = False,
    meta: RequestMeta | None = None,
) -> NewClient:
    name = name.strip()
    if not name or len(name) > 200:
        raise AccountError("a client needs a name of 1-200 characters")
    if not scopes:
        raise AccountError("a client needs at least one scope")
    if unknown := grant_types - GRANT_TYPES:
        raise AccountError(f"unknown grant types: {' '.join(sorted(unknown))}; known: {' '.join(sorted(GRANT_TYPES))}")
    if "authorization_code" in grant_types and not redirect_uris:
        raise AccountError("the authorization_code grant needs at least one --redirect-uri")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise AccountError("refresh_token only goes with authorization_code")
    if public and "client_credentials" in grant_types:
        raise AccountError("a public client has no secret, so it cannot use client_credentials")
    if token_lifetime_seconds is not None and not 60 <= token_lifetime_seconds <= 3600:
        raise AccountError("a token lifetime is between 60 and 3600 seconds")
    uris = [_check_redirect_uri(u) for u in redirect_uris]
    region_code = await _check_region(session, region)
    secret = None if public else new_client_secret()
    client = OAuthClient(
        client_id=_client_id_for(name),
        secret_hash=await _hash(secret) if secret else None,
        name=name,
        grant_types=sorted(grant_types),
        redirect_uris=uris,
        scopes=format_scopes(scopes),
        region_code=region_code,
        token_lifetime_seconds=token_lifetime_seconds,
        trusted_documents_only=trusted_documents_only,
        active=True,
    )
    session.add(client)
    await session.flush()
    changes = {
        "name": name,
        "scopes": client.scopes,
        "region": region_code,
        "grant_types": client.grant_types,
        "redirect_uris": uris,
        "public": public,
        "trusted_documents_only": trusted_documents_only,
    }
    await record(
        session,
        actor=actor,
        action="client.create",
        entity_type="oauth_client",
        entity_id=client.client_id,
        changes=changes,
        meta=meta,
    )
    return NewClient(client, secret)


async def _client(session: AsyncSession, client_id: str) -> OAuthClient:
    client = (await session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id))).first()
    if client is None:
        raise AccountError(f"there is no client {client_id!r}")
    return client


async def rotate_client_secret(
    session: AsyncSession, *, client_id: str, actor: Actor, meta: RequestMeta | None = None
) -> str:
    """A new secret (returned once); the old one stops working when the caller commits."""
    client = await _client(session, client_id)
    if client.is_public:
        raise AccountError(f"client {client_id} is public: it has no secret to rotate")
    secret = new_client_secret()
    client.secret_hash = await _hash(secret)
    client.secret_rotated_at = utcnow()
    await record(
        session,
        actor=actor,
        action="client.secret_rotate",
        entity_type="oauth_client",
        entity_id=client_id,
        changes={"secret": {"before": "(hidden)", "after": "(rotated)"}},
        meta=meta,
    )
    return secret


async def set_trusted_documents_only(
    session: AsyncSession, *, client_id: str, value: bool, actor: Actor, meta: RequestMeta | None = None
) -> bool:
    """Bind a client's tokens to its registered documents (True) or let them send text (False).

    Returns whether anything changed; running processes follow within ``documents_cache_seconds``.
    """
    client = await _client(session, client_id)
    if client.trusted_documents_only == value:
        return False
    before, client.trusted_documents_only = client.trusted_documents_only, value
    await record(
        session,
        actor=actor,
        action="client.trusted_documents_only",
        entity_type="oauth_client",
        entity_id=client_id,
        changes={"trusted_documents_only": {"before": before, "after": value}},
        meta=meta,
    )
    return True


async def disable_client(
    session: AsyncSession, *, client_id: str, actor: Actor, meta: RequestMeta | None = None
) -> list[Revoked]:
    """Disable a client and cut off every token issued to it. Returns the revocations to note."""
    client = await _client(session, client_id)
    if not client.active:
        return []
    client.active = False
    revoked = await revoke_sessions(session, client_id=client_id, reason="client_disabled")
    marker = Revoked(client_marker(client_id), utcnow() + _marker_lifetime())
    await record_revocations(session, [marker], "client_disabled")
    await record(
        session,
        actor=actor,
        action="client.disable",
        entity_type="oauth_client",
        entity_id=client_id,
        changes={"active": {"before": True, "after": False}},
        meta=meta,
    )
    return [*revoked, marker]


async def list_clients(session: AsyncSession) -> Sequence[OAuthClient]:
    return (await session.scalars(select(OAuthClient).order_by(OAuthClient.name))).all()


def _marker_lifetime() -> dt.timedelta:
    return dt.timedelta(seconds=MARKER_SECONDS)


def principal_of_user(user: User) -> Principal:
    """The principal a token issued to this user (for its full role) would stand for."""
    role = Role(user.role)
    region = RegionCode.parse(user.region_code) if user.region_code else None
    return Principal(
        subject=user.subject, kind=PrincipalKind.USER, scopes=ROLE_SCOPES[role], roles=frozenset({role}), region=region
    )


def principal_of_client(client: OAuthClient) -> Principal:
    """The principal a client-credentials token of this client (for all it may have) would stand for."""
    region = RegionCode.parse(client.region_code) if client.region_code else None
    return Principal(
        subject=client.client_id,
        kind=PrincipalKind.CLIENT,
        scopes=parse_scopes(client.scopes),
        region=region,
        client_id=client.client_id,
    )
