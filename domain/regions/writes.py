"""Writes of a region's Monev figures for one year: the BPS employed population and the UCJ target.

Region names and codes come from the Kemendagri list and are never edited; the yearly denominators are. A
figure row is created for a (region, year) the first time, then corrected with the version the caller read
and a reason. The version check is one conditional UPDATE, so two concurrent corrections cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region, RegionYearFigure
from domain.regions.rules import InvalidRegionCode, RegionCode
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Conflict, Invalid, NotFound, Problem, invalid
from domain.writes.reasons import check_reason
from domain.writes.visible import load_visible

MIN_YEAR, MAX_YEAR = 2000, 2100
#: More people employed than this in one region is a typo (Indonesia's whole workforce is ~145 million).
MAX_EMPLOYED = 200_000_000
AUDITED = ("employed_population", "ucj_target")


@dataclass
class RegionFigures:
    region_code: str
    year: int
    employed_population: int | None
    #: A share of the employed population, 0..1 (0.62 for 62 %).
    ucj_target: Decimal | None


def figure_key(region_code: str, year: int) -> str:
    """The audit trail's entity id of a figure row."""
    return f"{region_code}/{year}"


def _value_problems(data: RegionFigures) -> tuple[Decimal | None, list[Problem]]:
    problems: list[Problem] = []
    if not MIN_YEAR <= data.year <= MAX_YEAR:
        problems.append(Problem("year", WriteCode.OUT_OF_RANGE, f"the year is between {MIN_YEAR} and {MAX_YEAR}"))
    population = data.employed_population
    if population is not None and not 0 <= population <= MAX_EMPLOYED:
        problems.append(
            Problem("employedPopulation", WriteCode.OUT_OF_RANGE, f"{population:,} employed people is not plausible")
        )
    target = data.ucj_target
    if target is not None:
        try:
            target = Decimal(target).quantize(Decimal("0.0001"))
        except InvalidOperation:
            return None, [*problems, Problem("ucjTarget", WriteCode.INVALID, "the UCJ target is a number")]
        if not Decimal(0) <= target <= Decimal(1):
            problems.append(
                Problem(
                    "ucjTarget", WriteCode.OUT_OF_RANGE, "the UCJ target is a share between 0 and 1 (0.62 for 62 %)"
                )
            )
    return target, problems


async def _visible_region(session: AsyncSession, caller: Caller, raw: str) -> str:
    try:
        code = RegionCode.parse(raw).code
    except InvalidRegionCode as exc:
        raise invalid("regionCode", RegionErrorCode.INVALID_REGION, str(exc)) from None
    await load_visible(session, caller, Region, code, "region")
    return code


async def record_region_figures(
    session: AsyncSession,
    caller: Caller,
    data: RegionFigures,
    *,
    expected_version: int | None,
    reason: str | None = None,
    reason_code: str | None = None,
) -> RegionYearFigure:
    """Create the figures of (region, year) when `expected_version` is None, else correct them.

    A correction needs a reason (code and note); a first entry may carry one (e.g. the BPS publication).
    Creating a row that exists, or correcting one that is not at `expected_version`, is a Conflict.
    """
    code = await _visible_region(session, caller, data.region_code)
    target, problems = _value_problems(data)
    reason_text, reason_kind, reason_problems = check_reason(reason, reason_code)
    if expected_version is not None:
        problems += reason_problems
    else:  # a first entry may go without a reason; one that is given must still be clean
        problems += [p for p in reason_problems if p.code is not WriteCode.REQUIRED]
    if problems:
        raise Invalid(problems)
    key = figure_key(code, data.year)
    current = await session.get(RegionYearFigure, (code, data.year), populate_existing=True)
    after = {"employed_population": data.employed_population, "ucj_target": target}
    if expected_version is None:
        if current is not None:
            raise Conflict("figures", key, None, current.version)
        row = RegionYearFigure(region_code=code, year=data.year, version=1, **after)
        session.add(row)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            raise Conflict("figures", key, None, None) from None
        changed = audit.diff({}, after)
        action = "region_figures.create"
    else:
        if current is None:
            raise NotFound("figures", key)
        if current.version != expected_version:
            raise Conflict("figures", key, expected_version, current.version)
        changed = audit.diff(_snapshot(current), after)
        if not changed:
            raise invalid(None, WriteCode.NO_CHANGE, "nothing to change: every given value equals the current one")
        result = await session.execute(
            update(RegionYearFigure)
            .where(
                RegionYearFigure.region_code == code,
                RegionYearFigure.year == data.year,
                RegionYearFigure.version == expected_version,
            )
            .values(**after, version=expected_version + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("figures", key, expected_version, current.version)
        row = (
            await session.execute(
                select(RegionYearFigure)
                .where(RegionYearFigure.region_code == code, RegionYearFigure.year == data.year)
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        action = "region_figures.update"
    await audit.record(
        session,
        actor=caller.actor,
        action=action,
        entity_type="RegionYearFigure",
        entity_id=key,
        changes=changed,
        reason=reason_text or None,
        reason_code=reason_kind.value if reason_kind else None,
        meta=caller.meta,
    )
    return row


def _snapshot(row: RegionYearFigure) -> dict[str, Any]:
    return {name: getattr(row, name) for name in AUDITED}
