"""Do the Monev rollups equal a recount of the base tables? (domain.monev.rollups keeps them by triggers.)

:func:`rollup_drift` reads every rollup row, recounts them from the base tables inside the same transaction,
reads again and rolls back: the two readings must be the same rows. Rows whose sums are all zero carry no
information (a change that was undone) and are left out of both readings.

The check runs after every write, import and console test, so it compares plain row tuples (hashed in C)
and names the columns only of the rows that differ.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.monev import rollup_sql, rollups

#: SQLite has no decimal type: the budget's shares are floating point there, and a sum kept change by change
#: can differ from a recount in the last bits. Compared to a millionth of a rupiah (figures show rupiah).
_PLACES = 6

Rows = dict[str, set[tuple[Any, ...]]]


def _columns(conn: Connection, table: str) -> list[str]:
    return list(conn.exec_driver_sql(f"SELECT * FROM {table} LIMIT 0").keys())  # noqa: S608 (constant names)


def _select(conn: Connection, table: str) -> str:
    measures = rollup_sql.measures(table)
    shown = [f"ROUND({c}, {_PLACES}) AS {c}" if c == "amount" else c for c in _columns(conn, table)]
    nonzero = " OR ".join(f"{m} <> 0" for m in measures)
    return f"SELECT {', '.join(shown)} FROM {table} WHERE {nonzero}"  # noqa: S608 (constant names)


def rollup_rows(conn: Connection) -> Rows:
    """Every rollup row with a non-zero sum, per table, as a tuple of its columns (in table order)."""
    return {table: set(map(tuple, conn.exec_driver_sql(_select(conn, table)).all())) for table in rollup_sql.ROLLUPS}


def _named(conn: Connection, table: str, rows: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    names = _columns(conn, table)
    return {tuple(sorted(zip(names, row, strict=True))) for row in rows}


async def rollup_drift(engine: AsyncEngine) -> dict[str, tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]]:
    """Per rollup table: (rows only in the kept rollup, rows only in the recount), each row as sorted
    (column, value) pairs; empty when they agree."""

    def drift(conn: Connection) -> dict[str, tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]]:
        kept = rollup_rows(conn)
        rollups.rebuild(conn)
        recounted = rollup_rows(conn)
        return {
            table: (
                _named(conn, table, kept[table] - recounted[table]),
                _named(conn, table, recounted[table] - kept[table]),
            )
            for table in rollup_sql.ROLLUPS
            if kept[table] != recounted[table]
        }

    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            assert await rollups.maintained(conn), "the rollups are not marked maintained"
            return await conn.run_sync(drift)
        finally:
            await transaction.rollback()
