"""The versioned contribution rule table: what a package costs per month, with its regulation.

Only the fixed BPU packages are here (wage-based PU rates are percentages applied by the payment system,
which is outside this service).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from domain.participants.rules import Program


@dataclass(frozen=True, slots=True)
class PackageRule:
    id: str
    programs: frozenset[Program]
    monthly: Decimal
    regulation: str
    effective_from: dt.date


PACKAGES: tuple[PackageRule, ...] = (
    # The cheapest BPU package: JKK Rp10,000 + JKM Rp6,800 a month (lowest income band).
    PackageRule(
        "BPU-JKK-JKM-2021",
        frozenset({Program.JKK, Program.JKM}),
        Decimal("16800"),
        "Permenaker 5/2021",
        dt.date(2021, 2, 2),
    ),
)


def bpu_package(programs: frozenset[Program], on: dt.date) -> PackageRule | None:
    """The package in force on `on` for exactly these programmes, if there is one."""
    rules = [r for r in PACKAGES if r.programs == programs and r.effective_from <= on]
    return max(rules, key=lambda r: r.effective_from) if rules else None
