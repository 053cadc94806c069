"""Claim rules: who may claim what, and what it pays.

Eligibility (coverage on the incident date, retirement age, waits, one death benefit per programme,
scholarship limits over all claims) and the benefit lines computed from :mod:`domain.claims.benefits`. Pure
checks and reads: the writes are in :mod:`domain.claims.writes`.
"""

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.claims.benefits import (
    JKM_SCHOLARSHIP_MIN_MONTHS,
    RULES,
    SCHOLARSHIP_MAX_CHILDREN,
    SCHOLARSHIP_TOTAL_CAP,
    BenefitRule,
    NoRule,
    amount_of,
    death_benefits,
    retirement_age,
    rule_for,
    scholarship_band,
    scholarship_years,
)
from domain.claims.codes import ClaimCode
from domain.claims.models import (
    PROGRAM_CAUSES,
    BenefitKind,
    Claim,
    ClaimBenefit,
    ClaimCause,
    ClaimStatus,
    EducationLevel,
    Relationship,
    ScholarshipEnd,
)
from domain.nik import InvalidNIK, parse_nik
from domain.participants.codes import ParticipantCode
from domain.participants.contributions import BPU_MIN_DECLARED_INCOME
from domain.participants.models import Participant, ParticipantStatus
from domain.participants.rules import Program, Segment
from domain.text import clean_text
from domain.writes.codes import WriteCode
from domain.writes.errors import Problem
from domain.writes.validation import validate_nik

RESIGNATION_WAIT_DAYS = 30
DEATH_KINDS = (BenefitKind.LUMP_SUM, BenefitKind.PERIODIC, BenefitKind.FUNERAL, BenefitKind.DEATH)
MAX_CLAIMED = Decimal("10000000000")  # Rp10 billion: above this a figure is a typo
JKP_MIN_MONTHS = 12
#: JKP: the contribution months that count are those of the 24 months up to the dismissal.
JKP_WINDOW_MONTHS = 24
#: A scholarship ends when the child turns 23 (PP 82/2019), or marries or starts work.
SCHOLARSHIP_END_AGE = 23
#: Education levels in the order a child goes through them: a yearly claim may not go back down.
LEVEL_ORDER = {level: i for i, level in enumerate(EducationLevel)}
#: A JP monthly pension needs this many contribution months; with fewer, the JP balance is paid as a lump sum.
JP_PENSION_MIN_MONTHS: int = next(r.min_months or 0 for r in RULES if r.id == "JP-PENSION-2015")
#: Causes whose benefit is a fixed or wage-based rule; the others pay an amount the claim states
#: (a JHT balance or JP pension from the contribution ledger, medical bills).
_STATED_AMOUNT = {
    (Program.JKK, ClaimCause.WORK_ACCIDENT): BenefitKind.MEDICAL,
    **{(Program.JHT, c): BenefitKind.BALANCE for c in PROGRAM_CAUSES[Program.JHT]},
    **{(Program.JP, c): BenefitKind.PENSION for c in PROGRAM_CAUSES[Program.JP]},
}
#: Causes a claim submitted after the participant's death may still have: the death itself.
_AFTER_DEATH = frozenset({ClaimCause.DEATH})
_HEIRS_FIRST = (Relationship.SPOUSE, Relationship.CHILD)


@dataclass
class Recipient:
    name: str
    nik: str
    relationship: Relationship


@dataclass
class ScholarshipChild:
    name: str
    nik: str
    education_level: EducationLevel
    birth_date: dt.date | None = None  # default: the birth date the NIK encodes
    ended: ScholarshipEnd | None = None  # a declared marriage or employment


@dataclass
class ClaimSubmission:
    participant_id: int
    program: Program
    cause: ClaimCause
    incident_date: dt.date
    recipients: list[Recipient] = field(default_factory=list)
    children: list[ScholarshipChild] = field(default_factory=list)
    amount_claimed: Decimal | None = None
    idempotency_key: str | None = None
    note: str | None = None
    #: JKK work accident: months the participant could not work (temporary inability benefit).
    inability_months: int | None = None


@dataclass(frozen=True)
class LedgerFacts:
    """What the contribution ledger says about the claim: read by the write, used by the pure rules."""

    paid_in_incident_month: bool
    months_before_incident: int  # paid months among the JKP window of 24 months up to the incident
    #: Eligibility periods count months paid up to and including the incident's month, never months paid in
    #: advance beyond it (JKM's 36 for a scholarship).
    months_to_incident: int
    #: JP's 180: the months of the JP programme itself (paid for JP, from JP's start and the participant's JP
    #: enrolment) up to and including the incident's month.
    jp_months_to_incident: int


@dataclass(frozen=True)
class BenefitLine:
    kind: BenefitKind
    amount: Decimal
    rule: BenefitRule | None
    recipient: Recipient | None = None
    education_level: EducationLevel | None = None


async def people_problems(
    session: AsyncSession, participant: Participant, people: Sequence[Recipient | ScholarshipChild], field_name: str
) -> list[Problem]:
    problems: list[Problem] = []
    for i, person in enumerate(people):
        where = f"{field_name}[{i}]"
        _, name_problems = clean_text(person.name, f"{where}.name", max_length=200)
        problems += name_problems
        try:
            nik = await validate_nik(session, person.nik)
        except InvalidNIK as exc:
            problems.append(Problem(f"{where}.nik", WriteCode.INVALID_NIK, str(exc)))
            continue
        if nik.value == participant.nik:
            problems.append(
                Problem(
                    f"{where}.nik", ClaimCode.SAME_AS_PARTICIPANT, "a recipient's NIK cannot be the participant's own"
                )
            )
    return problems


def coverage_problems(
    participant: Participant, held: dict[Program, dt.date], s: ClaimSubmission, ledger: LedgerFacts
) -> list[Problem]:
    problems: list[Problem] = []
    if s.program not in held:
        have = ", ".join(sorted(held)) or "none"
        problems.append(
            Problem(
                "program", ClaimCode.NOT_ENROLLED, f"the participant does not hold {s.program.value} (holds {have})"
            )
        )
    elif held[s.program] > s.incident_date:
        problems.append(
            Problem(
                "incidentDate",
                ClaimCode.NOT_COVERED,
                f"{s.program.value} coverage started {held[s.program].isoformat()}, after the incident",
            )
        )
    elif not ledger.paid_in_incident_month:
        paid = participant.paid_through.isoformat() if participant.paid_through else "never"
        problems.append(
            Problem(
                "incidentDate",
                ClaimCode.NOT_COVERED,
                f"no contribution is recorded for {s.incident_date:%Y-%m}, the month of the incident "
                f"(paid through: {paid})",
            )
        )
    return problems


def benefit_wage(participant: Participant) -> Decimal | None:
    """The wage of a wage-based benefit: the recorded wage, or for an informal worker (BPU) the declared
    income, at least that of the cheapest package (Rp1,000,000)."""
    if participant.segment is Segment.BPU:
        return max(participant.monthly_wage or BPU_MIN_DECLARED_INCOME, BPU_MIN_DECLARED_INCOME)
    return participant.monthly_wage


def benefit_lines(
    participant: Participant,
    s: ClaimSubmission,
    today: dt.date,
    ledger: LedgerFacts,
    *,
    scholarship_only: bool = False,
) -> tuple[list[BenefitLine], list[Problem]]:
    """The benefit lines the rules give for this claim, or the problems that prevent computing them.

    A yearly scholarship claim after a death that was already claimed carries the scholarship lines only.
    """
    lines: list[BenefitLine] = []
    problems: list[Problem] = []
    wage = benefit_wage(participant)
    if scholarship_only:
        problems += scholarship_problems(s, today, ledger)
        return scholarship_lines(s) if not problems else [], problems
    heirs = sorted(s.recipients, key=lambda r: (r.relationship not in _HEIRS_FIRST, s.recipients.index(r)))
    death = s.cause is ClaimCause.DEATH
    to = heirs[0] if death and heirs else None
    if death and not heirs:
        problems.append(Problem("recipients", ClaimCode.HEIR_REQUIRED, "a death claim needs at least one heir"))
    try:
        if s.program is Program.JKK and s.cause is ClaimCause.WORK_ACCIDENT:
            lines += work_accident_lines(s, wage, problems)
        elif s.program is Program.JP:
            lines += pension_lines(s, to, ledger, problems)
        elif (s.program, s.cause) in _STATED_AMOUNT:
            if s.amount_claimed is None:
                problems.append(
                    Problem("amountClaimed", WriteCode.REQUIRED, f"give the amount for a {s.program.value} claim")
                )
            else:
                lines.append(BenefitLine(_STATED_AMOUNT[(s.program, s.cause)], s.amount_claimed, None, to))
        elif s.program is Program.JKM or (s.program is Program.JKK and death):
            if s.program is Program.JKK and wage is None:
                problems.append(
                    Problem("program", ClaimCode.WAGE_UNKNOWN, "JKK death benefit is 48 x wage; no wage recorded")
                )
            else:
                lines += [
                    BenefitLine(rule.kind, amount, rule, to)
                    for rule, amount in death_benefits(s.program, s.incident_date, wage)
                ]
        elif s.program is Program.JKK and s.cause is ClaimCause.TOTAL_DISABILITY:
            rule = rule_for(Program.JKK, BenefitKind.DISABILITY, s.incident_date)
            if wage is None:
                problems.append(
                    Problem("program", ClaimCode.WAGE_UNKNOWN, "JKK disability is 56 x wage; no wage recorded")
                )
            else:
                lines.append(BenefitLine(rule.kind, amount_of(rule, wage), rule))
        elif s.program is Program.JKP:
            problems += jkp_problems(participant, s, today, ledger)
            rule = rule_for(Program.JKP, BenefitKind.JOB_LOSS, s.incident_date)
            if wage is not None:
                lines.append(BenefitLine(rule.kind, amount_of(rule, wage), rule))
    except NoRule as exc:
        problems.append(Problem("incidentDate", ClaimCode.NO_RULE, str(exc)))
    problems += scholarship_problems(s, today, ledger)
    if not problems:
        lines += scholarship_lines(s)
    return lines, problems


def work_accident_lines(s: ClaimSubmission, wage: Decimal | None, problems: list[Problem]) -> list[BenefitLine]:
    """JKK work accident: the medical bills as stated (no cap), and the temporary inability benefit for the
    months the participant could not work (100 % of the wage for 12 months, then 50 %)."""
    lines: list[BenefitLine] = []
    if s.amount_claimed is not None:
        lines.append(BenefitLine(BenefitKind.MEDICAL, s.amount_claimed, None))
    if s.inability_months is not None:
        if not 1 <= s.inability_months <= 120:
            problems.append(
                Problem("inabilityMonths", WriteCode.OUT_OF_RANGE, "temporary inability is counted in 1 to 120 months")
            )
        elif wage is None:
            problems.append(
                Problem("program", ClaimCode.WAGE_UNKNOWN, "temporary inability is paid from the wage; none recorded")
            )
        else:
            rule = rule_for(Program.JKK, BenefitKind.TEMPORARY_INABILITY, s.incident_date)
            lines.append(BenefitLine(rule.kind, amount_of(rule, wage, s.inability_months), rule))
    if s.amount_claimed is None and s.inability_months is None:
        problems.append(
            Problem(
                "amountClaimed", WriteCode.REQUIRED, "give the medical bills (amountClaimed) or the months off work"
            )
        )
    return lines


def pension_lines(
    s: ClaimSubmission, to: Recipient | None, ledger: LedgerFacts, problems: list[Problem]
) -> list[BenefitLine]:
    """JP: a monthly pension after 180 JP contribution months up to the incident; otherwise the JP balance as a
    lump sum."""
    if s.amount_claimed is None:
        problems.append(Problem("amountClaimed", WriteCode.REQUIRED, "give the amount from the pension account"))
        return []
    monthly = ledger.jp_months_to_incident >= JP_PENSION_MIN_MONTHS
    kind = BenefitKind.PENSION if monthly else BenefitKind.LUMP_SUM
    return [BenefitLine(kind, s.amount_claimed, rule_for(Program.JP, kind, s.incident_date), to)]


def scholarship_lines(s: ClaimSubmission) -> list[BenefitLine]:
    years = scholarship_years(s.program, s.incident_date, [c.education_level for c in s.children])
    return [
        BenefitLine(
            BenefitKind.SCHOLARSHIP,
            amount,
            rule,
            Recipient(child.name, child.nik, Relationship.CHILD),
            child.education_level,
        )
        for child, (rule, amount) in zip(s.children, years, strict=True)
    ]


def jkp_problems(participant: Participant, s: ClaimSubmission, today: dt.date, ledger: LedgerFacts) -> list[Problem]:
    problems = []
    if participant.monthly_wage is None:
        problems.append(Problem("program", ClaimCode.WAGE_UNKNOWN, "JKP pays a share of the wage; no wage recorded"))
    if ledger.months_before_incident < JKP_MIN_MONTHS:
        problems.append(
            Problem(
                "program",
                ClaimCode.NOT_ELIGIBLE,
                f"JKP needs {JKP_MIN_MONTHS} contribution months in the {JKP_WINDOW_MONTHS} months up to the "
                f"dismissal; the ledger has {ledger.months_before_incident}",
            )
        )
    rule = rule_for(Program.JKP, BenefitKind.JOB_LOSS, s.incident_date)
    window = rule.claim_window_months
    if window is not None and today > add_months(s.incident_date, window):
        problems.append(
            Problem(
                "incidentDate",
                ClaimCode.TOO_LATE,
                f"a JKP claim must be made within {window} months of the dismissal ({rule.regulation}); "
                f"this one was due by {add_months(s.incident_date, window).isoformat()}",
            )
        )
    return problems


def child_problems(s: ClaimSubmission, today: dt.date) -> list[Problem]:
    """A scholarship ends at 23 (age from the birth date given, or the one the child's NIK encodes), or with a
    declared marriage or employment."""
    problems = []
    for i, child in enumerate(s.children):
        birth = child.birth_date
        if birth is None:
            try:
                birth = parse_nik(child.nik, today=today).birth_date
            except InvalidNIK:
                continue  # reported by people_problems
        age = age_on(birth, today)
        if age >= SCHOLARSHIP_END_AGE:
            problems.append(
                Problem(
                    f"children[{i}]",
                    ClaimCode.CHILD_TOO_OLD,
                    f"a scholarship ends at age {SCHOLARSHIP_END_AGE}; this child is {age}",
                )
            )
        if child.ended is not None:
            problems.append(
                Problem(
                    f"children[{i}].ended",
                    ClaimCode.SCHOLARSHIP_ENDED,
                    f"a scholarship ends when the child is {child.ended.value.lower()}",
                )
            )
    return problems


def scholarship_problems(s: ClaimSubmission, today: dt.date, ledger: LedgerFacts) -> list[Problem]:
    if not s.children:
        return []
    if len(s.children) > SCHOLARSHIP_MAX_CHILDREN:
        return [
            Problem(
                "children",
                ClaimCode.TOO_MANY_CHILDREN,
                f"a scholarship covers at most {SCHOLARSHIP_MAX_CHILDREN} children; {len(s.children)} were given",
            )
        ]
    with_death_or_disability = s.cause in (ClaimCause.DEATH, ClaimCause.TOTAL_DISABILITY)
    if not (s.program in (Program.JKK, Program.JKM) and with_death_or_disability):
        return [Problem("children", ClaimCode.NO_SCHOLARSHIP, "scholarships come with JKK death or disability, or JKM")]
    too_old = child_problems(s, today)
    if too_old:
        return too_old
    if s.program is Program.JKM and ledger.months_to_incident < JKM_SCHOLARSHIP_MIN_MONTHS:
        return [
            Problem(
                "children",
                ClaimCode.NOT_ELIGIBLE,
                f"a JKM scholarship needs {JKM_SCHOLARSHIP_MIN_MONTHS} contribution months up to the month of the "
                f"death; the ledger has {ledger.months_to_incident} (months paid in advance beyond it do not count)",
            )
        ]
    return []


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` months later (the month's last day when it has no such day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def life_event_problems(participant: Participant, s: ClaimSubmission, today: dt.date) -> list[Problem]:
    """Rules about the event itself: retirement age, the wait after leaving a job, claims after a death."""
    problems = []
    if s.cause is ClaimCause.RETIREMENT and s.program in (Program.JHT, Program.JP):
        rule = retirement_age(s.program, s.incident_date)
        age = age_on(participant.birth_date, s.incident_date)
        if age < rule.age:
            problems.append(
                Problem(
                    "cause",
                    ClaimCode.NOT_ELIGIBLE,
                    f"too early: {s.program.value} old-age benefits start at age {rule.age} on "
                    f"{s.incident_date.isoformat()} ({rule.regulation}); the participant was {age}",
                )
            )
    if s.cause is ClaimCause.RESIGNATION and (today - s.incident_date).days < RESIGNATION_WAIT_DAYS:
        problems.append(
            Problem(
                "incidentDate",
                ClaimCode.TOO_EARLY,
                f"JHT after leaving a job is paid after a one-month wait ({RESIGNATION_WAIT_DAYS} days)",
            )
        )
    if participant.status is ParticipantStatus.DECEASED and s.cause not in _AFTER_DEATH:
        died = f" on {participant.died_on.isoformat()}" if participant.died_on else ""
        problems.append(
            Problem(
                "cause",
                ParticipantCode.PARTICIPANT_DECEASED,
                f"the participant died{died}; only the death benefit and the heirs' scholarships remain",
            )
        )
    elif participant.died_on is not None and s.incident_date > participant.died_on:
        problems.append(
            Problem(
                "incidentDate",
                ClaimCode.AFTER_DEATH,
                f"the participant died on {participant.died_on.isoformat()}, before this incident",
            )
        )
    return problems


async def death_history_problems(
    session: AsyncSession, participant: Participant, s: ClaimSubmission
) -> tuple[list[Problem], bool]:
    """A death is paid once per programme: a second death claim while one is open or paid is refused, unless
    it is the yearly scholarship claim (children, no heirs). Returns the problems and whether it is that."""
    if s.cause is not ClaimCause.DEATH:
        return [], False
    found = (
        await session.execute(
            select(Claim.claim_number, Claim.program)
            .join(ClaimBenefit, ClaimBenefit.claim_id == Claim.id)
            .where(
                Claim.participant_id == participant.id,
                Claim.status != ClaimStatus.REJECTED,
                ClaimBenefit.kind.in_(DEATH_KINDS),
            )
            .order_by(Claim.id)
            .limit(1)
        )
    ).first()
    if found is None:
        return [], False
    earlier, program = found
    if s.children and not s.recipients and program == s.program:
        return [], True
    if program != s.program:
        return [
            Problem(
                "program",
                ClaimCode.DEATH_ALREADY_CLAIMED,
                f"claim {earlier} already covers this death under {program}; a person dies once, so the "
                f"{s.program.value} death benefit is not paid as well (the heirs' yearly scholarships continue "
                f"under {program})",
            )
        ], False
    return [
        Problem(
            "program",
            ClaimCode.DUPLICATE_DEATH_CLAIM,
            f"claim {earlier} already covers this death under {s.program.value}; for a further year's "
            "scholarship, claim with the children only",
        )
    ], False


def school_year(day: dt.date) -> int:
    """The Indonesian school year a date falls in, by the year it starts (July): 2026-08-01 -> 2026 (2026/2027)."""
    return day.year if day.month >= 7 else day.year - 1


async def scholarship_history_problems(
    session: AsyncSession, participant: Participant, lines: list[BenefitLine], today: dt.date
) -> list[Problem]:
    """Scholarships are claimed yearly: per child and level at most the rule's years, at most two children
    over all claims, at most Rp174M in total."""
    new = [line for line in lines if line.kind is BenefitKind.SCHOLARSHIP and line.recipient is not None]
    if not new:
        return []
    rows = (
        await session.execute(
            select(ClaimBenefit.recipient_nik, ClaimBenefit.education_level, ClaimBenefit.amount, Claim.submitted_at)
            .join(Claim, Claim.id == ClaimBenefit.claim_id)
            .where(
                Claim.participant_id == participant.id,
                Claim.status != ClaimStatus.REJECTED,
                ClaimBenefit.kind == BenefitKind.SCHOLARSHIP,
            )
        )
    ).all()
    problems: list[Problem] = []
    children = {row[0] for row in rows} | {line.recipient.nik for line in new if line.recipient}
    if len(children) > SCHOLARSHIP_MAX_CHILDREN:
        problems.append(
            Problem(
                "children",
                ClaimCode.TOO_MANY_CHILDREN,
                f"scholarships have already been claimed for other children; at most {SCHOLARSHIP_MAX_CHILDREN} in all",
            )
        )
    for i, line in enumerate(new):
        assert line.recipient is not None
        assert line.rule is not None
        band = line.rule.band
        years = sum(
            1
            for row in rows
            if row[0] == line.recipient.nik
            and row[1] is not None
            and scholarship_band(line.rule.program, line.rule.effective_from, row[1]) == band
        )
        if line.rule.max_years is not None and years >= line.rule.max_years:
            level = band or (line.education_level.value if line.education_level else "?")
            problems.append(
                Problem(
                    f"children[{i}]",
                    ClaimCode.YEARS_EXHAUSTED,
                    f"this child has had {years} years of the {level} scholarship; the rule pays {line.rule.max_years}",
                )
            )
    this_year = school_year(today)
    for i, line in enumerate(new):
        assert line.recipient is not None
        assert line.education_level is not None
        earlier = [row for row in rows if row[0] == line.recipient.nik]
        if any(school_year(row[3].date()) == this_year for row in earlier):
            problems.append(
                Problem(
                    f"children[{i}]",
                    ClaimCode.ALREADY_CLAIMED_THIS_YEAR,
                    f"this child's scholarship for school year {this_year}/{this_year + 1} is already claimed; "
                    "it is paid once a school year",
                )
            )
        highest = max((LEVEL_ORDER[row[1]] for row in earlier if row[1] is not None), default=-1)
        if LEVEL_ORDER[line.education_level] < highest:
            problems.append(
                Problem(
                    f"children[{i}].educationLevel",
                    ClaimCode.LEVEL_BACKWARDS,
                    f"this child already had a scholarship at level {list(EducationLevel)[highest].value}; "
                    f"the level cannot go back to {line.education_level.value}",
                )
            )
    total = sum((row[2] for row in rows), Decimal(0)) + sum((line.amount for line in new), Decimal(0))
    if total > SCHOLARSHIP_TOTAL_CAP:
        problems.append(
            Problem(
                "children",
                ClaimCode.CAP_EXCEEDED,
                f"scholarships would total Rp{total:,}; the cap is Rp{SCHOLARSHIP_TOTAL_CAP:,} per participant",
            )
        )
    return problems
