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
    max_years: int | None = None  # scholarships: years paid in this rule's band of levels
    #: Scholarships: levels sharing one count of years (PP 82/2019: TK up to SD is one band of 8 years).
    band: str | None = None
    cap: Decimal | None = None  # an upper bound on the computed amount
    floor: Decimal | None = None  # a lower bound on the computed amount
    #: Benefits paid per month of a period: (months, share of the wage) in order; the wage is capped at
    #: `wage_cap` (JKP) and the months come from the claim (temporary inability) or the rule (JKP).
    tiers: tuple[tuple[int | None, Decimal], ...] = ()
    wage_cap: Decimal | None = None
    #: Contribution months a participant needs for this rule (JP: a monthly pension after 180 months).
    min_months: int | None = None
    #: A claim must be made within this many months of the incident (JKP: of the dismissal).
    claim_window_months: int | None = None


_PP82 = "PP 82/2019"
_PP82_FROM = dt.date(2019, 12, 2)
_M = Decimal(1_000_000)

#: JP began on this day (PP 45/2015): no month before it is a JP contribution month.
JP_START = dt.date(2015, 7, 1)

RULES: tuple[BenefitRule, ...] = (
    # JKM, non-work death: Rp42M = 20M lump sum + 12M periodic (24 months paid at once) + 10M funeral.
    BenefitRule("JKM-LUMP-2019", Program.JKM, BenefitKind.LUMP_SUM, _PP82, _PP82_FROM, amount=20 * _M),
    BenefitRule("JKM-PERIODIC-2019", Program.JKM, BenefitKind.PERIODIC, _PP82, _PP82_FROM, amount=12 * _M),
    BenefitRule("JKM-FUNERAL-2019", Program.JKM, BenefitKind.FUNERAL, _PP82, _PP82_FROM, amount=10 * _M),
    # JKK death: 48 x wage (60 % x 80 months), at least the JKM lump sum, plus periodic Rp12M (24 x Rp500,000,
    # paid at once) and funeral Rp10M; scholarships with it need no minimum contribution period.
    BenefitRule(
        "JKK-DEATH-2019", Program.JKK, BenefitKind.DEATH, _PP82, _PP82_FROM, wage_multiple=Decimal(48), floor=20 * _M
    ),
    BenefitRule("JKK-PERIODIC-2019", Program.JKK, BenefitKind.PERIODIC, _PP82, _PP82_FROM, amount=12 * _M),
    BenefitRule("JKK-FUNERAL-2019", Program.JKK, BenefitKind.FUNERAL, _PP82, _PP82_FROM, amount=10 * _M),
    # JKK temporary inability to work: 100 % of the wage for the first 12 months, 50 % after that.
    BenefitRule(
        "JKK-INABILITY-2019",
        Program.JKK,
        BenefitKind.TEMPORARY_INABILITY,
        _PP82,
        _PP82_FROM,
        tiers=((12, Decimal(1)), (None, Decimal("0.5"))),
    ),
    # JKK total permanent disability: 56 x wage.
    BenefitRule(
        "JKK-DISABILITY-2019",
        Program.JKK,
        BenefitKind.DISABILITY,
        _PP82,
        _PP82_FROM,
        wage_multiple=Decimal(56),
    ),
    # JKP, PP 37/2021 as first enacted: 45 % of the wage for 3 months, then 25 % for 3 (wage capped at Rp5M);
    # the right lapses when no claim is made within 3 months of the dismissal (art. 40).
    BenefitRule(
        "JKP-MONTHLY-2021",
        Program.JKP,
        BenefitKind.JOB_LOSS,
        "PP 37/2021",
        dt.date(2021, 2, 2),
        tiers=((3, Decimal("0.45")), (3, Decimal("0.25"))),
        wage_cap=5 * _M,
        claim_window_months=3,
    ),
    # JKP from 7 February 2025 (PP 6/2025): 60 % of the wage (capped at Rp5M) for 6 months (art. 21); a claim
    # within 6 months of the dismissal (art. 40 as amended).
    BenefitRule(
        "JKP-MONTHLY-2025",
        Program.JKP,
        BenefitKind.JOB_LOSS,
        "PP 6/2025",
        dt.date(2025, 2, 7),
        tiers=((6, Decimal("0.60")),),
        wage_cap=5 * _M,
        claim_window_months=6,
    ),
    # JP: a monthly pension needs 180 contribution months *of JP* (from JP's start, 2015-07-01, and the
    # participant's JP enrolment), counted up to and including the month of the incident; with fewer the
    # contributions and their returns are paid as a lump sum (PP 45/2015 art. 15, 17). Amounts come from the
    # pension account, so the claim states them.
    BenefitRule("JP-PENSION-2015", Program.JP, BenefitKind.PENSION, "PP 45/2015", JP_START, min_months=180),
    BenefitRule("JP-LUMP-SUM-2015", Program.JP, BenefitKind.LUMP_SUM, "PP 45/2015", JP_START),
    # Scholarships, per child per year, with JKK death/total disability and with JKM after 36 months. PP 82/2019
    # (art. 25, 34A): "taman kanak-kanak sampai dengan sekolah dasar" Rp1.5M a year for at most 8 years -- one
    # band for TK and SD together (docs/domain.md, open questions) -- SMP Rp2M for 3, SMA Rp3M for 3, university
    # or training Rp12M for 5: Rp87M per child.
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
            band=band,
        )
        for program in (Program.JKK, Program.JKM)
        for level, amount, years, band in (
            (EducationLevel.TK, Decimal("1500000"), 8, "TK-SD"),
            (EducationLevel.SD, Decimal("1500000"), 8, "TK-SD"),
            (EducationLevel.SMP, 2 * _M, 3, "SMP"),
            (EducationLevel.SMA, 3 * _M, 3, "SMA"),
            (EducationLevel.UNIVERSITY, 12 * _M, 5, "UNIVERSITY"),
        )
    ),
)

#: Benefits computed from the wage, and the programmes that pay them: their amounts reveal the wage, so they
#: are personal data like the wage itself.
WAGE_BASED_PROGRAMS = frozenset(r.program for r in RULES if r.wage_multiple is not None or r.tiers)


@dataclass(frozen=True, slots=True)
class AgeRule:
    """The age at which a programme's old-age benefit starts, from a date on (the age in force on the incident
    date applies)."""

    program: Program
    age: int
    regulation: str
    effective_from: dt.date


def _jp_pension_ages() -> tuple[AgeRule, ...]:
    """PP 45/2015 art. 15: the JP pension age is 56 at first (para. 1), 57 from 1 January 2019 (para. 2), then
    one year more every three years until it reaches 65 (para. 3): 58 in 2022, 59 in 2025, 60 in 2028 ... 65
    in 2043."""
    ages = [AgeRule(Program.JP, 56, "PP 45/2015 art. 15(1)", JP_START)]
    ages += [
        AgeRule(Program.JP, 57 + k, f"PP 45/2015 art. 15({2 if k == 0 else 3})", dt.date(2019 + 3 * k, 1, 1))
        for k in range(65 - 57 + 1)
    ]
    return tuple(ages)


AGE_RULES: tuple[AgeRule, ...] = (
    # JHT is paid at retirement age 56 (PP 46/2015 art. 26, as amended by PP 60/2015); it does not move.
    AgeRule(Program.JHT, 56, "PP 46/2015", dt.date(2015, 7, 1)),
    *_jp_pension_ages(),
)


def retirement_age(program: Program, on: dt.date) -> AgeRule:
    """The old-age rule of `program` in force on `on` (the latest row not after it)."""
    candidates = [r for r in AGE_RULES if r.program is program and r.effective_from <= on]
    if not candidates:
        raise NoRule(f"no {program.value} retirement age in force on {on.isoformat()}")
    return max(candidates, key=lambda r: r.effective_from)


#: Scholarship limits: at most this many children, at most this much in total for them.
SCHOLARSHIP_MAX_CHILDREN = 2
SCHOLARSHIP_TOTAL_CAP = 174 * _M
#: JKM pays a scholarship only when the participant had at least this many contribution months, counted up to
#: and including the month of the death (PP 82/2019 art. 34A; months paid in advance do not count).
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


def amount_of(rule: BenefitRule, monthly_wage: Decimal | None = None, months: int | None = None) -> Decimal:
    """The rupiah amount a rule gives, for the wage when the rule is wage-based (and, for a rule paid per month
    whose last tier is open-ended, for `months` months)."""
    if rule.amount is not None:
        value = rule.amount
    elif rule.tiers:
        if monthly_wage is None:
            raise ValueError(f"rule {rule.id} is wage-based; a monthly wage is needed")
        value = sum(monthly_amounts(rule, monthly_wage, months), Decimal(0))
    else:
        if monthly_wage is None or rule.wage_multiple is None:
            raise ValueError(f"rule {rule.id} is wage-based; a monthly wage is needed")
        value = (monthly_wage * rule.wage_multiple).quantize(Decimal("1"))
    if rule.floor is not None:
        value = max(value, rule.floor)
    return min(value, rule.cap) if rule.cap is not None else value


def monthly_amounts(rule: BenefitRule, monthly_wage: Decimal, months: int | None = None) -> list[Decimal]:
    """Month by month, what a rule paid per month gives (JKP, temporary inability), each rounded to rupiah."""
    wage = min(monthly_wage, rule.wage_cap) if rule.wage_cap is not None else monthly_wage
    left = months if months is not None else sum(m or 0 for m, _ in rule.tiers)
    result: list[Decimal] = []
    for tier_months, share in rule.tiers:
        paid = left if tier_months is None else min(left, tier_months)
        result += [(wage * share).quantize(Decimal("1"))] * paid
        left -= paid
    return result


def death_benefits(program: Program, on: dt.date, monthly_wage: Decimal | None) -> list[tuple[BenefitRule, Decimal]]:
    """The death benefit lines of a JKM or JKK death claim (scholarships are computed per child)."""
    if program is Program.JKM:
        kinds = (BenefitKind.LUMP_SUM, BenefitKind.PERIODIC, BenefitKind.FUNERAL)
        return [(r, amount_of(r)) for r in (rule_for(Program.JKM, k, on) for k in kinds)]
    if program is Program.JKK:
        death = rule_for(Program.JKK, BenefitKind.DEATH, on)
        fixed = [rule_for(Program.JKK, k, on) for k in (BenefitKind.PERIODIC, BenefitKind.FUNERAL)]
        return [(death, amount_of(death, monthly_wage)), *((r, amount_of(r)) for r in fixed)]
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
    """What one child can receive over a whole schooling (Rp87M under PP 82/2019): each band's years once."""
    total, seen = Decimal(0), set()
    for level in EducationLevel:
        rule = rule_for(program, BenefitKind.SCHOLARSHIP, on, level)
        if rule.band in seen:
            continue
        seen.add(rule.band)
        total += amount_of(rule) * (rule.max_years or 0)
    return total


def scholarship_band(program: Program, on: dt.date, level: EducationLevel) -> str | None:
    """The band of levels whose years are counted together with `level`'s."""
    return rule_for(program, BenefitKind.SCHOLARSHIP, on, level).band
