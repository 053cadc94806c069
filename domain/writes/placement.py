"""Where a write may put a row: the village it names must exist, be a village and lie in the caller's region."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel, placement
from domain.writes.caller import Caller
from domain.writes.errors import Problem


class OutOfRegion(Exception):
    """The caller may not write in that region (it exists; they are not bound to it)."""

    def __init__(self, code: str) -> None:
        super().__init__(
            f"region {code} is outside the region you are bound to; you cannot register participants there"
        )


async def visible_village(
    session: AsyncSession, caller: Caller, raw: str, field_name: str
) -> tuple[str, list[Problem]]:
    """The village `raw` names, checked to exist, to be a village and to lie in the caller's region."""
    try:
        code = RegionCode.parse(raw)
    except InvalidRegionCode as exc:
        return raw, [Problem(field_name, RegionErrorCode.INVALID_REGION, str(exc))]
    region = await session.get(Region, code.code)
    checked, problems = check_village(caller, code, region.level if region is not None else None, field_name)
    return (raw if problems else checked), problems


def check_village(
    caller: Caller, code: RegionCode, level: RegionLevel | None, field_name: str
) -> tuple[str, list[Problem]]:
    """The checks of :func:`visible_village` after parsing, given the level the register has for the code
    (None: not in it): what a set-based write applies to each row after one lookup of all their villages."""
    if level is None:
        return code.code, [
            Problem(field_name, RegionErrorCode.UNKNOWN_REGION, f"region {code.code} is not in the Kemendagri list")
        ]
    if level is not RegionLevel.VILLAGE:
        return code.code, [
            Problem(
                field_name, RegionErrorCode.NOT_A_VILLAGE, f"{code.code} is a {level.value.lower()}; give the village"
            )
        ]
    if not caller.sees(code.code):
        raise OutOfRegion(code.code)
    return code.code, []


async def visible_placement(
    session: AsyncSession, caller: Caller, raw: str, field_name: str
) -> tuple[dict[str, str | None], list[Problem]]:
    """The placement columns for moving a row to the village `raw` (empty when it is not an acceptable one)."""
    code, problems = await visible_village(session, caller, raw, field_name)
    return ({} if problems else placement(code)), problems
