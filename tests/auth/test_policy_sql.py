"""The SQL twins of the masking rules give what the Python rules give, value for value (PostgreSQL and SQLite).

The compiled read path's JSON statements (schema.compiled.sql_json) mask and withhold in the database with
``auth.policy.shown_sql`` and ``domain.nik.mask_identifier_sql``; ``shown`` and ``mask_identifier`` do it
in Python everywhere else. These tests evaluate both over the same values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Date, Numeric, String, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import shown, shown_sql
from auth.principal import Principal, PrincipalKind
from auth.scopes import Scope
from domain.claims.models import Claim
from domain.nik import mask_identifier, mask_identifier_sql
from domain.participants.models import Participant
from domain.participants.phone import mask_phone_number, mask_phone_number_sql
from domain.regions.rules import RegionCode

WITH_PII = Principal("a", PrincipalKind.USER, frozenset({Scope.PARTICIPANTS_READ, Scope.PII_READ}))
WITHOUT_PII = Principal("b", PrincipalKind.USER, frozenset({Scope.PARTICIPANTS_READ}), region=RegionCode.parse("52.03"))


async def _evaluate(engine: AsyncEngine, expression: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(expression))).scalar()


@pytest.mark.parametrize("value", ["", "1", "123456", "1234567", "5271011203900001", "52710112039000012345"])
async def test_mask_identifier_sql_masks_like_mask_identifier(engine: AsyncEngine, value: str) -> None:
    assert await _evaluate(engine, mask_identifier_sql(literal(value, String))) == mask_identifier(value)


async def test_mask_identifier_sql_keeps_null(engine: AsyncEngine) -> None:
    assert await _evaluate(engine, mask_identifier_sql(literal(None, String))) is None


@pytest.mark.parametrize("value", ["", "+62", "+6281234", "+62812345", "+628123456789", "+6281234567889"])
async def test_mask_phone_number_sql_masks_like_mask_phone_number(engine: AsyncEngine, value: str) -> None:
    assert await _evaluate(engine, mask_phone_number_sql(literal(value, String))) == mask_phone_number(value)


async def test_mask_phone_number_sql_keeps_null(engine: AsyncEngine) -> None:
    assert await _evaluate(engine, mask_phone_number_sql(literal(None, String))) is None


CASES: list[tuple[type[Any], str, Any, Any, str | None]] = [
    (Participant, "nik", String, "5271011203900001", None),
    (Participant, "birth_date", Date, dt.date(1990, 3, 12), None),
    (Participant, "monthly_wage", Numeric(14, 2), Decimal("4500000.00"), None),
    (Participant, "full_name", String, "Baiq Nurul", None),
    (Participant, "phone_number", String, "+6281234567889", None),
    (Participant, "phone_number", String, None, None),
    (Claim, "amount_approved", Numeric(16, 2), Decimal("12500000.00"), "JKK"),  # wage-based programme
    (Claim, "amount_approved", Numeric(16, 2), Decimal("12500000.00"), "JKP"),
    (Claim, "amount_approved", Numeric(16, 2), Decimal("3000000.00"), "JHT"),  # not wage-based
    (Claim, "amount_approved", Numeric(16, 2), None, "JKK"),
]


@pytest.mark.parametrize("principal", [WITH_PII, WITHOUT_PII], ids=["pii", "no-pii"])
@pytest.mark.parametrize(("model", "column", "sql_type", "value", "program"), CASES)
async def test_shown_sql_shows_what_shown_shows(
    engine: AsyncEngine,
    principal: Principal,
    model: type[Any],
    column: str,
    sql_type: Any,
    value: Any,
    program: str | None,
) -> None:
    program_sql = literal(program, String) if program is not None else None
    expression = shown_sql(principal, model, column, literal(value, sql_type), program_sql)
    assert await _evaluate(engine, expression) == shown(principal, model, column, value, program)
