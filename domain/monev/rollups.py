"""Keeping the Monev rollups: install the triggers, rebuild from the base tables, suspend during bulk loads.

The triggers (domain.monev.rollup_sql) keep the rollup tables (domain.monev.rollup_tables) right in the
transaction of every write, whichever path makes it: registration, corrections and moves, the ledger's
payments and recount, imports, seeds, or plain SQL. ``monev_rollup_state.maintained`` says whether they may
be read: a bulk load clears it in its own transaction (:func:`suspend`, the triggers then do nothing) and
rebuilds once at the end (:func:`rebuild`), and readers use the base tables while it is false.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.db import Base
from domain.monev import rollup_sql
from domain.monev.rollup_tables import ROLLUP_TABLES, RollupState

_BASE_TABLES = ("participants", "participant_programs", "contributions", "poverty_beneficiaries")


def _dialect(conn: Connection) -> rollup_sql.Dialect:
    return rollup_sql.Dialect(conn.dialect.name)


def install_triggers(conn: Connection) -> None:
    """(Re)create every rollup trigger (and, on PostgreSQL, its function)."""
    d = _dialect(conn)
    for statement in [*rollup_sql.drop_triggers(d), *rollup_sql.create_triggers(d)]:
        conn.exec_driver_sql(statement)


def drop_triggers(conn: Connection) -> None:
    for statement in rollup_sql.drop_triggers(_dialect(conn)):
        conn.exec_driver_sql(statement)


def _set_maintained(conn: Connection, value: bool) -> None:
    updated = conn.execute(text("UPDATE monev_rollup_state SET maintained = :v WHERE id = 1"), {"v": value})
    if updated.rowcount == 0:
        conn.execute(text("INSERT INTO monev_rollup_state (id, maintained) VALUES (1, :v)"), {"v": value})


def suspend(conn: Connection) -> None:
    """Stop keeping the rollups until :func:`rebuild` (for a bulk load: per-row upkeep would only cost time)."""
    _set_maintained(conn, False)


def set_unmaintained(conn: Connection) -> None:
    """Mark the rollups as not to be read (readers use the base tables) without touching the triggers."""
    _set_maintained(conn, False)


def rebuild(conn: Connection) -> dict[str, int]:
    """Recount every rollup from the base tables and mark them maintained; returns the rows per rollup.

    Runs in the caller's transaction. On PostgreSQL it first locks the base tables against writes (SHARE
    mode: reads go on), so no write slips between the recount and the moment the triggers take over again.
    """
    d = _dialect(conn)
    if d.postgres:
        conn.exec_driver_sql(f"LOCK TABLE {', '.join(_BASE_TABLES)} IN SHARE MODE")
    _set_maintained(conn, False)
    for table in rollup_sql.ROLLUPS:
        conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608  (a constant table name)
    for statement in rollup_sql.rebuild(d):
        conn.exec_driver_sql(statement)
    rows = {}
    for table in rollup_sql.ROLLUPS:
        measures = rollup_sql.measures(table)
        # Rows summing to nothing (a change undone within the load) say nothing: dropped. Constant names only.
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE " + " AND ".join(f"{m} = 0" for m in measures))  # noqa: S608
        rows[table] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())  # noqa: S608
    _set_maintained(conn, True)
    return rows


def repair(conn: Connection) -> dict[str, int]:
    """Make sure the rollup tables and their triggers exist, then :func:`rebuild` (``jamsos monev
    rebuild-rollups``). The tables are the migration's; creating them here serves databases made with
    ``create_all`` before they existed (bench/seed_bench.py's)."""
    tables = [Base.metadata.tables[m.__tablename__] for m in (*ROLLUP_TABLES, RollupState)]
    Base.metadata.create_all(conn, tables=tables)
    install_triggers(conn)
    return rebuild(conn)


async def maintained(conn: AsyncConnection) -> bool:
    """Whether the rollups are complete and kept (else figures come from the base tables)."""
    value = (await conn.execute(text("SELECT maintained FROM monev_rollup_state WHERE id = 1"))).scalar()
    return bool(value)


def _after_create(target: Any, connection: Connection, tables: Any = (), **_: Any) -> None:
    """``create_all`` (the seed tests, bench/seed_bench.py) makes the triggers too, like the migration does.

    The rollups start unmaintained: the base tables may already hold rows; the seed rebuilds them once loaded.
    """
    names = {t.name for t in tables}
    if RollupState.__tablename__ in names and all(m.__tablename__ in names for m in ROLLUP_TABLES):
        install_triggers(connection)
        _set_maintained(connection, False)


event.listen(Base.metadata, "after_create", _after_create)
