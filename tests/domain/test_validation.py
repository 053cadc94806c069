"""NIK validation against the region table, on every backend."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.nik import InvalidNIK, Sex, build_nik
from domain.writes.validation import validate_nik

BIRTH = dt.date(1990, 3, 12)


async def test_valid_nik_in_existing_district(engine: AsyncEngine) -> None:
    nik = build_nik("52.71.01", BIRTH, Sex.F, 7)
    async with AsyncSession(engine) as session:
        parsed = await validate_nik(session, nik, sex=Sex.F, birth_date=BIRTH)
    assert parsed.district_code == "52.71.01"


@pytest.mark.parametrize(
    ("district", "needle"),
    [("52.71.99", "52.71.99, which is not in the Kemendagri list"), ("52.99.01", "52.99.01, which is not")],
)
async def test_unknown_district_refused(engine: AsyncEngine, district: str, needle: str) -> None:
    async with AsyncSession(engine) as session:
        with pytest.raises(InvalidNIK, match=needle):
            await validate_nik(session, build_nik(district, BIRTH, Sex.M, 1))


@pytest.mark.parametrize(
    ("sex", "birth", "needle"),
    [
        (Sex.M, BIRTH, "encodes sex F but sex M was given"),
        (Sex.F, dt.date(1990, 3, 13), "encodes birth date 1990-03-12 but 1990-03-13 was given"),
    ],
)
async def test_inconsistent_sex_or_birth_date(engine: AsyncEngine, sex: Sex, birth: dt.date, needle: str) -> None:
    async with AsyncSession(engine) as session:
        with pytest.raises(InvalidNIK, match=needle):
            await validate_nik(session, build_nik("52.71.01", BIRTH, Sex.F, 7), sex=sex, birth_date=birth)


async def test_malformed_nik_refused_before_the_database(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        with pytest.raises(InvalidNIK, match="has 15 digits"):
            await validate_nik(session, "527101120390001")
