"""SQL text already compiled for the database, run on the driver's own connection when that is safe.

The compiled path keeps the text of a statement SQLAlchemy compiled once (schema.compiled.sql_text) and
sends it again with only the request's values. Through ``AsyncConnection.exec_driver_sql`` each of those
sends still pays a greenlet hop, SQLAlchemy's execution context and result objects and the dialect's cursor
adapter: on the fast lane (api.fast_reads) about as much Python as the rest of the request. On PostgreSQL in
autocommit (the read path's default) none of that does anything for one SELECT of one text column, so
:func:`text_rows` hands the text to asyncpg directly (``Connection.fetch``: asyncpg prepares it once per
connection in its own statement cache).

What SQLAlchemy did on the way is kept where something depends on it:

- listeners of the engine's ``before_cursor_execute`` / ``after_cursor_execute`` events still see every
  statement, with its text and parameters (the test suite counts statements per request and checks the
  scoping predicate that way); there is no DB-API cursor and no execution context, so ``cursor`` and
  ``context`` are None;
- a connection the driver found broken is invalidated, as SQLAlchemy does on a disconnect error, so that the
  pool does not hand it out again;
- anything else (SQLite, a connection inside a transaction) goes through ``exec_driver_sql`` as before.

Driver errors are raised as asyncpg raises them (not wrapped in ``sqlalchemy.exc.DBAPIError``);
schema.core.errors recognises outages by the driver's exception names in either form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass
class DriverCounters:
    """Statements sent on the driver's connection, and those that went through SQLAlchemy instead."""

    driver: int = 0
    sqlalchemy: int = 0


DRIVER_SQL = DriverCounters()


async def text_rows(connection: AsyncConnection, sql: str, parameters: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
    """The rows of `sql` with positional `parameters` (numbered ``$n`` for asyncpg), on `connection`."""
    sync = connection.sync_connection
    # An invalidated connection is SQLAlchemy's to reconnect or refuse (that needs its greenlet).
    usable = sync is not None and sync.dialect.driver == "asyncpg" and not sync.invalidated and not sync.closed
    adapted: Any = sync.connection.dbapi_connection if usable and sync is not None else None
    if sync is None or adapted is None or not adapted.autocommit:
        DRIVER_SQL.sqlalchemy += 1
        return (await connection.exec_driver_sql(sql, parameters)).all()
    # The connection's listeners of the event, the engine's included (empty without any: nothing to skip).
    for listener in sync.dispatch.before_cursor_execute:
        # Listeners without retval=True are wrapped by SQLAlchemy to return the statement unchanged.
        sql, parameters = listener(sync, None, sql, parameters, None, False)
    driver = adapted.driver_connection
    DRIVER_SQL.driver += 1
    try:
        rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *parameters)
    except BaseException as exc:
        # A lost connection (or a statement cut off by cancellation) must not go back to the pool for reuse.
        if driver.is_closed() or not isinstance(exc, Exception):
            await connection.invalidate(exc if isinstance(exc, Exception) else None)
        raise
    for listener in sync.dispatch.after_cursor_execute:
        listener(sync, None, sql, parameters, None, False)
    return rows
