"""Time the Monev queries over HTTP (in process) on a seeded database: coverage and coverageByRegion for 52.

Not a test: it measures and prints, it asserts nothing. Each query runs `--warmup` times, then `--runs`
times; the median and the 90th percentile of the wall time per request are printed, for a national reader
(figures as counted) and for a ministry client with stats:read only (suppression on top).

    .venv/bin/python bench/monev_coverage.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_monev_bench [--base-tables]

The figures come from the Monev rollups (domain.monev.rollups); ``--base-tables`` switches the readers to the
base tables for the run, as before the rollups existed, so both can be measured on the same data and machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.settings import Settings
from auth.keys import ensure_active_key, import_pem
from auth.scopes import ROLE_SCOPES, Role, Scope
from auth.tokens import TokenConfig, issue_access_token
from domain.db import make_engine

FIGURES = """region { code } month employedPopulation target participants activeParticipants coverageRate
gapToTarget suppressed bySegment { segment total active } byProgram { program active }
byFunding { fundingSource active monthlyAmount } extremePoor { total enrolled active enrollmentRate }
claims { program count paidAmount scholarshipAmount }"""
QUERIES = {
    'coverage(regionCode: "52")': 'query { coverage(regionCode: "52") { ' + FIGURES + " } }",
    'coverageByRegion(parentCode: "52")': 'query { coverageByRegion(parentCode: "52") { ' + FIGURES + " } }",
}
ISSUER, AUDIENCE = "http://bench.local", "jamsos-graph"


async def set_rollups_readable(url: str, readable: bool) -> None:
    """Switch the readers between the rollups and the base tables (``--base-tables``: the figures before them).

    Only the flag moves; the rollups themselves stay as they are, so switching back needs no rebuild as long as
    nothing writes meanwhile (this script only reads)."""
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE monev_rollup_state SET maintained = :v"), {"v": readable})
    finally:
        await engine.dispose()


async def main(url: str, runs: int, warmup: int, base_tables: bool = False) -> None:
    if base_tables:
        await set_rollups_readable(url, False)
        try:
            await measure(url, runs, warmup)
        finally:
            await set_rollups_readable(url, True)
    else:
        await measure(url, runs, warmup)


async def measure(url: str, runs: int, warmup: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        key_path = Path(tmp) / "key.pem"
        settings = Settings(
            env="test",
            database_url=url,
            signing_key_path=key_path,
            issuer=ISSUER,
            audience=AUDIENCE,
            data_dir=Path(tmp),
        )
        app = create_app(settings)
        # Sign with the database's active key: the service trusts the keys of its database, and the first run
        # against a database stores the key it was given, so a fresh key file on a later run would be refused.
        engine = make_engine(url, null_pool=True)
        try:
            async with AsyncSession(engine) as session:
                key = import_pem((await ensure_active_key(session, key_path)).private_pem)
        finally:
            await engine.dispose()
        config = TokenConfig(ISSUER, AUDIENCE)
        callers = {
            "national analyst (all read scopes)": issue_access_token(
                key, config, subject="bench", client_id="bench", scopes=ROLE_SCOPES[Role.AUDITOR], roles=frozenset()
            ),
            "ministry (stats:read only, suppressed)": issue_access_token(
                key,
                config,
                subject="bench-m",
                client_id="bench",
                scopes=frozenset({Scope.STATS_READ}),
                roles=frozenset(),
            ),
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local", timeout=120) as client:
            for who, token in callers.items():
                for name, query in QUERIES.items():
                    headers = {"Authorization": f"Bearer {token}"}
                    times = []
                    for i in range(warmup + runs):
                        started = time.perf_counter()
                        response = await client.post("/graphql", json={"query": query}, headers=headers)
                        elapsed = time.perf_counter() - started
                        body = response.json()
                        if "errors" in body:
                            raise SystemExit(f"{name}: {body['errors']}")
                        if i >= warmup:
                            times.append(elapsed * 1000)
                    times.sort()
                    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
                    print(
                        f"{who:40} {name:38} median {statistics.median(times):7.1f} ms  p90 {p90:7.1f} ms  (n={runs})"
                    )
        await app.state.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--base-tables", action="store_true", help="read the base tables, not the rollups (the figures before them)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.runs, args.warmup, args.base_tables))
