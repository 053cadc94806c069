"""Do the Monev rollups equal a recount of the base tables? (domain.monev.rollups keeps them by triggers.)

:func:`rollup_drift` reads every rollup row, recounts them from the base tables inside the same transaction,
reads again and rolls back: the two readings must be the same rows. Rows whose sums are all zero carry no
information (a change that was undone) and are left out of both readings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.monev import rollup_sql, rollups

#: SQLite has no decimal type: the budget's shares are floating point there, and a sum kept change by change
#: can differ from a recount in the last bits. Compared to a millionth of a rupiah (figures show rupiah).
_PLACES = Decimal("0.000001")


def rollup_rows(conn: Connection) -> dict[str, set[tuple[Any, ...]]]:
    seen: dict[str, set[tuple[Any, ...]]] = {}
    for table in rollup_sql.ROLLUPS:
        measures = rollup_sql.measures(table)
        nonzero = " OR ".join(f"{m} <> 0" for m in measures)
        rows = conn.execute(text(f"SELECT * FROM {table} WHERE {nonzero}")).mappings().all()  # noqa: S608
        seen[table] = {
            tuple(sorted((k, Decimal(str(v)).quantize(_PLACES) if k == "amount" else v) for k, v in row.items()))
            for row in rows
        }
    return seen


async def rollup_drift(engine: AsyncEngine) -> dict[str, tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]]:
    """Per rollup table: (rows only in the kept rollup, rows only in the recount); empty when they agree."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            assert await rollups.maintained(conn), "the rollups are not marked maintained"
            kept = await conn.run_sync(rollup_rows)
            await conn.run_sync(rollups.rebuild)
            recounted = await conn.run_sync(rollup_rows)
        finally:
            await transaction.rollback()
    return {
        table: (kept[table] - recounted[table], recounted[table] - kept[table])
        for table in rollup_sql.ROLLUPS
        if kept[table] != recounted[table]
    }
