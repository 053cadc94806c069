"""Engine, sessions and the declarative base shared by every model.

Both SQLite (embedded default) and PostgreSQL run the same models; nothing here or in the models may
assume one of them. The few differences (foreign keys off by default in SQLite, JSONB) are handled once,
in this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    DateTime,
    MetaData,
    Row,
    Select,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    event,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute
from sqlalchemy.pool import NullPool

#: Stable constraint names, so migrations generated on one database apply to the other.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: JSON column that is JSONB on PostgreSQL.
PortableJSON = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on both databases.

    SQLite hands back naive datetimes and PostgreSQL aware ones; this type stores UTC and always returns an
    aware UTC value, so comparisons and cursors behave the same everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; pass an aware datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection; WAL lets readers run beside a writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def in_migrations_for(dialect: str) -> Callable[..., bool]:
    """Alembic ``include_object``: leave out what the models declare for another database only.

    ``Index(...).ddl_if(dialect="postgresql")`` is created by ``create_all`` on PostgreSQL alone; Alembic's
    autogenerate does not read ``ddl_if``, so without this it would want the index on SQLite too.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect is None or condition.dialect == dialect

    return include


def make_engine(
    url: str,
    *,
    echo: bool = False,
    null_pool: bool = False,
    pool_size: int = 20,
    max_overflow: int = 0,
    pre_ping: bool = False,
) -> AsyncEngine:
    """Create the async engine for `url` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

    PostgreSQL connections are pooled without a pre-ping by default: the ping is a round trip on every
    checkout, which for a lookup doubles the round trips (bench/RESULTS.md). asyncpg keeps a cache of
    prepared statements per connection (the dialect's default, 100), so a repeated query is not re-planned.
    """
    kwargs: dict[str, Any] = {"echo": echo}
    if null_pool:
        kwargs["poolclass"] = NullPool
    elif url.startswith("postgresql"):
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=pre_ping)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def insert_rows(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """Insert `rows` in batches of a thousand rows a statement; returns the `returning` columns of each row
    (in no promised order: match them by a key).

    An INSERT with RETURNING over a list of rows is SQLAlchemy's "insertmanyvalues": multi-row VALUES
    statements, compiled once. A plain executemany is, to PostgreSQL, one statement per row, so every
    statement-level trigger (the Monev rollups') would fire once per row; this way it fires once per thousand.
    """
    if not rows:
        return []
    table = cast(Table, model.__table__)  # the Core table: no ORM bookkeeping per row
    columns = returning or tuple(table.primary_key)
    return list((await session.execute(insert(table).returning(*columns), rows)).all())


async def copy_rows(
    session: AsyncSession,
    model: type[Base],
    rows: list[dict[str, Any]],
    *,
    prepared: Sequence[str] = (),
    records: CopyRecords | None = None,
) -> None:
    """Append `rows` (dicts with the same keys: the columns given) to `model`'s table, in the session's
    transaction: a ``COPY`` on PostgreSQL, an executemany of one INSERT on SQLite. Nothing is returned, so
    the rows carry their ids if they need them (:func:`new_ids`).

    Each value goes through its column type's bind processing as an INSERT would do it, except the columns
    in `prepared`, whose values are already what the driver takes (a JSON column's text). A ``COPY`` is one
    statement to PostgreSQL: the Monev rollups' statement-level triggers fire once for all the rows, and no
    statement text is built or parsed for them (an INSERT of a thousand rows is a statement of 20,000
    parameters). A column the rows leave out gets its server default; one with a Python-side default must be
    given. `records`: the rows already bound (:func:`bind_rows` of these rows, made while the session was
    busy with something else).
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    missing = [c.name for c in table.columns if c.name not in rows[0] and c.default is not None]
    if missing:  # COPY (and the plain INSERT below) would not apply a Python-side default
        raise ValueError(f"copy_rows({table.name}): give {', '.join(missing)} (their defaults are Python-side)")
    await session.flush()
    conn = await session.connection()
    dialect = conn.dialect
    bound = records if records is not None else bind_rows(dialect, model, rows, prepared=prepared)
    if dialect.name == "postgresql":
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # an open asyncpg connection
        await driver.copy_records_to_table(table.name, records=bound.records, columns=bound.names)
        return
    placeholders = ", ".join("?" for _ in bound.names)
    statement = f"INSERT INTO {table.name} ({', '.join(bound.names)}) VALUES ({placeholders})"  # noqa: S608 (model names)
    await conn.exec_driver_sql(statement, bound.records)


@dataclass(frozen=True, slots=True)
class CopyRecords:
    """Rows bound for :func:`copy_rows`: the column names and a tuple of driver values per row."""

    names: list[str]
    records: list[tuple[Any, ...]]


def bind_rows(
    dialect: Dialect, model: type[Base], rows: list[dict[str, Any]], *, prepared: Sequence[str] = ()
) -> CopyRecords:
    """`rows` through their columns' bind processing (but the columns in `prepared`), as :func:`copy_rows`
    sends them."""
    table = cast(Table, model.__table__)
    names = list(rows[0]) if rows else []
    processors = [
        None if name in prepared else table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    if all(p is None for p in processors):
        return CopyRecords(names, [tuple(row[name] for name in names) for row in rows])
    steps = [(i, p) for i, p in enumerate(processors) if p is not None]
    records = []
    for row in rows:
        record = [row[name] for name in names]
        for i, process in steps:
            record[i] = process(record[i])
        records.append(tuple(record))
    return CopyRecords(names, records)


async def new_ids(session: AsyncSession, model: type[Base], count: int) -> list[int] | None:
    """`count` ids from the sequence of `model`'s id column on PostgreSQL, for rows appended with
    :func:`copy_rows`; None on SQLite (which has no sequence: insert with RETURNING there)."""
    if session.get_bind().dialect.name != "postgresql" or count == 0:
        return None if count else []
    table = cast(Table, model.__table__)
    # The sequence is looked up once (a MATERIALIZED CTE): in the select list pg_get_serial_sequence is
    # evaluated for every id, which cost more than the nextval itself (~95 against ~10 ms for 5,000 ids).
    result = await session.execute(
        text(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(:table, 'id')::regclass AS seq)"
            " SELECT nextval(s.seq) FROM s, generate_series(1, :count)"
        ),
        {"table": table.name, "count": count},
    )
    return list(result.scalars())


def one_of(
    session: AsyncSession, column: QueryableAttribute[Any] | ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column` IN `values`, for the set-based writes' lookups of a thousand keys.

    On PostgreSQL it is ``column = ANY($1)`` with the keys as one array parameter: an IN list is a parameter
    per key, which SQLAlchemy renders and asyncpg prepares afresh for every length (a third of the Python time
    of the APBD run went there), where this is one statement text, prepared once per connection. SQLite has no
    arrays: an IN list there (its thousand keys stay under SQLite's parameter limit).
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


_Ts = TypeVarTuple("_Ts")


async def read_rows(session: AsyncSession, statement: Select[*_Ts]) -> Sequence[Row[*_Ts]]:
    """The rows of a SELECT of columns, in the session's transaction, as Core rows.

    For the set-based writes' lookups (tens of thousands of rows a page): a column SELECT through
    ``Session.execute`` still goes through the ORM's row loading, about 5 µs a row more. Pending ORM changes are
    flushed first, as ``Session.execute`` would (autoflush), so the rows are the same.
    """
    await session.flush()
    connection = await session.connection()
    return (await connection.execute(statement)).all()


#: A table's statistics are made again (:func:`refresh_statistics`) once it has this many times the pages they
#: were made with, and at least `_MIN_PAGES` pages.
_GROWTH = 2
_MIN_PAGES = 32


async def refresh_statistics(session: AsyncSession, *models: type[Base]) -> None:
    """``ANALYZE`` those tables of `models` that have grown to twice the pages their statistics were made with,
    in the session's transaction (PostgreSQL; nothing on SQLite). For the set-based writes, once a chunk.

    A run that appends a hundred thousand rows to a table which held a few hundred otherwise works with the
    statistics of the small table throughout: autovacuum cannot count rows not yet committed (an import is one
    transaction), and is not there on every server. Worse, a lookup's prepared statement (``= ANY($1)``, one
    per connection) switches to a *generic* plan after five runs, made while the table was small — a sequential
    scan, still used when the table holds a million rows, because only new statistics (an ``ANALYZE``, whose
    invalidation the plan cache follows) make it plan again (bench/README.md, "Set-based writes"). Doubling
    keeps the number of ``ANALYZE`` runs logarithmic (about a dozen for a million rows); an ``ANALYZE``
    samples a fixed number of rows (its own transaction's new rows count as live), so each costs about the
    same. It holds the table's SHARE UPDATE EXCLUSIVE lock until the transaction ends (only VACUUM, another
    ANALYZE and some DDL wait for it; reads and writes do not); a role that may not analyse the table gets a
    warning and the table is left as it is.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    names = [cast(Table, model.__table__).name for model in models]
    grown = await session.scalars(
        text(
            "SELECT c.relname FROM pg_class c"
            " WHERE c.relname = ANY(:names) AND c.relnamespace = to_regnamespace(current_schema())"
            " AND pg_relation_size(c.oid) / current_setting('block_size')::int"
            " >= :growth * GREATEST(c.relpages, :min_pages)"
        ),
        {"names": names, "growth": _GROWTH, "min_pages": _MIN_PAGES // _GROWTH},
    )
    for name in grown.all():
        await session.execute(text(f'ANALYZE "{name}"'))
