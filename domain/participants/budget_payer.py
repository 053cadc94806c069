"""Whose budget (APBD) a bulk write commits: one regional government at a time, and only the caller's own.

Under Inpres 4/2022 the decision to enrol and pay is each regional government's: a province or a
regency/city names itself as the payer, and a national administrator names one region per call. The payer is
checked before any row is read, so a request naming someone else's budget learns nothing about its rows.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.participants.codes import ContributionCode
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel
from domain.writes.caller import Caller
from domain.writes.errors import Problem, invalid

#: Governments with a budget (APBD): provinces and regencies/cities.
BUDGET_LEVELS = (RegionLevel.PROVINCE, RegionLevel.REGENCY)


def default_payer(caller: Caller) -> str | None:
    """The budget a regional caller commits when it names none: its own, if it is a government with one."""
    within = caller.within
    return within.code if within is not None and within.level in BUDGET_LEVELS else None


async def check_payer(session: AsyncSession, caller: Caller, raw: str | None, *, field: str = "payer") -> str:
    """The payer `raw` names (or the caller's own budget), checked to be a province or regency the caller acts
    for; raises :class:`~domain.writes.errors.Invalid` otherwise."""
    given = raw.strip() if raw else None
    code = given or default_payer(caller)
    if code is None:
        raise invalid(
            field,
            ContributionCode.PAYER_REQUIRED,
            "name the province or regency whose budget (APBD) pays; a national administrator commits one "
            "region's budget per call",
        )
    try:
        parsed = RegionCode.parse(code)
    except InvalidRegionCode as exc:
        raise invalid(field, RegionErrorCode.INVALID_REGION, str(exc)) from None
    if parsed.level not in BUDGET_LEVELS:
        raise invalid(
            field,
            ContributionCode.NOT_A_BUDGET,
            f"{parsed.code} is a {parsed.level.value.lower()}; only a province or a regency/city has a budget (APBD)",
        )
    if not caller.sees(parsed.code):
        raise invalid(
            field, ContributionCode.PAYER_OUT_OF_REGION, f"region {parsed.code} is not one whose budget you may commit"
        )
    if await session.scalar(select(Region.code).where(Region.code == parsed.code)) is None:
        raise invalid(field, RegionErrorCode.UNKNOWN_REGION, f"region {parsed.code} is not in the Kemendagri list")
    return parsed.code


def payer_problems(payer: str, region_code: str, field: str = "payer") -> list[Problem]:
    """A regional budget pays for its own residents only."""
    if RegionCode.parse(payer).contains(region_code):
        return []
    return [
        Problem(
            field,
            ContributionCode.PAYER_NOT_RESPONSIBLE,
            f"the person lives outside {payer}; its budget does not pay for them",
        )
    ]
