"""What keeping the Monev rollups costs the writes: the same writes with the triggers working and suspended.

Not a test: it measures and prints. Every write runs in a transaction that is rolled back, so the data set is
left as it was. For each kind of write, `--runs` times with the rollups kept, then the same with them
suspended (``domain.monev.rollups.suspend`` in the same transaction: the triggers then do nothing); the
medians and their ratio are printed.

    .venv/bin/python bench/monev_rollup_writes.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_monev_bench

Writes measured: one participant's paid-through moved (a payment), one participant moved to another district
(a correction), the ledger's set-based recount of 10,000 participants (``recompute_participant_figures``), and
a new registry snapshot of 1,000 extreme-poor rows (a beneficiary import, one INSERT).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.db import make_engine
from domain.monev import rollups
from domain.participants.ledger import recompute_participant_figures

Write = Callable[[AsyncConnection], Awaitable[None]]


async def pay(conn: AsyncConnection) -> None:
    await conn.execute(text("UPDATE participants SET paid_through = paid_through + 31 WHERE id = 4242"))


async def move(conn: AsyncConnection) -> None:
    await conn.execute(
        text(
            "UPDATE participants SET region_code = r.code, district_code = r.district_code,"
            " regency_code = r.regency_code FROM (SELECT code, district_code, regency_code FROM regions"
            " WHERE level = 'VILLAGE' AND province_code = '52' AND district_code <> "
            " (SELECT district_code FROM participants WHERE id = 4343) ORDER BY code LIMIT 1) r WHERE id = 4343"
        )
    )


async def recount(conn: AsyncConnection) -> None:
    async with AsyncSession(bind=conn) as session:  # joins the connection's transaction (rolled back after)
        await recompute_participant_figures(session, range(100_000, 110_000))


async def snapshot(conn: AsyncConnection) -> None:
    # A later snapshot of 1,000 registry rows, as an import writes it (one set-based INSERT).
    await conn.execute(
        text(
            "INSERT INTO poverty_beneficiaries (nik, family_card_number, full_name, birth_date, sex, decile,"
            " extreme_poor, source, snapshot_date, participant_id, version, region_code, province_code,"
            " regency_code, district_code)"
            " SELECT nik, family_card_number, full_name, birth_date, sex, decile, extreme_poor, source,"
            " DATE '2026-11-30', participant_id, 1, region_code, province_code, regency_code, district_code"
            " FROM poverty_beneficiaries WHERE id BETWEEN 1 AND 1000"
        )
    )


WRITES: dict[str, Write] = {
    "payment (1 participant)": pay,
    "move to another district (1 participant)": move,
    "ledger recount (10,000 participants)": recount,
    "registry snapshot (1,000 rows)": snapshot,
}


async def timed(conn: AsyncConnection, write: Write, kept: bool) -> float:
    transaction = await conn.begin()
    try:
        if not kept:
            await conn.run_sync(rollups.suspend)
        started = time.perf_counter()
        await write(conn)
        return (time.perf_counter() - started) * 1000
    finally:
        await transaction.rollback()


async def main(url: str, runs: int) -> None:
    # One connection throughout, as a pooled service has: PostgreSQL plans a trigger's statements once per
    # session, so the first run of each write (a warm-up, not counted) pays for the planning.
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            print(f"{'write':44} {'kept':>10} {'suspended':>10} {'ratio':>6}   (median of {runs}, ms)")
            for name, write in WRITES.items():
                await timed(conn, write, True)
                await timed(conn, write, False)
                kept, suspended = [], []
                for _ in range(runs):  # interleaved, so a change of load hits both alike
                    kept.append(await timed(conn, write, True))
                    suspended.append(await timed(conn, write, False))
                k, s = statistics.median(kept), statistics.median(suspended)
                print(f"{name:44} {k:10.1f} {s:10.1f} {k / s:6.2f}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.runs))
