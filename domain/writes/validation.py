"""Validation that needs the database: a NIK's district must exist in the region table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.nik import NIK, InvalidNIK, Sex, check_consistency, mask_identifier, parse_nik
from domain.regions.models import Region
from domain.regions.rules import RegionLevel


async def nik_district_exists(session: AsyncSession, nik: NIK) -> bool:
    stmt = select(exists().where(Region.code == nik.district_code, Region.level == RegionLevel.DISTRICT))
    return bool((await session.execute(stmt)).scalar_one())


async def validate_nik(
    session: AsyncSession,
    raw: str,
    *,
    sex: Sex | None = None,
    birth_date: dt.date | None = None,
    reveal: bool = True,
) -> NIK:
    """A NIK checked in full (docs/domain.md): shape, date, serial, an existing district, and agreement with the
    sex and birth date given for the person. Raises :class:`InvalidNIK` naming the first problem.

    With ``reveal=False`` a disagreement is reported without the sex or birth date the NIK encodes, so a
    caller without pii:read cannot learn them by guessing.
    """
    nik = parse_nik(raw)
    return check_nik(nik, district_exists=await nik_district_exists(session, nik), sex=sex, birth_date=birth_date,
                     reveal=reveal)  # fmt: skip


def check_nik(
    nik: NIK, *, district_exists: bool, sex: Sex | None = None, birth_date: dt.date | None = None, reveal: bool = True
) -> NIK:
    """The checks of :func:`validate_nik` after parsing, given whether the NIK's district exists: what a
    set-based write applies to each row after looking up all the rows' districts in one query."""
    if not district_exists:
        raise InvalidNIK(
            f"NIK {mask_identifier(nik.value)} was issued in district {nik.district_code}, "
            "which is not in the Kemendagri list; check the first six digits"
        )
    problems = check_consistency(nik, sex=sex, birth_date=birth_date)
    if problems and not reveal:
        raise InvalidNIK(
            f"NIK {mask_identifier(nik.value)} does not agree with the sex and birth date given; "
            "check all three against the identity card"
        )
    if problems:
        raise InvalidNIK(f"NIK {mask_identifier(nik.value)}: " + "; ".join(problems))
    return nik
