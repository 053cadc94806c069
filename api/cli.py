"""The ``jamsos`` command line: serve, migrate, seed, token, import, report, audit, monev, schema (SDL, codes)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from api.cli_parser import (
    ROLES,
    add_contributions_commands,
    add_document_commands,
    add_identity_commands,
    add_import_commands,
    add_job_commands,
    add_report_commands,
)
from api.settings import Settings, get_settings


def _settings() -> Settings:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def cmd_migrate(args: argparse.Namespace) -> int:
    from api.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    print("database at migration head", file=sys.stderr)
    if settings.resolved_database_url.startswith("postgresql"):
        from api.cli_jobs import apply_queue_schema

        if asyncio.run(apply_queue_schema(settings.resolved_database_url)):
            print("job queue tables created", file=sys.stderr)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from demo.load import SeedError, seed
    from domain.db import make_engine

    settings = _settings()

    async def run() -> dict[str, int]:
        engine = make_engine(settings.resolved_database_url)
        try:
            return await seed(
                engine,
                args.size,
                seed=args.seed,
                progress=lambda m: print(m, file=sys.stderr, flush=True),
                if_exists="skip" if args.if_empty else "error",
            )
        finally:
            await engine.dispose()

    started = time.perf_counter()
    try:
        counts = asyncio.run(run())
    except SeedError as exc:
        print(f"seed refused: {exc}", file=sys.stderr)
        return 1
    if args.if_empty and not any(v for k, v in counts.items() if k != "regions"):
        return 0  # the seeder has said why it skipped
    summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    print(f"seeded {args.size} in {time.perf_counter() - started:.1f}s: {summary}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.settings import get_settings

    settings = get_settings()

    if args.demo:
        if cmd_migrate(args) != 0:
            return 1
        demo = argparse.Namespace(size="small", seed=42, if_empty=True)
        if cmd_seed(demo) != 0:
            return 1
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
        # The app writes one JSON line per request itself (api.observe) and configures logging (api.logs):
        # no uvicorn access lines, no uvicorn formatter over ours.
        access_log=False,
        log_config=None,
        # "auto": uvloop and httptools, both dependencies, as uvicorn picks them.
        loop=settings.server_loop,
        http=settings.server_http,
    )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Mint a development access token for a role (never in production)."""
    from api.cli_identity import active_signing_key
    from auth.scopes import REGION_BOUND_ROLES, ROLE_SCOPES, Role, UnknownScope, parse_scopes
    from auth.tokens import TokenConfig, issue_access_token
    from domain.regions.rules import InvalidRegionCode, RegionCode

    settings = _settings()
    if settings.env == "production":
        print(
            "jamsos token mints development tokens and is disabled when JAMSOS_ENV=production",
            file=sys.stderr,
        )
        return 2
    role = Role(args.role)
    allowed = ROLE_SCOPES[role]
    try:
        scopes = parse_scopes(args.scopes) if args.scopes is not None else allowed
        region = RegionCode.parse(args.region).code if args.region else None
    except (UnknownScope, InvalidRegionCode) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not scopes <= allowed:
        extra = " ".join(sorted(s.value for s in scopes - allowed))
        print(f"role {role.value} cannot hold: {extra}", file=sys.stderr)
        return 2
    if role in REGION_BOUND_ROLES and region is None:
        print(f"role {role.value} is bound to a region; pass --region CODE (e.g. 52.71)", file=sys.stderr)
        return 2
    key = active_signing_key(settings)
    config = TokenConfig(settings.issuer, settings.audience, settings.token_lifetime_seconds)
    subject = f"dev-{role.value}" + (f"@{region}" if region else "")
    token = issue_access_token(
        key,
        config,
        subject=subject,
        client_id="jamsos-cli",
        scopes=frozenset(scopes),
        roles=frozenset({role}),
        region=region,
        lifetime_seconds=args.lifetime,
    )
    print(token)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the audit hash chain; exit 1 naming the first broken link."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from domain.audit.writes import ChainReport, verify_chain
    from domain.db import make_engine

    settings = _settings()

    async def run() -> ChainReport:
        engine = make_engine(settings.resolved_database_url)
        try:
            async with AsyncSession(engine) as session:
                return await verify_chain(session)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    if report.ok:
        print(f"audit chain intact: {report.checked:,} events verified")
        return 0
    print(f"audit chain BROKEN at event #{report.first_broken_seq}: {report.problem}", file=sys.stderr)
    return 1


def cmd_monev_rebuild_rollups(args: argparse.Namespace) -> int:
    """Recount the Monev rollups from the base tables (after a bulk load, or to repair them)."""
    from domain.db import make_engine
    from domain.monev.rollups import repair

    settings = _settings()

    async def run() -> dict[str, int]:
        engine = make_engine(settings.resolved_database_url, null_pool=True)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(repair)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    rows = asyncio.run(run())
    listing = ", ".join(f"{table} {n:,}" for table, n in rows.items())
    print(f"Monev rollups rebuilt in {time.perf_counter() - started:.1f} s: {listing} rows", file=sys.stderr)
    return 0


def cmd_schema_print(args: argparse.Namespace) -> int:
    from schema.app import get_schema

    schema = get_schema(security_directives=get_settings().federation_security_directives)
    sys.stdout.write(schema.as_str() + "\n")
    return 0


def cmd_schema_codes(args: argparse.Namespace) -> int:
    from api.error_docs import NoSection, section, with_section

    if args.write is None:
        sys.stdout.write(section())
        return 0
    try:
        text = args.write.read_text(encoding="utf-8")
        args.write.write_text(with_section(text), encoding="utf-8")
    except (OSError, NoSection) as exc:
        print(f"jamsos schema codes: {exc}", file=sys.stderr)
        return 1
    print(f"error codes written to {args.write}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jamsos", description="Jamsos Graph: the service and its tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="migrate and seed the small demo data first")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed", help="load regions and demo or benchmark data")
    seed.add_argument("--size", choices=["tiny", "small", "ntb", "bench"], default="small")
    seed.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    seed.add_argument("--if-empty", action="store_true", help="do nothing (exit 0) when data is already there")
    seed.set_defaults(func=cmd_seed)

    token = sub.add_parser("token", help="print a development access token")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--region", help="Kemendagri code the token is bound to, e.g. 52.71")
    token.add_argument("--scopes", help="space-separated subset of the role's scopes")
    token.add_argument("--lifetime", type=int, default=None, help="seconds (default: the configured lifetime)")
    token.set_defaults(func=cmd_token)

    # The other subcommands' arguments; their implementations are imported only when one runs (api.cli_parser).
    add_identity_commands(sub)  # users, clients, keys
    add_document_commands(sub)  # documents push|list|remove
    add_import_commands(sub)  # import beneficiaries|participants|contributions
    add_job_commands(sub)  # jobs list|show|cancel, worker
    add_report_commands(sub)  # the Inpres reports
    add_contributions_commands(sub)  # contributions apbd-month

    audit_cmd = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain; name the first broken link").set_defaults(
        func=cmd_audit_verify
    )

    monev_cmd = sub.add_parser("monev", help="the Monev figures")
    monev_sub = monev_cmd.add_subparsers(dest="monev_command", required=True)
    monev_sub.add_parser(
        "rebuild-rollups", help="recount the Monev rollups from the base tables (after a bulk load; repair)"
    ).set_defaults(func=cmd_monev_rebuild_rollups)

    schema_cmd = sub.add_parser("schema", help="the GraphQL schema")
    schema_sub = schema_cmd.add_subparsers(dest="schema_command", required=True)
    schema_sub.add_parser("print", help="print the subgraph SDL").set_defaults(func=cmd_schema_print)
    codes = schema_sub.add_parser("codes", help="print the error-code catalogue as docs/api.md shows it")
    codes.add_argument("--write", type=Path, metavar="FILE", help="replace the section between FILE's markers")
    codes.set_defaults(func=cmd_schema_codes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
