"""The versioned benefit rule table: every benefit figure lives here, with its regulation and effective date.

A rule is either a fixed amount or a multiple (or share) of the monthly wage. When a regulation changes an
amount, add a row with the new effective date; old claims keep the rule that applied on their incident date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from domain.claims.models import BenefitKind, EducationLevel
from domain.participants.rules import Program


@dataclass(frozen=True, slots=True)
class BenefitRule:
    id: str
    program: Program
    kind: BenefitKind
    regulation: str
    effective_from: dt.date
    amount: Decimal | None = None  # a fixed amount in rupiah
    wage_multiple: Decimal | None = None  # or this many times the monthly wage
    education_level: EducationLevel | None = None
    max_years: int | None = None  # scholarships: years paid at this level
    cap: Decimal | None = None  # an upper bound on the computed amount


_PP82 = "PP 82/2019"
_PP82_FROM = dt.date(2019, 12, 2)
_M = Decimal(1_000_000)

RULES: tuple[BenefitRule, ...] = (
    # JKM, non-work death: Rp42M = 20M lump sum + 12M periodic (24 months paid at once) + 10M funeral.
    BenefitRule("JKM-LUMP-2019", Program.JKM, BenefitKind.LUMP_SUM, _PP82, _PP82_FROM, amount=20 * _M),
    BenefitRule("JKM-PERIODIC-2019", Program.JKM, BenefitKind.PERIODIC, _PP82, _PP82_FROM, amount=12 * _M),
    BenefitRule("JKM-FUNERAL-2019", Program.JKM, BenefitKind.FUNERAL, _PP82, _PP82_FROM, amount=10 * _M),
    # JKK: death 48 x wage, total permanent disability 56 x wage.
    BenefitRule("JKK-DEATH-2019", Program.JKK, BenefitKind.DEATH, _PP82, _PP82_FROM, wage_multiple=Decimal(48)),
    BenefitRule(
        "JKK-DISABILITY-2019",
        Program.JKK,
        BenefitKind.DISABILITY,
        _PP82,
        _PP82_FROM,
        wage_multiple=Decimal(56),
    ),
    # JKP: 60 % of wage (wage capped at Rp5M) for up to 6 months, per PP 6/2025.
    BenefitRule(
        "JKP-MONTHLY-2025",
        Program.JKP,
        BenefitKind.JOB_LOSS,
        "PP 6/2025",
        dt.date(2025, 2, 7),
        wage_multiple=Decimal("0.60"),
        cap=Decimal("0.60") * 5 * _M,
        max_years=None,
    ),
    # Scholarships, per child per year, with JKK death/total disability and with JKM after 36 months.
    *(
        BenefitRule(
            f"{program.value}-SCHOLARSHIP-{level.value}-2019",
            program,
            BenefitKind.SCHOLARSHIP,
            _PP82,
            _PP82_FROM,
            amount=amount,
            education_level=level,
            max_years=years,
        )
        for program in (Program.JKK, Program.JKM)
        for level, amount, years in (
            (EducationLevel.TK, Decimal("1500000"), 2),
            (EducationLevel.SD, Decimal("1500000"), 6),
            (EducationLevel.SMP, 2 * _M, 3),
            (EducationLevel.SMA, 3 * _M, 3),
            (EducationLevel.UNIVERSITY, 12 * _M, 5),
        )
    ),
)

#: Benefits computed from the wage, and the programmes that pay them: their amounts reveal the wage, so they
#: are personal data like the wage itself.
WAGE_BASED_KINDS = frozenset(r.kind for r in RULES if r.wage_multiple is not None)
WAGE_BASED_PROGRAMS = frozenset(r.program for r in RULES if r.wage_multiple is not None)

#: Scholarship limits: at most this many children, at most this much in total for them.
SCHOLARSHIP_MAX_CHILDREN = 2
SCHOLARSHIP_TOTAL_CAP = 174 * _M
#: JKM pays a scholarship only when the participant had at least this many contribution months.
JKM_SCHOLARSHIP_MIN_MONTHS = 36


class NoRule(LookupError):
    """No benefit rule covers the programme, kind and date asked for."""


def rule_for(
    program: Program, kind: BenefitKind, on: dt.date, education_level: EducationLevel | None = None
) -> BenefitRule:
    """The rule in force on `on`: the matching row with the latest effective date not after it."""
    candidates = [
        r
        for r in RULES
        if r.program is program and r.kind is kind and r.education_level is education_level and r.effective_from <= on
    ]
    if not candidates:
        level = f" at level {education_level.value}" if education_level else ""
        raise NoRule(f"no {program.value} {kind.value} rule{level} in force on {on.isoformat()}")
    return max(candidates, key=lambda r: r.effective_from)


def amount_of(rule: BenefitRule, monthly_wage: Decimal | None = None) -> Decimal:
    """The rupiah amount a rule gives, for the wage when the rule is wage-based."""
    if rule.amount is not None:
        value = rule.amount
    else:
        if monthly_wage is None or rule.wage_multiple is None:
            raise ValueError(f"rule {rule.id} is wage-based; a monthly wage is needed")
        value = (monthly_wage * rule.wage_multiple).quantize(Decimal("1"))
    return min(value, rule.cap) if rule.cap is not None else value


def death_benefits(program: Program, on: dt.date, monthly_wage: Decimal | None) -> list[tuple[BenefitRule, Decimal]]:
    """The death benefit lines of a JKM or JKK death claim (scholarships are computed per child)."""
    if program is Program.JKM:
        kinds = (BenefitKind.LUMP_SUM, BenefitKind.PERIODIC, BenefitKind.FUNERAL)
        return [(r, amount_of(r)) for r in (rule_for(Program.JKM, k, on) for k in kinds)]
    if program is Program.JKK:
        rule = rule_for(Program.JKK, BenefitKind.DEATH, on)
        return [(rule, amount_of(rule, monthly_wage))]
    raise ValueError(f"{program.value} has no death benefit")


def scholarship_years(
    program: Program, on: dt.date, children: list[EducationLevel]
) -> list[tuple[BenefitRule, Decimal]]:
    """One year's scholarship for each child (at most two), within the total cap over all years.

    Returns the rule and this year's amount per child, in the order given.
    """
    if len(children) > SCHOLARSHIP_MAX_CHILDREN:
        raise ValueError(f"a scholarship covers at most {SCHOLARSHIP_MAX_CHILDREN} children; {len(children)} given")
    return [
        (rule, amount_of(rule))
        for rule in (rule_for(program, BenefitKind.SCHOLARSHIP, on, level) for level in children)
    ]


def scholarship_lifetime_per_child(program: Program, on: dt.date) -> Decimal:
    """What one child can receive over a whole schooling (Rp87M under PP 82/2019)."""
    total = Decimal(0)
    for level in EducationLevel:
        rule = rule_for(program, BenefitKind.SCHOLARSHIP, on, level)
        total += amount_of(rule) * (rule.max_years or 0)
    return total
