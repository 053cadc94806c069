"""Seed the ``bench`` data set into a fresh PostgreSQL schema and report wall time and peak memory.

    .venv/bin/python bench/seed_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_bench

The tables of ``domain.models`` in that database are dropped and recreated first (other tables are left
alone). Requirement: ``bench`` (1,000,000 participants, 500,000 beneficiaries, 200,000 claims) loads in
under 10 minutes on a 2-core machine with bounded memory. Results go in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import time
from typing import Any

from sqlalchemy import text

from demo import SIZES, seed
from domain.db import Base, make_engine

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_bench"


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (1024 * 1024) if platform.system() == "Darwin" else value / 1024


async def run(url: str, size: str, seed_value: int, chunk_size: int) -> dict[str, Any]:
    if not url.startswith("postgresql+asyncpg://"):
        raise SystemExit("the benchmark measures the PostgreSQL COPY path: pass a postgresql+asyncpg:// URL")
    engine = make_engine(url, null_pool=True)
    lines: list[str] = []
    start = time.perf_counter()

    def progress(message: str) -> None:
        line = f"[{time.perf_counter() - start:7.1f} s | {peak_rss_mib():6.0f} MiB] {message}"
        lines.append(line)
        print(line, flush=True)

    try:
        async with engine.begin() as conn:
            # The name-search index is a trigram index (migration 0005 creates the extension the same way).
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        progress("schema recreated")
        start = time.perf_counter()
        counts = await seed(engine, size, seed_value, progress, chunk_size=chunk_size)
        wall = time.perf_counter() - start
        async with engine.connect() as conn:
            db_bytes = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
            server = (await conn.execute(text("SHOW server_version"))).scalar_one()
    finally:
        await engine.dispose()
    return {
        "size": size,
        "seed": seed_value,
        "chunk_size": chunk_size,
        "rows": counts,
        "total_rows": sum(counts.values()),
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "database_mib": round(int(db_bytes) / 2**20),
        "postgres": str(server),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "log": lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("JAMSOS_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--size", default="bench", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = asyncio.run(run(args.database_url, args.size, args.seed, args.chunk_size))
    summary = {k: v for k, v in result.items() if k != "log"}
    print(json.dumps(summary, indent=2))
    minutes, seconds = divmod(result["wall_seconds"], 60)
    print(f"{args.size}: {result['total_rows']:,} rows in {int(minutes)} min {seconds:.1f} s, "
          f"peak RSS {result['peak_rss_mib']:.0f} MiB")  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
