"""``jamsos report inpres-2-2021|inpres-4-2022``: the Inpres reports as XLSX or CSV files.

By default the report is made for the operator running the command (national, every row readable). With
``--token`` it is made as that token's holder would get it over the API: their region only, and small counts
withheld when they may read aggregates but not rows (``auth.policy.monev_viewer``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from api.settings import Settings, get_settings
from auth.policy import monev_viewer
from auth.principal import Principal, PrincipalKind
from auth.scopes import ALL_SCOPES, Scope
from auth.tokens import InvalidToken
from domain.monev.periods import Period, PeriodError, parse_quarter, parse_semester
from domain.monev.reports import KINDS, ReportError, build_report, filename, to_csv, to_xlsx
from domain.regions.rules import InvalidRegionCode, RegionCode

OPERATOR = Principal(subject="jamsos-cli", kind=PrincipalKind.SYSTEM, scopes=ALL_SCOPES)


async def _principal(settings: Settings, token: str | None) -> Principal:
    if token is None:
        return OPERATOR
    from api.identity import build_identity
    from domain.db import make_engine, make_sessionmaker

    engine = make_engine(settings.resolved_database_url, null_pool=True)
    try:
        identity = build_identity(settings, make_sessionmaker(engine))
        return await identity.verifier.verify(token)
    finally:
        await engine.dispose()


async def _report(settings: Settings, args: argparse.Namespace, region: RegionCode, period: Period) -> bytes:
    from domain.db import make_engine

    principal = await _principal(settings, args.token)
    if not principal.has_scope(Scope.STATS_READ):
        raise ReportError("the token does not carry stats:read")
    viewer = monev_viewer(principal, settings.suppression_threshold)
    engine = make_engine(settings.resolved_database_url, null_pool=True)
    try:
        async with engine.connect() as conn:
            report = await build_report(conn, viewer, KINDS[args.kind], region, period)
    finally:
        await engine.dispose()
    args.resolved_name = filename(report, args.format)
    return to_xlsx(report) if args.format == "xlsx" else to_csv(report)


def cmd_report(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        region = RegionCode.parse(args.region)
        period = parse_semester(args.semester) if args.kind == "inpres-2-2021" else parse_quarter(args.quarter)
        content = asyncio.run(_report(settings, args, region, period))
    except (InvalidRegionCode, PeriodError, ReportError, InvalidToken) as exc:
        print(f"report refused: {exc}", file=sys.stderr)
        return 2
    path = Path(args.output) if args.output else Path(args.resolved_name)
    if str(path) == "-":
        sys.stdout.buffer.write(content)
    else:
        path.write_bytes(content)
        print(f"wrote {path} ({len(content):,} bytes)", file=sys.stderr)
    return 0
