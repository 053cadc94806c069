"""The constructs where the JSON statement differs per database render what the schema serialises (both backends).

``schema.compiled.sql_json.Dialect`` is evaluated by the test's database over values bound through their
column types (so they reach SQL as the tables store them: on SQLite a datetime as its text, a decimal as a
REAL, a boolean as 0/1), and compared with Python's own rendering: Strawberry's ``to_base64``,
``isoformat()``, ``str`` of the decimal, JSON ``true``/``false``. The differential test covers the same
constructs over the demo data; these cases reach the edges it may not hold (every length of key, the
microseconds, nulls).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Date, Integer, Numeric, String, Text, cast, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import to_base64

from domain.db import UTCDateTime
from schema.compiled.sql_json import Dialect


async def _evaluate(engine: AsyncEngine, expression: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(expression))).scalar()


async def _json(engine: AsyncEngine, value: Any) -> Any:
    """`value` as the JSON statement embeds it: inside an object, read back with the JSON parser."""
    sql = Dialect(engine.dialect.name)
    text = await _evaluate(engine, cast(sql.object(literal("v", String), value), Text))
    return json.loads(text)["v"]


# Prefixes "Participant:" (12 bytes), "Region:" (7) and "Benefit:" (8): every remainder of three.
@pytest.mark.parametrize("typename", ["Participant", "Region", "Benefit"])
@pytest.mark.parametrize("key", [0, 1, 9, 42, 100, 1234, 98765, 2**31 - 1, 10**17, 2**63 - 1])
async def test_global_ids_of_integer_keys(engine: AsyncEngine, typename: str, key: int) -> None:
    sql = Dialect(engine.dialect.name)
    assert await _evaluate(engine, sql.global_id(typename, literal(key, BigInteger))) == to_base64(typename, key)


@pytest.mark.parametrize("typename", ["Participant", "Region", "Benefit"])
@pytest.mark.parametrize("code", ["5", "52", "52.", "52.0", "52.03", "52.03.1", "52.03.14.2014", "52.03.14.20149"])
async def test_global_ids_of_text_keys(engine: AsyncEngine, typename: str, code: str) -> None:
    sql = Dialect(engine.dialect.name)
    assert await _evaluate(engine, sql.global_id(typename, literal(code, String(14)))) == to_base64(typename, code)


async def test_a_null_key_has_no_global_id(engine: AsyncEngine) -> None:
    assert await _evaluate(engine, Dialect(engine.dialect.name).global_id("Region", literal(None, String(13)))) is None


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 12, 7, 18, 5, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC),
        dt.datetime(2021, 6, 3, 7, 1, 56, 123456, tzinfo=dt.UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 1, 0, 0, 0, 100000, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),  # stored as UTC
        None,
    ],
)
async def test_datetimes_render_as_isoformat_in_utc(engine: AsyncEngine, value: dt.datetime | None) -> None:
    rendered = await _evaluate(engine, Dialect(engine.dialect.name).isoformat(literal(value, UTCDateTime())))
    assert rendered == (None if value is None else value.astimezone(dt.UTC).isoformat())


@pytest.mark.parametrize("value", [dt.date(2026, 12, 31), dt.date(1990, 3, 1), None])
async def test_dates_render_as_iso_dates(engine: AsyncEngine, value: dt.date | None) -> None:
    rendered = await _evaluate(engine, Dialect(engine.dialect.name).date(literal(value, Date())))
    assert rendered == (None if value is None else value.isoformat())


@pytest.mark.parametrize(
    "value", [Decimal("12500000.00"), Decimal("0.00"), Decimal("0.10"), Decimal("1234567.89"), Decimal("4500000.05")]
)
async def test_decimals_render_as_their_text(engine: AsyncEngine, value: Decimal) -> None:
    column_type = Numeric(16, 2, asdecimal=True)
    rendered = await _evaluate(engine, Dialect(engine.dialect.name).decimal(literal(value, column_type), column_type))
    assert rendered == str(value)


async def test_a_null_decimal_stays_null(engine: AsyncEngine) -> None:
    column_type = Numeric(16, 2)
    sql = Dialect(engine.dialect.name)
    assert await _evaluate(engine, sql.decimal(literal(None, column_type), column_type)) is None


@pytest.mark.parametrize("value", [True, False, None])
async def test_booleans_are_json_booleans(engine: AsyncEngine, value: bool | None) -> None:
    assert await _json(engine, Dialect(engine.dialect.name).boolean(literal(value, Boolean()))) is value


@pytest.mark.parametrize("last", [False, True])
async def test_the_first_and_last_element_of_an_array(engine: AsyncEngine, last: bool) -> None:
    sql = Dialect(engine.dialect.name)
    array = sql.array(literal(1, Integer), sql.object(literal("k", String), literal("x", String)), literal(3, Integer))
    assert await _json(engine, sql.element(array, last=last)) == (3 if last else 1)
