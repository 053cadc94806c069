"""The Monev aggregates, computed by the database: one GROUP BY per family over the placement columns.

Every query groups by month (a small CTE of the months asked about) and, for a table of sub-regions, by the
placement column one level below the region (``regency_code`` under a province, ...), which is indexed on
every placed table. Nothing here loads individual rows: each statement returns one row per (month, area,
category) at most.

Definitions (the recount test in tests/monev pins them against a brute-force count):

- participants of a month: registered before the month ends;
- active: among those, contributions paid through the month's last day (``paid_through``, derived from the
  contribution ledger) **and** alive and not retired at that day (``died_on`` / ``retired_on`` after it): a
  DECEASED or RETIRED participant is never counted as covered, whatever was paid (:func:`active_at`; the
  rollups' rendering is ``rollup_sql.Dialect.active_month``; docs/adr/0011-regulations-exactly.md §1);
- programmes: active participants holding the programme since on or before the month's last day;
- extreme poor: distinct NIKs flagged extreme-poor in a registry snapshot taken by the month's last day;
  enrolled when linked to a participant registered by then, active when that participant is active;
- budget: contributions each payer paid for the month (the contribution ledger; a payment of n months counts
  1/n of its amount in each), rounded to the rupiah;
- claims submitted / paid within the month (WITA), with the approved amount and the scholarship lines;
  a JKM claim is paid within target when paid by the third working day after its file was verified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import BenefitKind, Claim, ClaimBenefit, ClaimEvent, ClaimStatus
from domain.db import UTCDateTime
from domain.monev import cells, rollup_figures, rollups
from domain.monev.days import local_day, third_working_day_after
from domain.monev.periods import Month
from domain.participants.models import Contribution, FundingSource, Participant, ParticipantProgram
from domain.participants.rules import Program, Segment
from domain.regions.models import THROUGH_LINK, PlacedMixin, PlacedModel, RegionYearFigure, placement_column
from domain.regions.rules import RegionCode, RegionLevel

#: The SQL condition limiting a placed table (or the region table) to what the caller may see: always
#: ``auth.policy.visible`` for the caller, never written here.
Visible = Callable[[PlacedModel], ColumnElement[bool]]

_CHILD_LEVEL = {
    RegionLevel.PROVINCE: RegionLevel.REGENCY,
    RegionLevel.REGENCY: RegionLevel.DISTRICT,
    RegionLevel.DISTRICT: RegionLevel.VILLAGE,
}


@dataclass
class AreaMonth:
    """The figures of one area in one month, before any suppression."""

    counts: cells.Counts = field(default_factory=cells.empty_counts)
    amounts: cells.Amounts = field(default_factory=cells.empty_amounts)


Table = dict[tuple[str, str], AreaMonth]
"""(area code, month key) -> figures."""


@dataclass(frozen=True)
class Denominator:
    employed_population: int | None
    target: Decimal | None


def child_level(region: RegionCode) -> RegionLevel | None:
    return _CHILD_LEVEL.get(region.level)


class _Query:
    """Shared pieces of the statements for one region, its months and its grouping."""

    def __init__(self, region: RegionCode, months: Sequence[Month], visible: Visible, by_child: bool) -> None:
        self.region, self.visible, self.by_child = region, visible, by_child
        level = child_level(region) if by_child else None
        if by_child and level is None:
            raise ValueError(f"{region.code} is a village: it has no sub-regions")
        self.child_level = level
        self.months = _months_cte(months)

    def area(self, model: type[PlacedMixin]) -> list[Any]:
        return [placement_column(model, self.child_level)] if self.child_level is not None else []

    def where(self, model: type[PlacedMixin]) -> ColumnElement[bool]:
        column = placement_column(model, self.region.level)
        return and_(column == self.region.code, self.visible(model))

    def key(self, row: Any) -> tuple[str, str]:
        return (row.area if self.by_child else self.region.code, row.month)


def _months_cte(months: Sequence[Month]) -> CTE:
    rows = [
        select(
            literal(m.key, String(7)).label("month"),
            literal(m.last_day, Date()).label("last_day"),
            literal(m.starts, UTCDateTime()).label("starts"),
            literal(m.ends, UTCDateTime()).label("ends"),
            literal(m.number, Integer()).label("number"),
        )
        for m in months
    ]
    if not rows:
        raise ValueError("no months asked for")
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte("months")


async def _rows(conn: AsyncConnection, stmt: Select[*tuple[Any, ...]]) -> Sequence[Any]:
    result: Sequence[Any] = (await conn.execute(stmt)).all()
    return result


def _grouping(q: _Query, model: type[PlacedMixin], *more: Any) -> tuple[list[Any], list[Any]]:
    """(selected columns, GROUP BY columns): the month, the area when grouping by sub-region, then `more`."""
    plain = [q.months.c.month, *q.area(model), *more]
    labelled = [q.months.c.month.label("month"), *(c.label("area") for c in q.area(model)), *more]
    return labelled, plain


def active_at(p: type[Participant], last_day: Any) -> ColumnElement[bool]:
    """The one definition of "active" on a month's last day: paid through it, alive and not retired at it."""
    return and_(
        p.paid_through >= last_day,
        or_(p.died_on.is_(None), p.died_on > last_day),
        or_(p.retired_on.is_(None), p.retired_on > last_day),
    )


async def _participants(conn: AsyncConnection, q: _Query, table: Table) -> None:
    m, p = q.months.c, Participant
    active = func.sum(case((active_at(p, m.last_day), 1), else_=0))
    group, group_by = _grouping(q, p, p.segment, p.funding_source)
    stmt = (
        select(*group, func.count().label("total"), active.label("active"))
        .select_from(q.months)
        .join(p, p.registered_at < m.ends)
        .where(q.where(p))
        .group_by(*group_by)
    )
    for row in await _rows(conn, stmt):
        counts = table.setdefault(q.key(row), AreaMonth()).counts
        total, act = int(row.total), int(row.active or 0)
        seg, fund = Segment(row.segment), FundingSource(row.funding_source)
        counts[cells.PARTICIPANTS] += total
        counts[cells.ACTIVE] += act
        counts[cells.segment_total(seg)] += total
        counts[cells.segment_active(seg)] += act
        counts[cells.funding_active(fund)] += act


async def _programs(conn: AsyncConnection, q: _Query, table: Table) -> None:
    m, p, pp = q.months.c, Participant, ParticipantProgram
    group, group_by = _grouping(q, p, pp.program)
    stmt = (
        select(*group, func.count().label("active"))
        .select_from(q.months)
        .join(p, and_(p.registered_at < m.ends, active_at(p, m.last_day)))
        .join(pp, and_(pp.participant_id == p.id, pp.since <= m.last_day))
        .where(q.where(p))
        .group_by(*group_by)
    )
    for row in await _rows(conn, stmt):
        table.setdefault(q.key(row), AreaMonth()).counts[cells.program_active(Program(row.program))] += int(row.active)


async def _budget(conn: AsyncConnection, q: _Query, table: Table) -> None:
    """Contributions paid for each month by each payer, from the ledger: a payment of n months counts 1/n of
    its amount in each of them. Attributed to the participants' region, like every other figure."""
    m, p, k = q.months.c, Participant, Contribution
    group, group_by = _grouping(q, p, k.payer)
    per_month = cast(k.amount, Numeric(18, 4)) * literal(1.0, Numeric(18, 4)) / k.months
    stmt = (
        select(*group, func.sum(per_month).label("amount"))
        .select_from(q.months)
        .join(k, and_(k.first_month <= m.number, k.last_month >= m.number))
        .join(p, p.id == k.participant_id)
        .where(q.where(p))
        .group_by(*group_by)
    )
    for row in await _rows(conn, stmt):
        amounts = table.setdefault(q.key(row), AreaMonth()).amounts
        amounts[cells.funding_amount(FundingSource(row.payer))] = Decimal(str(row.amount or 0)).quantize(Decimal(1))


async def _extreme_poor(conn: AsyncConnection, q: _Query, table: Table) -> None:
    m, b, p = q.months.c, PovertyBeneficiary, Participant
    enrolled = and_(p.id.is_not(None), p.registered_at < m.ends)
    group, group_by = _grouping(q, b)
    stmt = (
        select(
            *group,
            func.count(distinct(b.nik)).label("total"),
            func.count(distinct(case((enrolled, b.nik)))).label("enrolled"),
            func.count(distinct(case((and_(enrolled, active_at(p, m.last_day)), b.nik)))).label("active"),
        )
        .select_from(q.months)
        .join(b, b.snapshot_date <= m.last_day)
        .outerjoin(p, p.id == b.participant_id)
        .where(b.extreme_poor.is_(True), q.where(b))
        .group_by(*group_by)
        # Enrolment is a property of the visible beneficiary, wherever the participant it became is registered.
        .execution_options(**{THROUGH_LINK: (Participant.__tablename__,)})
    )
    for row in await _rows(conn, stmt):
        counts = table.setdefault(q.key(row), AreaMonth()).counts
        counts[cells.POOR_TOTAL] = int(row.total)
        counts[cells.POOR_ENROLLED] = int(row.enrolled)
        counts[cells.POOR_ACTIVE] = int(row.active)


async def _claims(conn: AsyncConnection, q: _Query, table: Table) -> None:
    m, c = q.months.c, Claim
    group, group_by = _grouping(q, c, c.program)
    paid_in_month = and_(c.paid_at >= m.starts, c.paid_at < m.ends, c.status == ClaimStatus.PAID)
    submitted = (
        select(*group, func.count().label("n"))
        .select_from(q.months)
        .join(c, and_(c.submitted_at >= m.starts, c.submitted_at < m.ends))
        .where(q.where(c))
        .group_by(*group_by)
    )
    for row in await _rows(conn, submitted):
        table.setdefault(q.key(row), AreaMonth()).counts[cells.claims_submitted(Program(row.program))] += int(row.n)
    paid = (
        select(*group, func.count().label("n"), func.sum(c.amount_approved).label("amount"))
        .select_from(q.months)
        .join(c, paid_in_month)
        .where(q.where(c))
        .group_by(*group_by)
    )
    for row in await _rows(conn, paid):
        figures = table.setdefault(q.key(row), AreaMonth())
        program = Program(row.program)
        figures.counts[cells.claims_paid(program)] += int(row.n)
        figures.amounts[cells.claims_paid_amount(program)] = Decimal(row.amount or 0)
    benefit = ClaimBenefit
    scholarships = (
        select(*group, func.sum(benefit.amount).label("amount"))
        .select_from(q.months)
        .join(c, paid_in_month)
        .join(benefit, and_(benefit.claim_id == c.id, benefit.kind == BenefitKind.SCHOLARSHIP))
        .where(q.where(c))
        .group_by(*group_by)
    )
    for row in await _rows(conn, scholarships):
        amounts = table.setdefault(q.key(row), AreaMonth()).amounts
        amounts[cells.claims_scholarship(Program(row.program))] = Decimal(row.amount or 0)
    await _jkm_within_target(conn, q, table, paid_in_month)


async def _jkm_within_target(conn: AsyncConnection, q: _Query, table: Table, paid_in_month: Any) -> None:
    c, e = Claim, ClaimEvent
    verified = local_day(e.at)
    group, group_by = _grouping(q, c)
    stmt = (
        select(*group, func.count().label("n"))
        .select_from(q.months)
        .join(c, paid_in_month)
        .join(e, and_(e.claim_id == c.id, e.status == ClaimStatus.VERIFIED))
        .where(c.program == Program.JKM, local_day(c.paid_at) <= third_working_day_after(verified), q.where(c))
        .group_by(*group_by)
    )
    within: dict[tuple[str, str], int] = {}
    for row in await _rows(conn, stmt):
        within[q.key(row)] = int(row.n)
    for key, figures in table.items():
        n = within.get(key, 0)
        figures.counts[cells.JKM_WITHIN] = n
        figures.counts[cells.JKM_LATE] = figures.counts[cells.claims_paid(Program.JKM)] - n


async def area_figures(
    conn: AsyncConnection,
    region: RegionCode,
    months: Sequence[Month],
    visible: Visible,
    *,
    by_child: bool = False,
    whole: bool = False,
) -> Table:
    """Figures of `region` (or of each of its sub-regions, `by_child`) for every month, over the visible rows.

    `whole`: the caller sees all of `region`, so its scoping narrows nothing and the stocks and the budget
    can be read from the rollups (domain.monev.rollup_figures) when they are kept and sum to the level
    grouped by. Claims always come from the claims table: a month's claims are a flow within that month,
    read through the time indexes, whatever the length of the history.

    Areas and months without any row are absent; callers add them as zeros where a table needs them.
    """
    q = _Query(region, months, visible, by_child)
    table: Table = {}
    level = q.child_level or region.level
    if whole and level in rollup_figures.ROLLUP_LEVELS and await rollups.maintained(conn):
        await rollup_figures.participants(conn, q, table, AreaMonth)
        await rollup_figures.programs(conn, q, table, AreaMonth)
        await rollup_figures.budget(conn, q, table, AreaMonth)
        await rollup_figures.extreme_poor(conn, q, table, AreaMonth)
    else:
        await _participants(conn, q, table)
        await _programs(conn, q, table)
        await _budget(conn, q, table)
        await _extreme_poor(conn, q, table)
    await _claims(conn, q, table)
    return table


async def denominators(
    conn: AsyncConnection, codes: Sequence[str], years: Sequence[int]
) -> dict[tuple[str, int], Denominator]:
    """Employed population and UCJ target per (region, year), as stored (public figures, never suppressed)."""
    f = RegionYearFigure
    stmt = select(f.region_code, f.year, f.employed_population, f.ucj_target).where(
        f.region_code.in_(list(codes)), f.year.in_(list(years))
    )
    return {
        (row.region_code, row.year): Denominator(row.employed_population, row.ucj_target)
        for row in await _rows(conn, stmt)
    }
