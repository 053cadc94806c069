"""The cells of a Monev table: every count a region-month carries, named, and how they add up.

A region's figures for one month are a flat mapping of cell name to count (plus money amounts that ride on a
count: a claim's paid amount is shown only when its count is). Flat names let one suppression routine treat
every figure alike, whatever type the API, a report or the dashboard later builds from them.
"""

from __future__ import annotations

from decimal import Decimal

from domain.participants.models import FundingSource
from domain.participants.rules import Program, Segment

Counts = dict[str, int]
Amounts = dict[str, Decimal | None]

PARTICIPANTS = "participants"
ACTIVE = "active"
POOR_TOTAL = "poor:total"
POOR_ENROLLED = "poor:enrolled"
POOR_ACTIVE = "poor:active"
JKM_WITHIN = "claims:JKM:within"
JKM_LATE = "claims:JKM:late"


def segment_total(s: Segment) -> str:
    return f"segment:{s.value}:total"


def segment_active(s: Segment) -> str:
    return f"segment:{s.value}:active"


def program_active(p: Program) -> str:
    return f"program:{p.value}:active"


def funding_active(f: FundingSource) -> str:
    return f"funding:{f.value}:active"


def funding_amount(f: FundingSource) -> str:
    return f"funding:{f.value}:amount"


def claims_submitted(p: Program) -> str:
    return f"claims:{p.value}:submitted"


def claims_paid(p: Program) -> str:
    return f"claims:{p.value}:paid"


def claims_paid_amount(p: Program) -> str:
    return f"claims:{p.value}:paidAmount"


def claims_scholarship(p: Program) -> str:
    return f"claims:{p.value}:scholarship"


#: Every count cell, in a stable order.
COUNT_CELLS: tuple[str, ...] = (
    PARTICIPANTS,
    ACTIVE,
    *(c for s in Segment for c in (segment_total(s), segment_active(s))),
    *(program_active(p) for p in Program),
    *(funding_active(f) for f in FundingSource),
    POOR_TOTAL,
    POOR_ENROLLED,
    POOR_ACTIVE,
    *(c for p in Program for c in (claims_submitted(p), claims_paid(p))),
    JKM_WITHIN,
    JKM_LATE,
)

#: Money amounts and the count each one follows: hidden whenever that count is.
AMOUNT_FOLLOWS: dict[str, str] = {
    **{funding_amount(f): funding_active(f) for f in FundingSource},
    **{claims_paid_amount(p): claims_paid(p) for p in Program},
    **{claims_scholarship(p): claims_paid(p) for p in Program},
}

#: Additive relations inside one region-month: (total, parts) with total = sum(parts). Each participant
#: has one segment and one funding source; a paid JKM claim was paid either within the target or late.
ROW_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PARTICIPANTS, tuple(segment_total(s) for s in Segment)),
    (ACTIVE, tuple(segment_active(s) for s in Segment)),
    (ACTIVE, tuple(funding_active(f) for f in FundingSource)),
    (claims_paid(Program.JKM), (JKM_WITHIN, JKM_LATE)),
)


def empty_counts() -> Counts:
    return dict.fromkeys(COUNT_CELLS, 0)


def empty_amounts() -> Amounts:
    return dict.fromkeys(AMOUNT_FOLLOWS, Decimal(0))
