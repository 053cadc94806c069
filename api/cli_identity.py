"""``jamsos users|clients|keys``: managing who may sign in, partner clients, and signing keys.

Secrets are shown once: a client secret on creation and rotation (``--json`` gives
``{"client_id": …, "client_secret": …}`` on standard output); passwords are read from standard input when it
is not a terminal, otherwise asked for twice without echo. Every change is an audit event whose actor is
``cli:<operating-system user>``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from joserfc.jwk import ECKey
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from api.settings import Settings, get_settings
from auth import accounts, keys
from auth.passwords import WeakPassword
from auth.scopes import Role, UnknownScope, parse_scopes
from domain.audit.writes import Actor, record
from domain.db import make_engine, make_sessionmaker
from domain.identity.models import InvalidUsername
from domain.regions.rules import InvalidRegionCode

T = TypeVar("T")
REFUSALS = (accounts.AccountError, WeakPassword, InvalidUsername, UnknownScope, InvalidRegionCode)


def cli_settings() -> Settings:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def cli_actor() -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(subject=f"cli:{who}", kind="system")


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction against the configured database."""

    async def run() -> T:
        engine = make_engine(cli_settings().resolved_database_url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OperationalError, ProgrammingError) as exc:
        raise SystemExit(f"database error: {exc.orig}; is the database migrated (jamsos migrate)?") from None


def refused(exc: Exception) -> int:
    print(f"refused: {exc}", file=sys.stderr)
    return 2


def read_password(prompt: str = "Password: ") -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise WeakPassword("the two passwords differ")
    return first


def active_signing_key(settings: Settings) -> ECKey:
    """The key ``jamsos token`` signs with: the database's active one (the key file before the first rotation)."""

    async def work(session: AsyncSession) -> str:
        return (await keys.ensure_active_key(session, settings.resolved_signing_key_path)).private_pem

    pem = in_transaction(work)
    return keys.import_pem(pem)


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=None))


# -- users -------------------------------------------------------------------------------------------------
def cmd_users_create(args: argparse.Namespace) -> int:
    try:
        password = read_password()
        user = in_transaction(
            lambda s: accounts.create_user(
                s,
                username=args.username,
                password=password,
                role=Role(args.role),
                region=args.region,
                actor=cli_actor(),
            )
        )
    except REFUSALS as exc:
        return refused(exc)
    print(f"user {user.username} created ({user.role}, {user.region_code or 'national'})", file=sys.stderr)
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    users = in_transaction(accounts.list_users)
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "region": u.region_code,
            "active": u.active,
            "locked_until": u.locked_until.isoformat() if u.locked_until else None,
            "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
        }
        for u in users
    ]
    if args.json:
        print_json(rows)
    for r in [] if args.json else rows:
        state = "active" if r["active"] else "disabled"
        locked = f", locked until {r['locked_until']}" if r["locked_until"] else ""
        print(f"{r['username']:<24} {r['role']:<8} {r['region'] or 'national':<14} {state}{locked}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    try:
        in_transaction(lambda s: accounts.disable_user(s, username=args.username, actor=cli_actor()))
    except REFUSALS as exc:
        return refused(exc)
    print(f"user {args.username} disabled; their tokens stop working within seconds", file=sys.stderr)
    return 0


def cmd_users_set_password(args: argparse.Namespace) -> int:
    try:
        password = read_password("New password: ")
        in_transaction(lambda s: accounts.set_password(s, username=args.username, password=password, actor=cli_actor()))
    except REFUSALS as exc:
        return refused(exc)
    print(f"password of {args.username} set; lockout cleared, sessions ended", file=sys.stderr)
    return 0


# -- clients -----------------------------------------------------------------------------------------------
def _show_secret(args: argparse.Namespace, client_id: str, secret: str | None) -> None:
    if args.json:
        print_json({"client_id": client_id, "client_secret": secret})
        return
    print(f"client_id:     {client_id}")
    print(f"client_secret: {secret if secret else '(none: a public client)'}")
    if secret:
        print("The secret is shown only now; store it in the partner's secret store.", file=sys.stderr)


def default_trusted_documents_only(settings: Settings, grant_types: frozenset[str]) -> bool:
    """A new partner (client-credentials) client runs only registered documents in production, unless told."""
    return settings.env == "production" and "client_credentials" in grant_types


def cmd_clients_create(args: argparse.Namespace) -> int:
    grant_types = frozenset(args.grant_types.split())
    trusted_only = args.trusted_documents_only
    if trusted_only is None:
        trusted_only = default_trusted_documents_only(cli_settings(), grant_types)
    try:
        scopes = parse_scopes(args.scopes)
        created = in_transaction(
            lambda s: accounts.create_client(
                s,
                name=args.name,
                scopes=scopes,
                region=args.region,
                grant_types=grant_types,
                redirect_uris=args.redirect_uri or [],
                public=args.public,
                token_lifetime_seconds=args.token_lifetime,
                trusted_documents_only=trusted_only,
                actor=cli_actor(),
            )
        )
    except REFUSALS as exc:
        return refused(exc)
    _show_secret(args, created.client.client_id, created.secret)
    return 0


def cmd_clients_list(args: argparse.Namespace) -> int:
    clients = in_transaction(accounts.list_clients)
    rows = [
        {
            "client_id": c.client_id,
            "name": c.name,
            "scopes": c.scopes,
            "region": c.region_code,
            "grant_types": c.grant_types,
            "redirect_uris": c.redirect_uris,
            "public": c.is_public,
            "active": c.active,
            "trusted_documents_only": c.trusted_documents_only,
        }
        for c in clients
    ]
    if args.json:
        print_json(rows)
    for r in [] if args.json else rows:
        state = "active" if r["active"] else "disabled"
        trusted = " documents-only" if r["trusted_documents_only"] else ""
        print(f"{r['client_id']:<50} {r['region'] or 'national':<14} {state:<9} {r['name']}  [{r['scopes']}]{trusted}")
    return 0


def cmd_clients_rotate_secret(args: argparse.Namespace) -> int:
    try:
        secret = in_transaction(lambda s: accounts.rotate_client_secret(s, client_id=args.client_id, actor=cli_actor()))
    except REFUSALS as exc:
        return refused(exc)
    _show_secret(args, args.client_id, secret)
    return 0


def cmd_clients_set(args: argparse.Namespace) -> int:
    value = args.trusted_documents_only
    try:
        changed = in_transaction(
            lambda s: accounts.set_trusted_documents_only(s, client_id=args.client_id, value=value, actor=cli_actor())
        )
    except REFUSALS as exc:
        return refused(exc)
    what = "runs only its registered documents" if value else "may send document text"
    note = "" if changed else " (it already did)"
    print(f"client {args.client_id} {what}{note}; running servers follow within seconds", file=sys.stderr)
    return 0


def cmd_clients_disable(args: argparse.Namespace) -> int:
    try:
        in_transaction(lambda s: accounts.disable_client(s, client_id=args.client_id, actor=cli_actor()))
    except REFUSALS as exc:
        return refused(exc)
    print(f"client {args.client_id} disabled; its tokens stop working within seconds", file=sys.stderr)
    return 0


# -- keys --------------------------------------------------------------------------------------------------
def cmd_keys_rotate(args: argparse.Namespace) -> int:
    settings = cli_settings()

    async def work(session: AsyncSession) -> tuple[str, list[tuple[str, str]]]:
        await keys.ensure_active_key(session, settings.resolved_signing_key_path)
        fresh, retired = await keys.rotate(session, default_lifetime_seconds=settings.token_lifetime_seconds)
        await record(
            session,
            actor=cli_actor(),
            action="signing_key.rotate",
            entity_type="signing_key",
            entity_id=fresh.kid,
            changes={"retired": [r.kid for r in retired]},
        )
        return fresh.kid, [(r.kid, r.expires_at.isoformat() if r.expires_at else "") for r in retired]

    kid, retired = in_transaction(work)
    print(f"new active key {kid}")
    for old, until in retired:
        print(f"retired {old}; published and trusted until {until}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "kid": k.kid,
            "algorithm": k.algorithm,
            "activated_at": k.activated_at.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
        }
        for k in in_transaction(keys.all_keys)
    ]
    if args.json:
        print_json(rows)
    for r in [] if args.json else rows:
        state = "active" if not r["retired_at"] else f"retired, trusted until {r['expires_at']}"
        print(f"{r['kid']}  {r['algorithm']}  since {r['activated_at']}  {state}")
    return 0
