"""The versioned benefit rule table and the amounts it gives (docs/domain.md, "Claims")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from domain.claims import benefits
from domain.claims.benefits import (
    JKM_SCHOLARSHIP_MIN_MONTHS,
    RULES,
    SCHOLARSHIP_MAX_CHILDREN,
    SCHOLARSHIP_TOTAL_CAP,
    BenefitRule,
    NoRule,
    amount_of,
    death_benefits,
    monthly_amounts,
    rule_for,
    scholarship_lifetime_per_child,
    scholarship_years,
)
from domain.claims.models import BenefitKind, EducationLevel
from domain.participants.rules import Program

M = Decimal(1_000_000)
ON = dt.date(2025, 6, 15)
PP82_FROM = dt.date(2019, 12, 2)
JKP_FROM = dt.date(2025, 2, 7)
SCHOLARSHIP_PROGRAMS = [Program.JKK, Program.JKM]


# --- the table itself -----------------------------------------------------------------------------


def test_rule_ids_are_unique() -> None:
    # A claim line stores the id of the rule its amount came from; it must name exactly one rule.
    ids = [r.id for r in RULES]
    assert sorted(i for i in ids if ids.count(i) > 1) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_id_names_its_programme_and_fits_the_column(rule: BenefitRule) -> None:
    assert rule.id.startswith(f"{rule.program.value}-")
    assert len(rule.id) <= 40  # claim_benefits.rule_id is String(40)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_a_regulation_an_effective_date_and_exactly_one_basis(rule: BenefitRule) -> None:
    assert rule.regulation.startswith(("PP ", "Permenaker "))
    assert isinstance(rule.effective_from, dt.date)
    bases = [rule.amount is not None, rule.wage_multiple is not None, bool(rule.tiers)]
    if rule.program is Program.JP:
        assert bases == [False, False, False]  # the amount comes from the pension account, stated by the claim
    else:
        assert sum(bases) == 1
    assert (rule.kind is BenefitKind.SCHOLARSHIP) == (rule.education_level is not None)


# --- JKM: non-work death --------------------------------------------------------------------------


def test_jkm_death_is_42_million_split_20_12_10() -> None:
    lines = death_benefits(Program.JKM, ON, None)
    assert [(rule.kind, amount) for rule, amount in lines] == [
        (BenefitKind.LUMP_SUM, 20 * M),
        (BenefitKind.PERIODIC, 12 * M),
        (BenefitKind.FUNERAL, 10 * M),
    ]
    assert sum(amount for _, amount in lines) == Decimal(42_000_000)


@pytest.mark.parametrize("wage", [None, Decimal(1), Decimal(50_000_000)])
def test_jkm_death_does_not_depend_on_wage(wage: Decimal | None) -> None:
    assert sum(a for _, a in death_benefits(Program.JKM, ON, wage)) == 42 * M


@pytest.mark.parametrize(
    ("kind", "amount"),
    [(BenefitKind.LUMP_SUM, 20 * M), (BenefitKind.PERIODIC, 12 * M), (BenefitKind.FUNERAL, 10 * M)],
)
def test_jkm_rules_carry_their_regulation(kind: BenefitKind, amount: Decimal) -> None:
    rule = rule_for(Program.JKM, kind, ON)
    assert rule.regulation == "PP 82/2019"
    assert rule.effective_from == PP82_FROM
    assert amount_of(rule) == amount


# --- JKK: work accident ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wage", "expected"),
    [
        (Decimal(3_000_000), Decimal(144_000_000)),
        (Decimal(2_500_000), Decimal(120_000_000)),
        (Decimal(1_000_000), Decimal(48_000_000)),  # the cheapest BPU package's declared income
        (Decimal(1), 20 * M),  # at least the JKM lump sum
        (Decimal("1234567.89"), Decimal(59_259_259)),  # 59,259,258.72 rounded to the rupiah
    ],
)
def test_jkk_death_is_48_times_wage_plus_periodic_and_funeral(wage: Decimal, expected: Decimal) -> None:
    lines = death_benefits(Program.JKK, ON, wage)
    assert [(rule.kind, amount) for rule, amount in lines] == [
        (BenefitKind.DEATH, expected),
        (BenefitKind.PERIODIC, 12 * M),
        (BenefitKind.FUNERAL, 10 * M),
    ]
    assert lines[0][0].wage_multiple == 48
    assert {rule.regulation for rule, _ in lines} == {"PP 82/2019"}


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (1, Decimal(3_000_000)),
        (12, Decimal(36_000_000)),  # 100 % for the first 12 months
        (13, Decimal(37_500_000)),  # then 50 %
        (18, Decimal(45_000_000)),
    ],
)
def test_jkk_temporary_inability_is_full_wage_for_12_months_then_half(months: int, expected: Decimal) -> None:
    rule = rule_for(Program.JKK, BenefitKind.TEMPORARY_INABILITY, ON)
    assert rule.regulation == "PP 82/2019"
    assert amount_of(rule, Decimal(3_000_000), months) == expected


@pytest.mark.parametrize(("wage", "expected"), [(Decimal(3_000_000), 168 * M), (Decimal(5_000_000), 280 * M)])
def test_jkk_total_disability_is_56_times_wage(wage: Decimal, expected: Decimal) -> None:
    assert amount_of(rule_for(Program.JKK, BenefitKind.DISABILITY, ON), wage) == expected


def test_jkk_death_needs_a_wage() -> None:
    with pytest.raises(ValueError, match="monthly wage is needed"):
        death_benefits(Program.JKK, ON, None)


@pytest.mark.parametrize("program", [Program.JHT, Program.JP, Program.JKP])
def test_other_programmes_have_no_death_benefit(program: Program) -> None:
    with pytest.raises(ValueError, match="has no death benefit"):
        death_benefits(program, ON, Decimal(3_000_000))


# --- scholarships ---------------------------------------------------------------------------------


#: PP 82/2019: TK up to SD is one band of 8 years (TK and SD years are counted together).
LEVELS = [
    (EducationLevel.TK, Decimal(1_500_000), 8),
    (EducationLevel.SD, Decimal(1_500_000), 8),
    (EducationLevel.SMP, Decimal(2_000_000), 3),
    (EducationLevel.SMA, Decimal(3_000_000), 3),
    (EducationLevel.UNIVERSITY, Decimal(12_000_000), 5),
]


@pytest.mark.parametrize("program", SCHOLARSHIP_PROGRAMS)
@pytest.mark.parametrize(("level", "amount", "years"), LEVELS)
def test_scholarship_per_level(program: Program, level: EducationLevel, amount: Decimal, years: int) -> None:
    rule = rule_for(program, BenefitKind.SCHOLARSHIP, ON, level)
    assert rule.education_level is level
    assert amount_of(rule) == amount
    assert rule.max_years == years


def test_every_education_level_has_a_scholarship() -> None:
    assert {level for level, _, _ in LEVELS} == set(EducationLevel)


@pytest.mark.parametrize("program", SCHOLARSHIP_PROGRAMS)
def test_lifetime_scholarship_per_child_is_87_million(program: Program) -> None:
    assert scholarship_lifetime_per_child(program, ON) == Decimal(87_000_000)


def test_scholarship_limits() -> None:
    assert SCHOLARSHIP_MAX_CHILDREN == 2
    assert Decimal(174_000_000) == SCHOLARSHIP_TOTAL_CAP
    assert SCHOLARSHIP_MAX_CHILDREN * scholarship_lifetime_per_child(Program.JKK, ON) == SCHOLARSHIP_TOTAL_CAP
    assert JKM_SCHOLARSHIP_MIN_MONTHS == 36


@pytest.mark.parametrize("program", SCHOLARSHIP_PROGRAMS)
@pytest.mark.parametrize(
    ("children", "amounts"),
    [
        ([], []),
        ([EducationLevel.SD], [Decimal(1_500_000)]),
        ([EducationLevel.UNIVERSITY, EducationLevel.TK], [12 * M, Decimal(1_500_000)]),
        ([EducationLevel.SMA, EducationLevel.SMA], [3 * M, 3 * M]),
        ([EducationLevel.SMP, EducationLevel.UNIVERSITY], [2 * M, 12 * M]),
    ],
)
def test_scholarship_year_for_up_to_two_children_in_order(
    program: Program, children: list[EducationLevel], amounts: list[Decimal]
) -> None:
    lines = scholarship_years(program, ON, children)
    assert [amount for _, amount in lines] == amounts
    assert [rule.education_level for rule, _ in lines] == children


@pytest.mark.parametrize("program", SCHOLARSHIP_PROGRAMS)
@pytest.mark.parametrize("count", [3, 4])
def test_more_than_two_children_are_refused(program: Program, count: int) -> None:
    with pytest.raises(ValueError, match="at most 2 children"):
        scholarship_years(program, ON, [EducationLevel.SD] * count)


@pytest.mark.parametrize("program", [Program.JHT, Program.JP, Program.JKP])
def test_no_scholarship_outside_jkk_and_jkm(program: Program) -> None:
    with pytest.raises(NoRule):
        scholarship_years(program, ON, [EducationLevel.SD])


# --- JKP: job loss --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wage", "monthly"),
    [
        (Decimal(2_000_000), Decimal(1_200_000)),
        (Decimal(4_000_000), Decimal(2_400_000)),
        (Decimal(4_999_999), Decimal(2_999_999)),  # 2,999,999.4 rounded
        (Decimal(5_000_000), Decimal(3_000_000)),
        (Decimal(5_000_001), Decimal(3_000_000)),  # wage above the Rp5M cap
        (Decimal(20_000_000), Decimal(3_000_000)),
    ],
)
def test_jkp_is_60_percent_of_wage_capped_at_5_million(wage: Decimal, monthly: Decimal) -> None:
    rule = rule_for(Program.JKP, BenefitKind.JOB_LOSS, ON)
    assert rule.wage_cap == 5 * M
    assert monthly_amounts(rule, wage) == [monthly] * 6
    assert amount_of(rule, wage) == 6 * monthly


@pytest.mark.parametrize(
    ("wage", "months", "total"),
    [
        (Decimal(4_000_000), [1_800_000] * 3 + [1_000_000] * 3, Decimal(8_400_000)),
        (Decimal(6_000_000), [2_250_000] * 3 + [1_250_000] * 3, Decimal(10_500_000)),  # wage capped at Rp5M
    ],
)
def test_jkp_before_7_february_2025_is_45_then_25_percent(wage: Decimal, months: list[int], total: Decimal) -> None:
    rule = rule_for(Program.JKP, BenefitKind.JOB_LOSS, JKP_FROM - dt.timedelta(days=1))
    assert (rule.id, rule.regulation) == ("JKP-MONTHLY-2021", "PP 37/2021")
    assert monthly_amounts(rule, wage) == [Decimal(m) for m in months]
    assert amount_of(rule, wage) == total
    assert rule_for(Program.JKP, BenefitKind.JOB_LOSS, JKP_FROM).regulation == "PP 6/2025"


def test_jp_monthly_pension_needs_180_months() -> None:
    pension = rule_for(Program.JP, BenefitKind.PENSION, ON)
    assert (pension.min_months, pension.regulation) == (180, "PP 45/2015")
    assert rule_for(Program.JP, BenefitKind.LUMP_SUM, ON).regulation == "PP 45/2015"


def test_jkp_needs_a_wage() -> None:
    with pytest.raises(ValueError, match="monthly wage is needed"):
        amount_of(rule_for(Program.JKP, BenefitKind.JOB_LOSS, ON))


# --- effective dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "kind", "level", "effective"),
    [
        (Program.JKM, BenefitKind.LUMP_SUM, None, PP82_FROM),
        (Program.JKM, BenefitKind.FUNERAL, None, PP82_FROM),
        (Program.JKK, BenefitKind.DEATH, None, PP82_FROM),
        (Program.JKK, BenefitKind.DISABILITY, None, PP82_FROM),
        (Program.JKK, BenefitKind.SCHOLARSHIP, EducationLevel.SMA, PP82_FROM),
        (Program.JKP, BenefitKind.JOB_LOSS, None, dt.date(2021, 2, 2)),
    ],
)
def test_rule_for_applies_from_the_effective_date_and_not_before(
    program: Program, kind: BenefitKind, level: EducationLevel | None, effective: dt.date
) -> None:
    assert rule_for(program, kind, effective, level).effective_from == effective
    with pytest.raises(NoRule, match=f"in force on {(effective - dt.timedelta(days=1)).isoformat()}"):
        rule_for(program, kind, effective - dt.timedelta(days=1), level)


def test_no_rule_names_the_level() -> None:
    with pytest.raises(NoRule, match="SCHOLARSHIP rule at level TK"):
        rule_for(Program.JKK, BenefitKind.SCHOLARSHIP, dt.date(2010, 1, 1), EducationLevel.TK)


@pytest.mark.parametrize(
    ("program", "kind", "level"),
    [
        (Program.JKK, BenefitKind.SCHOLARSHIP, None),  # a scholarship needs its level
        (Program.JKM, BenefitKind.LUMP_SUM, EducationLevel.SD),
        (Program.JHT, BenefitKind.DEATH, None),
        (Program.JKM, BenefitKind.DEATH, None),
    ],
)
def test_rule_for_without_a_matching_row_raises(
    program: Program, kind: BenefitKind, level: EducationLevel | None
) -> None:
    with pytest.raises(NoRule):
        rule_for(program, kind, ON, level)


def test_rule_for_picks_the_latest_rule_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    old = rule_for(Program.JKM, BenefitKind.FUNERAL, ON)
    new = dataclasses.replace(old, id="JKM-FUNERAL-2030", effective_from=dt.date(2030, 1, 1), amount=15 * M)
    monkeypatch.setattr(benefits, "RULES", (new, *RULES))
    assert rule_for(Program.JKM, BenefitKind.FUNERAL, dt.date(2029, 12, 31)) is old
    assert rule_for(Program.JKM, BenefitKind.FUNERAL, dt.date(2030, 1, 1)) is new
    assert sum(a for _, a in death_benefits(Program.JKM, dt.date(2030, 6, 1), None)) == 47 * M
