"""Monev statistics in GraphQL: coverage by region and month, claim statistics, with small-count suppression.

Every figure comes from ``domain.monev.tables`` through ``auth.policy.monev_viewer``: computed by the
database over the caller's rows only, and with counts below the threshold withheld (null, ``suppressed``)
for callers who may read aggregates but not the rows behind them. A region the caller cannot see in full
gives null, like every other lookup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.policy import monev_viewer
from auth.scopes import Scope
from domain.monev import cells
from domain.monev.periods import Month, PeriodError, check_as_of, check_range, figures_as_of, is_complete, today
from domain.monev.tables import Published, Viewer, region_exists, region_months, sub_region_months
from domain.participants.rules import Program
from domain.regions.rules import RegionCode
from schema.core import demand
from schema.core.bounds import CLAIM_STATS_SIZE, REGION_CHILDREN_SIZE, TREND_MONTHS_SIZE
from schema.core.context import Info
from schema.core.enums import ProgramEnum, domain_value
from schema.core.errors import BadInput
from schema.core.permissions import needs
from schema.regions.filters import parse_region_code
from schema.stats.types import (
    ClaimStat,
    CoverageType,
    T,
)


def _viewer(info: Info) -> Viewer:
    return monev_viewer(info.context.principal, info.context.limits.suppression_threshold)


def _period_error(exc: PeriodError) -> BadInput:
    return BadInput(str(exc), field=exc.field)


def _month(as_of: dt.date | None) -> tuple[dt.date, Month]:
    day = as_of or today()
    try:
        return day, check_as_of(day)
    except PeriodError as exc:
        raise _period_error(exc) from None


def _months(start: dt.date, end: dt.date) -> list[Month]:
    try:
        return check_range(start, end)
    except PeriodError as exc:
        raise _period_error(exc) from None


async def _visible_region(
    info: Info, raw: str, field: str, work: Callable[[AsyncConnection, RegionCode], Awaitable[T]]
) -> T | None:
    """Run `work` for a region the caller sees in full; None when it is unknown or not (entirely) theirs."""
    code = parse_region_code(raw, field)
    viewer = _viewer(info)
    if not viewer.sees(code.code):
        return None

    async def run(conn: AsyncConnection) -> T | None:
        if not await region_exists(conn, viewer, code.code):
            return None
        return await work(conn, code)

    return await info.context.reader.with_connection(run)


_REGION = strawberry.argument(description="Dotted Kemendagri code of the region, e.g. '52' or '52.71'.")
_AS_OF = strawberry.argument(
    description="Figures at the end of this date's month (default: today); 2015-01-01 up to today."
)
_FROM = strawberry.argument(name="from", description="First month (any date in it), 2015 or later.")
_TO = strawberry.argument(
    description="Last month (any date in it); a date after today is taken as today (the current month's row is then "
    "month-to-date, complete: false). At most 120 months after from."
)


@strawberry.type
class StatsQuery:
    @strawberry.federation.field(
        description="Monev coverage of one region at the end of asOf's month; null when the region is unknown or "
        "not entirely within yours.",
        **needs(Scope.STATS_READ),
    )
    async def coverage(
        self, info: Info, region_code: Annotated[str, _REGION], as_of: Annotated[dt.date | None, _AS_OF] = None
    ) -> CoverageType | None:
        return await coverage_of(info, region_code, as_of, "regionCode")

    @strawberry.federation.field(
        description="Coverage of every sub-region of parentCode you may see (all of them, zeros included), "
        "ordered by code; null when parentCode is unknown or outside your region.",
        directives=demand.bounded(REGION_CHILDREN_SIZE),
        **needs(Scope.STATS_READ),
    )
    async def coverage_by_region(
        self,
        info: Info,
        parent_code: Annotated[str, strawberry.argument(description="The parent region, e.g. '52' for its regencies.")],
        as_of: Annotated[dt.date | None, _AS_OF] = None,
    ) -> list[CoverageType] | None:
        day, month = _month(as_of)
        code = parse_region_code(parent_code, "parentCode")
        viewer = _viewer(info)
        own = viewer.region
        if not (viewer.sees(code.code) or (own is not None and code.code in own.ancestors)):
            return None

        async def run(conn: AsyncConnection) -> list[CoverageType] | None:
            if not await region_exists(conn, viewer, code.code):
                return None
            rows = await sub_region_months(conn, viewer, code, [month])
            return [CoverageType.from_published(p, day) for p in rows]

        return await info.context.reader.with_connection(run)

    @strawberry.federation.field(
        description="Coverage of one region at the end of each month from..to; null when the region is unknown or "
        "not entirely within yours.",
        directives=demand.bounded(TREND_MONTHS_SIZE),
        **needs(Scope.STATS_READ),
    )
    async def coverage_trend(
        self,
        info: Info,
        region_code: Annotated[str, _REGION],
        from_: Annotated[dt.date, _FROM],
        to: Annotated[dt.date, _TO],
    ) -> list[CoverageType] | None:
        months = _months(from_, to)

        async def work(conn: AsyncConnection, code: RegionCode) -> list[CoverageType]:
            rows = await region_months(conn, _viewer(info), code, months)
            return [CoverageType.from_published(p, figures_as_of(p.month)) for p in rows]

        return await _visible_region(info, region_code, "regionCode", work)

    @strawberry.federation.field(
        description="Claims received and paid per month and programme in one region; null when the region is "
        "unknown or not entirely within yours.",
        directives=demand.bounded(CLAIM_STATS_SIZE),
        **needs(Scope.STATS_READ),
    )
    async def claim_stats(
        self,
        info: Info,
        region_code: Annotated[str, _REGION],
        from_: Annotated[dt.date, _FROM],
        to: Annotated[dt.date, _TO],
        program: Annotated[ProgramEnum | None, strawberry.argument(description="Only this programme.")] = None,
    ) -> list[ClaimStat] | None:
        months = _months(from_, to)
        only: Program | None = domain_value(program)
        programs = [only] if only is not None else list(Program)

        async def work(conn: AsyncConnection, code: RegionCode) -> list[ClaimStat]:
            rows = await region_months(conn, _viewer(info), code, months)
            return [_claim_stat(p, g) for p in rows for g in programs]

        return await _visible_region(info, region_code, "regionCode", work)


def _claim_stat(p: Published, program: Program) -> ClaimStat:
    c, a = p.counts, p.amounts
    figures = (c[cells.claims_submitted(program)], c[cells.claims_paid(program)])
    within = p.jkm_within_target_share if program is Program.JKM else None
    hidden = any(v is None for v in figures) or (
        program is Program.JKM and (c[cells.JKM_WITHIN] is None or c[cells.JKM_LATE] is None)
    )
    return ClaimStat(
        month=p.month.key,
        as_of=figures_as_of(p.month),
        complete=is_complete(p.month),
        program=program,
        submitted=figures[0],
        paid=figures[1],
        paid_amount=a[cells.claims_paid_amount(program)],
        scholarship_amount=a[cells.claims_scholarship(program)],
        paid_within_target=within,
        suppressed=hidden,
    )


async def coverage_of(info: Info, region_code: str, as_of: dt.date | None, field: str) -> CoverageType | None:
    """``coverage(regionCode, asOf)``, and ``Region.coverage(asOf)`` with the region's own code."""
    day, month = _month(as_of)

    async def work(conn: AsyncConnection, code: RegionCode) -> CoverageType:
        [published] = await region_months(conn, _viewer(info), code, [month])
        return CoverageType.from_published(published, day)

    return await _visible_region(info, region_code, field, work)
