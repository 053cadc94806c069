"""The Monev stocks and the budget read from the rollups (domain.monev.rollup_tables) instead of the base tables.

Same figures, same definitions as domain.monev.figures (the recount tests run every figure through both): a
month's value is the sum of the rollup's changes up to and including that month. Used only when the caller
sees the whole region asked about (then the caller's scoping narrows nothing) and the area is a province,
regency or district; a village, or a caller who sees part of the region, reads the base tables, which are
small there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select

from domain.monev import cells
from domain.monev.rollup_tables import BudgetMonth, ParticipantMonth, PoorMonth, ProgramMonth
from domain.participants.models import FundingSource
from domain.participants.rules import Program, Segment
from domain.regions.models import placement_column
from domain.regions.rules import RegionLevel

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from domain.monev.figures import Table, _Query

#: The levels the rollups sum to: an area at one of these (or a table grouped by one) can be read from them.
ROLLUP_LEVELS = frozenset({RegionLevel.PROVINCE, RegionLevel.REGENCY, RegionLevel.DISTRICT})


def _group(q: _Query, model: Any, *more: Any) -> tuple[list[Any], list[Any]]:
    m = q.months.c
    area = [placement_column(model, q.child_level)] if q.child_level is not None else []
    return [m.month.label("month"), *(c.label("area") for c in area), *more], [m.month, *area, *more]


def _where(q: _Query, model: Any) -> Any:
    """The rows of the level grouped by (the region's own, or its sub-regions') inside the region."""
    level = q.child_level or q.region.level
    return and_(model.level == level.value, placement_column(model, q.region.level) == q.region.code, q.visible(model))


def _summed(q: _Query, model: Any, keys: tuple[Any, ...], **sums: Any) -> Any:
    """Per month asked (and area and `keys`): every change of `model` up to and including that month, summed."""
    group, group_by = _group(q, model, *keys)
    return (
        select(*group, *(func.sum(column).label(name) for name, column in sums.items()))
        .select_from(q.months)
        .join(model, model.month <= q.months.c.number)
        .where(_where(q, model))
        .group_by(*group_by)
    )


async def participants(conn: AsyncConnection, q: _Query, table: Table, new: Any) -> None:
    r = ParticipantMonth
    stmt = _summed(q, r, (r.segment, r.funding_source), total=r.registered, active=r.active)
    for row in (await conn.execute(stmt)).all():
        counts = table.setdefault(q.key(row), new()).counts
        total, act = int(row.total), int(row.active)
        seg, fund = Segment(row.segment), FundingSource(row.funding_source)
        counts[cells.PARTICIPANTS] += total
        counts[cells.ACTIVE] += act
        counts[cells.segment_total(seg)] += total
        counts[cells.segment_active(seg)] += act
        counts[cells.funding_active(fund)] += act


async def programs(conn: AsyncConnection, q: _Query, table: Table, new: Any) -> None:
    r = ProgramMonth
    stmt = _summed(q, r, (r.program,), active=r.active)
    for row in (await conn.execute(stmt)).all():
        table.setdefault(q.key(row), new()).counts[cells.program_active(Program(row.program))] += int(row.active)


async def budget(conn: AsyncConnection, q: _Query, table: Table, new: Any) -> None:
    """Per payer: the shares of every payment covering the month, summed, then rounded to the rupiah."""
    r = BudgetMonth
    stmt = _summed(q, r, (r.payer,), amount=r.amount)
    for row in (await conn.execute(stmt)).all():
        amounts = table.setdefault(q.key(row), new()).amounts
        amounts[cells.funding_amount(FundingSource(row.payer))] = Decimal(row.amount or 0).quantize(Decimal(1))


async def extreme_poor(conn: AsyncConnection, q: _Query, table: Table, new: Any) -> None:
    """Distinct NIKs do not add up across areas: the level grouped by is read, never a sum of the one below."""
    r = PoorMonth
    stmt = _summed(q, r, (), total=r.total, enrolled=r.enrolled, active=r.active)
    for row in (await conn.execute(stmt)).all():
        counts = table.setdefault(q.key(row), new()).counts
        counts[cells.POOR_TOTAL] = int(row.total)
        counts[cells.POOR_ENROLLED] = int(row.enrolled)
        counts[cells.POOR_ACTIVE] = int(row.active)
