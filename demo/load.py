"""Load the demo data set into a database: PostgreSQL through COPY, SQLite through executemany.

Seeding is for an empty database. :func:`seed` refuses (``SeedError``) when employers, participants,
beneficiaries or claims already exist, because the generator assigns primary keys, NIKs and membership
numbers itself and would collide with rows it did not make; pass ``if_exists="skip"`` to make a second
call a no-op instead (e.g. a development start script). Regions are loaded first when missing and are
never duplicated (:func:`demo.regions.load_regions` is idempotent).

Memory stays bounded: rows are generated and written one chunk of participants (with their enrolments,
beneficiary matches and claims) at a time; the next chunk is generated in a worker thread while the
database writes the current one. Everything is one transaction: a failed seed leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncGenerator, Callable, Iterator
from time import perf_counter
from typing import Any, Literal

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import domain.models  # noqa: F401  (every table in Base.metadata)
from demo.demo import COLUMNS, SIZES, TABLES, Batch, Row, generate
from demo.regions import load_regions, sample_ratio
from domain.db import Base
from domain.monev import rollups

Progress = Callable[[str], None]

#: Tables whose rows the generator numbers itself (sequences are moved past them on PostgreSQL).
_SERIAL_TABLES = (
    "employers", "participants", "contributions", "poverty_beneficiaries", "claims", "claim_benefits", "claim_events"
)  # fmt: skip
#: Any row in these means the database is not empty for seeding purposes.
_GUARD_TABLES = ("employers", "participants", "poverty_beneficiaries", "claims")


class SeedError(RuntimeError):
    """The database cannot be seeded as asked (not empty, tables missing)."""


async def existing_rows(engine: AsyncEngine) -> dict[str, int]:
    """Row counts of the tables seeding would fill; raises SeedError when the tables do not exist."""
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        for name in _GUARD_TABLES:
            table = Base.metadata.tables[name]
            try:
                counts[name] = int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            except DBAPIError as exc:
                raise SeedError(
                    f"table {name!r} is missing or unreadable; create the schema first (alembic upgrade head)"
                ) from exc
    return counts


async def seed(
    engine: AsyncEngine,
    size: str,
    seed: int = 42,
    progress: Progress | None = None,
    *,
    as_of: dt.date | None = None,
    if_exists: Literal["error", "skip"] = "error",
    chunk_size: int = 20_000,
) -> dict[str, int]:
    """Load regions (when missing) and the `size` demo data set; returns rows inserted per table.

    Sizes: ``tiny`` (200 participants), ``small`` (5,000), ``ntb`` (100,000), ``bench`` (1,000,000
    participants, 500,000 beneficiaries, 200,000 claims). The same `seed` and `as_of` give the same rows.
    When the database already holds demo-table rows: ``if_exists="error"`` raises SeedError,
    ``"skip"`` returns all-zero counts without writing.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    say: Progress = progress or (lambda _message: None)
    present = {k: v for k, v in (await existing_rows(engine)).items() if v}
    if present:
        if if_exists == "skip":
            say(f"seed skipped: the database already has {_listing(present)}")
            return {"regions": 0, **dict.fromkeys(TABLES, 0)}
        raise SeedError(
            f"the database already has {_listing(present)}; seeding only loads into empty tables "
            "(use a fresh database, drop the tables, or pass if_exists='skip')"
        )
    started = perf_counter()
    # The denominators are scaled to the sample, so that its rates look like NTB's (demo.regions).
    regions = await load_regions(engine, ratio=sample_ratio(SIZES[size].participants))
    say(f"regions: {regions:,} inserted in {perf_counter() - started:.1f} s")
    counts = dict.fromkeys(TABLES, 0)
    seconds = dict.fromkeys(TABLES, 0.0)
    spec = SIZES[size]
    postgres = engine.dialect.name == "postgresql"
    loaded = perf_counter()
    waited = 0.0
    async with engine.begin() as conn:
        await conn.execute(text("SELECT 1"))  # opens the transaction that the driver-level COPY joins
        # The Monev rollups are recounted once at the end rather than kept row by row by their triggers.
        await conn.run_sync(rollups.suspend)
        write = _copy if postgres else _insert_many
        batches = _prefetch(generate(size, seed, as_of=as_of, chunk_size=chunk_size))
        try:
            while True:
                t = perf_counter()
                batch = await anext(batches, None)
                waited += perf_counter() - t
                if batch is None:
                    break
                await _write_batch(conn, write, batch, counts, seconds)
                elapsed = perf_counter() - loaded
                say(
                    f"participants {counts['participants']:,}/{spec.participants:,}, "
                    f"{sum(counts.values()):,} rows in {elapsed:.1f} s"
                )
        finally:
            await batches.aclose()
        if postgres:
            await _reset_sequences(conn)
        t = perf_counter()
        rollup_rows = await conn.run_sync(rollups.rebuild)
        say(f"Monev rollups: {sum(rollup_rows.values()):,} rows recounted in {perf_counter() - t:.1f} s")
    if postgres:
        async with engine.begin() as conn:
            await conn.execute(text(f"ANALYZE regions, region_year_figures, {', '.join(TABLES)}"))
    for table in TABLES:
        rate = counts[table] / seconds[table] if seconds[table] else 0.0
        say(f"{table}: {counts[table]:,} rows written in {seconds[table]:.1f} s ({rate:,.0f} rows/s)")
    say(f"waiting for the generator: {waited:.1f} s; total {perf_counter() - started:.1f} s")
    return {"regions": regions, **counts}


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {table}" for table, n in counts.items())


Writer = Callable[[AsyncConnection, str, list[Row]], Any]


async def _write_batch(
    conn: AsyncConnection, write: Writer, batch: Batch, counts: dict[str, int], seconds: dict[str, float]
) -> None:
    for table in TABLES:  # parents first: every row's foreign keys point at rows already written
        rows = batch[table]
        if rows:
            t = perf_counter()
            await write(conn, table, rows)
            seconds[table] += perf_counter() - t
            counts[table] += len(rows)


async def _copy(conn: AsyncConnection, table: str, rows: list[Row]) -> None:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table, records=rows, columns=list(COLUMNS[table]))


async def _insert_many(conn: AsyncConnection, table: str, rows: list[Row]) -> None:
    columns = COLUMNS[table]
    await conn.execute(insert(Base.metadata.tables[table]), [dict(zip(columns, r, strict=True)) for r in rows])


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Move each id sequence past the ids the generator assigned, so later inserts do not collide."""
    for table in _SERIAL_TABLES:
        # Table names come from the constant above, never from input.
        sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} HAVING max(id) > 0"  # noqa: S608
        await conn.execute(text(sql))


async def _prefetch(batches: Iterator[Batch]) -> AsyncGenerator[Batch]:
    """Iterate `batches`, generating the next one in a worker thread while the caller writes this one."""
    loop = asyncio.get_running_loop()
    pending = loop.run_in_executor(None, next, batches, None)
    try:
        while True:
            batch = await pending
            if batch is None:
                return
            pending = loop.run_in_executor(None, next, batches, None)
            yield batch
    finally:
        if not pending.done():
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # retrieved: after a failed write, a generator error is secondary
