"""Monev in GraphQL: the coverage and claim figures of a region."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TypeVar

import strawberry

from domain.monev import cells
from domain.monev.periods import is_complete
from domain.monev.tables import Published
from domain.participants.models import FundingSource
from domain.participants.rules import Program, Segment
from schema.core import demand
from schema.core.bounds import FUNDING_SOURCES_SIZE, PROGRAMS_SIZE, SEGMENTS_SIZE
from schema.core.context import Info
from schema.core.enums import FundingSourceEnum, ProgramEnum, SegmentEnum
from schema.regions.types import RegionNode

T = TypeVar("T")

_WITHHELD = " Null when withheld by small-count suppression."


@strawberry.type(description="Participants of one segment in a region.")
class SegmentCoverage:
    segment: SegmentEnum = strawberry.field(description="The segment.")
    total: int | None = strawberry.field(description="Participants registered by the end of the month." + _WITHHELD)
    active: int | None = strawberry.field(description="Of those, paid through the month's last day." + _WITHHELD)


@strawberry.type(description="Active participants holding one programme.")
class ProgramCoverage:
    program: ProgramEnum = strawberry.field(description="The programme.")
    active: int | None = strawberry.field(description="Active participants holding it." + _WITHHELD)


@strawberry.type(description="Active participants by who pays their contributions.")
class FundingCoverage:
    funding_source: FundingSourceEnum = strawberry.field(description="Who pays (APBD = the regional budget).")
    active: int | None = strawberry.field(description="Active participants paid for by this source." + _WITHHELD)
    monthly_amount: Decimal | None = strawberry.field(
        description="Contributions this source paid for the month, in rupiah, from the contribution ledger; null "
        "when unknown or withheld."
    )


@strawberry.type(description="Extreme-poor people on the registries (Inpres 4/2022) and their enrolment.")
class ExtremePoorCoverage:
    total: int | None = strawberry.field(description="Distinct extreme-poor people on a registry snapshot." + _WITHHELD)
    enrolled: int | None = strawberry.field(description="Of those, enrolled as participants." + _WITHHELD)
    active: int | None = strawberry.field(description="Of those, actively covered." + _WITHHELD)
    enrollment_rate: float | None = strawberry.field(description="enrolled / total, 0-1." + _WITHHELD)


@strawberry.type(description="Claims of one programme paid in the month.")
class ClaimFigure:
    program: ProgramEnum = strawberry.field(description="The programme.")
    count: int | None = strawberry.field(description="Claims paid in the month (WITA)." + _WITHHELD)
    paid_amount: Decimal | None = strawberry.field(description="Total paid, rupiah." + _WITHHELD)
    scholarship_amount: Decimal | None = strawberry.field(
        description="Of which scholarships for the heirs' children, rupiah." + _WITHHELD
    )


@strawberry.type(
    name="Coverage",
    description="Monev figures of one region at the end of one month: UCJ coverage against the employed "
    "population and target, by segment, programme and funding, extreme-poor enrolment and claims paid.",
)
class CoverageType:
    region_code: strawberry.Private[str]
    as_of: dt.date = strawberry.field(
        description="The day the figures run to: the date asked about (coverage), or the month's last day, or "
        "today for the current month (coverageTrend)."
    )
    month: str = strawberry.field(description="The month the figures are for, YYYY-MM.")
    complete: bool = strawberry.field(
        description="False for the current month: it has not ended, so its figures are month-to-date (to asOf)."
    )
    employed_population: int | None = strawberry.field(
        description="BPS employed population of the region for the year of asOf; null when not on record."
    )
    target: float | None = strawberry.field(description="UCJ target of the year (share 0-1), e.g. 0.62.")
    participants: int | None = strawberry.field(description="Participants registered by the month's end." + _WITHHELD)
    active_participants: int | None = strawberry.field(
        description="Participants paid through the month's last day." + _WITHHELD
    )
    coverage_rate: float | None = strawberry.field(
        description="UCJ: active participants / employed population, 0-1." + _WITHHELD
    )
    gap_to_target: float | None = strawberry.field(description="target - coverageRate (positive: below target).")
    by_segment: list[SegmentCoverage] = strawberry.field(
        description="Per segment (PU, BPU, JAKON, PMI).", directives=demand.bounded(SEGMENTS_SIZE)
    )
    by_program: list[ProgramCoverage] = strawberry.field(
        description="Active participants per programme.", directives=demand.bounded(PROGRAMS_SIZE)
    )
    by_funding: list[FundingCoverage] = strawberry.field(
        description="Active participants per funding source; APBD = paid by the regional budget.",
        directives=demand.bounded(FUNDING_SOURCES_SIZE),
    )
    extreme_poor: ExtremePoorCoverage = strawberry.field(description="Extreme-poor registry people and enrolment.")
    claims: list[ClaimFigure] = strawberry.field(
        description="Claims paid in the month, per programme.", directives=demand.bounded(PROGRAMS_SIZE)
    )
    suppressed: bool = strawberry.field(
        description="True when at least one count here is withheld (null) because it is below the suppression "
        "threshold, or would let a withheld count be recomputed from the others."
    )

    @strawberry.field(description="The region.")
    async def region(self, info: Info) -> RegionNode | None:
        row = await info.context.loaders.region.load(self.region_code)
        return RegionNode.from_row(row) if row else None

    @classmethod
    def from_published(cls, p: Published, as_of: dt.date) -> CoverageType:
        c, a = p.counts, p.amounts
        return cls(
            region_code=p.code,
            as_of=as_of,
            month=p.month.key,
            complete=is_complete(p.month),
            employed_population=p.denominator.employed_population,
            target=float(p.denominator.target) if p.denominator.target is not None else None,
            participants=c[cells.PARTICIPANTS],
            active_participants=c[cells.ACTIVE],
            coverage_rate=p.coverage_rate,
            gap_to_target=p.gap_to_target,
            by_segment=[
                SegmentCoverage(segment=s, total=c[cells.segment_total(s)], active=c[cells.segment_active(s)])
                for s in Segment
            ],
            by_program=[ProgramCoverage(program=g, active=c[cells.program_active(g)]) for g in Program],
            by_funding=[
                FundingCoverage(
                    funding_source=f, active=c[cells.funding_active(f)], monthly_amount=a[cells.funding_amount(f)]
                )
                for f in FundingSource
            ],
            extreme_poor=ExtremePoorCoverage(
                total=c[cells.POOR_TOTAL],
                enrolled=c[cells.POOR_ENROLLED],
                active=c[cells.POOR_ACTIVE],
                enrollment_rate=p.enrollment_rate,
            ),
            claims=[
                ClaimFigure(
                    program=g,
                    count=c[cells.claims_paid(g)],
                    paid_amount=a[cells.claims_paid_amount(g)],
                    scholarship_amount=a[cells.claims_scholarship(g)],
                )
                for g in Program
            ],
            suppressed=p.suppressed,
        )


@strawberry.type(description="Claims of one programme in one month of one region.")
class ClaimStat:
    month: str = strawberry.field(description="YYYY-MM (months run on WITA time).")
    as_of: dt.date = strawberry.field(
        description="The day the row's figures run to: the month's last day, or today for the current month (a "
        "`to` after today is taken as today)."
    )
    complete: bool = strawberry.field(description="False for the current month: its figures are month-to-date.")
    program: ProgramEnum = strawberry.field(description="The programme.")
    submitted: int | None = strawberry.field(description="Claims received in the month." + _WITHHELD)
    paid: int | None = strawberry.field(description="Claims paid in the month." + _WITHHELD)
    paid_amount: Decimal | None = strawberry.field(description="Total paid, rupiah." + _WITHHELD)
    scholarship_amount: Decimal | None = strawberry.field(description="Of which scholarships, rupiah." + _WITHHELD)
    paid_within_target: float | None = strawberry.field(
        description="JKM only: share (0-1) of the claims paid in the month that were paid by the third working "
        "day after their file was verified (weekends excluded, public holidays not). Null for other programmes, "
        "with no paid claim, or when withheld."
    )
    suppressed: bool = strawberry.field(description="True when a figure of this row is withheld.")
