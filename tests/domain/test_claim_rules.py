"""The pure claim rules with dates the API cannot reach today: JKP before 7 February 2025 (a claim must be made
within 6 months of the dismissal, so only a past "today" exercises it), JKP's 12 months in the last 24, JP's
180 months, and the ledger arithmetic behind them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.claims.benefits import retirement_age
from domain.claims.models import BenefitKind, ClaimCause
from domain.claims.rules import ClaimSubmission, LedgerFacts, benefit_lines, school_year
from domain.nik import Sex
from domain.participants.ledger import months_within
from domain.participants.models import FundingSource, Participant, ParticipantStatus
from domain.participants.months import month_end, month_number, month_start
from domain.participants.rules import MIN_WORKING_AGE, Program, Segment, working_age_problems


def _worker(months: int, wage: str | None = "4000000", segment: Segment = Segment.PU) -> Participant:
    return Participant(
        id=1,
        membership_number="25000000001",
        nik="5271011705900001",
        full_name="Lalu Zainuddin",
        birth_date=dt.date(1990, 5, 17),
        sex=Sex.M,
        segment=segment,
        status=ParticipantStatus.ACTIVE,
        funding_source=FundingSource.EMPLOYER,
        monthly_wage=Decimal(wage) if wage else None,
        contribution_months=months,
        died_on=None,
    )


def _jkp(dismissed: dt.date) -> ClaimSubmission:
    return ClaimSubmission(participant_id=1, program=Program.JKP, cause=ClaimCause.JOB_LOSS, incident_date=dismissed)


@pytest.mark.parametrize(
    ("dismissed", "rule", "amount"),
    [
        (dt.date(2025, 1, 20), "JKP-MONTHLY-2021", Decimal(8_400_000)),  # 3 x 45 % + 3 x 25 % of Rp4M
        (dt.date(2025, 2, 6), "JKP-MONTHLY-2021", Decimal(8_400_000)),
        (dt.date(2025, 2, 7), "JKP-MONTHLY-2025", Decimal(14_400_000)),  # 6 x 60 % of Rp4M
    ],
)
def test_jkp_pays_by_the_rule_of_the_dismissal_date(dismissed: dt.date, rule: str, amount: Decimal) -> None:
    lines, problems = benefit_lines(
        _worker(30), _jkp(dismissed), dismissed + dt.timedelta(days=20), LedgerFacts(True, 20, 30, 0)
    )
    assert problems == []
    assert [(line.kind, line.rule.id if line.rule else None, line.amount) for line in lines] == [
        (BenefitKind.JOB_LOSS, rule, amount)
    ]


@pytest.mark.parametrize(("recent", "eligible"), [(11, False), (12, True), (24, True)])
def test_jkp_counts_the_months_of_the_last_24_not_a_lifetime(recent: int, eligible: bool) -> None:
    dismissed = dt.date(2026, 10, 5)
    _, problems = benefit_lines(_worker(120), _jkp(dismissed), dismissed, LedgerFacts(True, recent, 120, 0))
    assert (not any(p.code == "NOT_ELIGIBLE" for p in problems)) is eligible


@pytest.mark.parametrize(("months", "kind"), [(179, BenefitKind.LUMP_SUM), (180, BenefitKind.PENSION)])
def test_jp_monthly_pension_needs_180_contribution_months(months: int, kind: BenefitKind) -> None:
    """180 months of JP itself (PP 45/2015): the ledger's other months (312 since 1998 here) do not count."""
    s = ClaimSubmission(
        participant_id=1,
        program=Program.JP,
        cause=ClaimCause.RETIREMENT,
        incident_date=dt.date(2046, 5, 17),
        amount_claimed=Decimal(1_250_000),
    )
    lines, problems = benefit_lines(_worker(312), s, dt.date(2046, 6, 1), LedgerFacts(True, 24, 312, months))
    assert problems == []
    [line] = lines
    assert (line.kind, line.amount) == (kind, Decimal(1_250_000))
    assert line.rule is not None
    assert line.rule.regulation == "PP 45/2015"


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (dt.date(2018, 12, 31), 56),  # PP 45/2015 art. 15(1)
        (dt.date(2019, 1, 1), 57),  # art. 15(2)
        (dt.date(2021, 12, 31), 57),
        (dt.date(2022, 1, 1), 58),  # art. 15(3): one year more every three years
        (dt.date(2025, 1, 1), 59),
        (dt.date(2027, 12, 31), 59),
        (dt.date(2028, 1, 1), 60),
        (dt.date(2030, 12, 31), 60),
        (dt.date(2031, 1, 1), 61),
        (dt.date(2043, 1, 1), 65),
        (dt.date(2080, 1, 1), 65),  # until it reaches 65
    ],
)
def test_the_jp_pension_age_follows_pp_45_2015_art_15(on: dt.date, age: int) -> None:
    assert retirement_age(Program.JP, on).age == age
    assert retirement_age(Program.JHT, on).age == 56  # PP 46/2015: JHT's age does not move


@pytest.mark.parametrize(
    ("dismissed", "last_day"),
    [
        (dt.date(2024, 11, 30), dt.date(2025, 2, 28)),  # PP 37/2021 art. 40: within 3 months
        (dt.date(2025, 2, 7), dt.date(2025, 8, 7)),  # PP 6/2025: within 6 months
    ],
)
def test_the_jkp_claim_window_follows_the_rule_of_the_dismissal(dismissed: dt.date, last_day: dt.date) -> None:
    def late(today: dt.date) -> bool:
        _, problems = benefit_lines(_worker(30), _jkp(dismissed), today, LedgerFacts(True, 20, 30, 0))
        return any(p.code == "TOO_LATE" for p in problems)

    assert not late(last_day)
    assert late(last_day + dt.timedelta(days=1))


def test_a_jp_retirement_claim_in_2028_needs_age_60() -> None:
    """The years the API cannot reach yet (an incident cannot be in the future): 59 is too early in 2028."""
    from domain.claims.rules import life_event_problems

    s = ClaimSubmission(1, Program.JP, ClaimCause.RETIREMENT, dt.date(2028, 6, 1), amount_claimed=Decimal(1))
    at_59, at_60 = _worker(200), _worker(200)
    at_59.birth_date, at_60.birth_date = dt.date(1968, 6, 2), dt.date(1968, 6, 1)
    assert [p.code for p in life_event_problems(at_59, s, dt.date(2028, 6, 2))] == ["NOT_ELIGIBLE"]
    assert life_event_problems(at_60, s, dt.date(2028, 6, 2)) == []


def test_a_bpu_workers_jkk_wage_is_the_declared_income_at_least_the_cheapest_package() -> None:
    s = ClaimSubmission(
        participant_id=1, program=Program.JKK, cause=ClaimCause.DEATH, incident_date=dt.date(2026, 11, 3)
    )
    from domain.claims.rules import Recipient, Relationship

    s.recipients = [Recipient("Inaq Rahmah", "5203014403850001", Relationship.SPOUSE)]
    lines, problems = benefit_lines(_worker(1, None, Segment.BPU), s, dt.date(2026, 11, 5), LedgerFacts(True, 1, 1, 0))
    assert problems == []
    assert [(line.kind, line.amount) for line in lines] == [
        (BenefitKind.DEATH, Decimal(48_000_000)),
        (BenefitKind.PERIODIC, Decimal(12_000_000)),
        (BenefitKind.FUNERAL, Decimal(10_000_000)),
    ]


def test_months_within_a_window() -> None:
    jan_2025, dec_2026 = month_number(dt.date(2025, 1, 1)), month_number(dt.date(2026, 12, 1))
    ranges = [(jan_2025, jan_2025 + 5), (dec_2026 - 3, dec_2026 + 2)]  # six months, then six around now
    assert months_within(ranges, dec_2026 - 23, dec_2026) == 6 + 4  # Jan 2025 is 23 months before Dec 2026
    assert months_within(ranges, dec_2026 - 11, dec_2026) == 4
    assert months_within(ranges, jan_2025, dec_2026 + 12) == 12
    assert (month_start(dec_2026), month_end(month_number(dt.date(2028, 2, 1)))) == (
        dt.date(2026, 12, 1),
        dt.date(2028, 2, 29),
    )


def test_school_years_start_in_july() -> None:
    assert [school_year(d) for d in (dt.date(2026, 6, 30), dt.date(2026, 7, 1), dt.date(2027, 1, 5))] == [
        2025,
        2026,
        2026,
    ]


def test_minimum_working_age() -> None:
    assert MIN_WORKING_AGE == 18
    today = dt.date(2026, 12, 1)
    assert working_age_problems(dt.date(2008, 12, 1), today) == []
    assert working_age_problems(dt.date(2008, 12, 2), today) != []
    assert working_age_problems(dt.date(2016, 6, 1), today) != []
