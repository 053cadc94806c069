"""Claim rules: who may claim what, and what it pays.

Eligibility (coverage on the incident date, retirement age, waits, one death benefit per programme,
scholarship limits over all claims) and the benefit lines computed from :mod:`domain.claims.benefits`. Pure
checks and reads: the writes are in :mod:`domain.claims.writes`.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.claims.benefits import (
    JKM_SCHOLARSHIP_MIN_MONTHS,
    SCHOLARSHIP_MAX_CHILDREN,
    SCHOLARSHIP_TOTAL_CAP,
    BenefitRule,
    NoRule,
    amount_of,
    death_benefits,
    rule_for,
    scholarship_years,
)
from domain.claims.models import (
    PROGRAM_CAUSES,
    BenefitKind,
    Claim,
    ClaimBenefit,
    ClaimCause,
    ClaimStatus,
    EducationLevel,
    Relationship,
)
from domain.nik import InvalidNIK
from domain.participants.models import Participant, ParticipantStatus
from domain.participants.rules import Program
from domain.text import clean_text
from domain.writes.errors import Problem
from domain.writes.validation import validate_nik

RETIREMENT_AGE = 56
RESIGNATION_WAIT_DAYS = 30
_DEATH_KINDS = (BenefitKind.LUMP_SUM, BenefitKind.PERIODIC, BenefitKind.FUNERAL, BenefitKind.DEATH)
MAX_CLAIMED = Decimal("10000000000")  # Rp10 billion: above this a figure is a typo
JKP_CLAIM_WINDOW_DAYS = 183  # a JKP claim within 6 months of the dismissal
JKP_MIN_MONTHS = 12
JKP_MONTHS_PAID = 6
#: Causes whose benefit is a fixed or wage-based rule; the others pay an amount the claim states
#: (a JHT balance or JP pension from the contribution ledger, medical bills).
_STATED_AMOUNT = {
    (Program.JKK, ClaimCause.WORK_ACCIDENT): BenefitKind.MEDICAL,
    **{(Program.JHT, c): BenefitKind.BALANCE for c in PROGRAM_CAUSES[Program.JHT]},
    **{(Program.JP, c): BenefitKind.PENSION for c in PROGRAM_CAUSES[Program.JP]},
}
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
            problems.append(Problem(f"{where}.nik", "INVALID_NIK", str(exc)))
            continue
        if nik.value == participant.nik:
            problems.append(
                Problem(f"{where}.nik", "SAME_AS_PARTICIPANT", "a recipient's NIK cannot be the participant's own")
            )
    return problems


def coverage_problems(participant: Participant, held: dict[Program, dt.date], s: ClaimSubmission) -> list[Problem]:
    problems: list[Problem] = []
    if s.program not in held:
        have = ", ".join(sorted(held)) or "none"
        problems.append(
            Problem("program", "NOT_ENROLLED", f"the participant does not hold {s.program.value} (holds {have})")
        )
    elif held[s.program] > s.incident_date:
        problems.append(
            Problem(
                "incidentDate",
                "NOT_COVERED",
                f"{s.program.value} coverage started {held[s.program].isoformat()}, after the incident",
            )
        )
    elif participant.paid_through is None or participant.paid_through < s.incident_date.replace(day=1):
        paid = participant.paid_through.isoformat() if participant.paid_through else "never"
        problems.append(
            Problem(
                "incidentDate",
                "NOT_COVERED",
                f"contributions were not paid for the month of the incident (paid through: {paid})",
            )
        )
    return problems


def benefit_lines(
    participant: Participant, s: ClaimSubmission, today: dt.date, *, scholarship_only: bool = False
) -> tuple[list[BenefitLine], list[Problem]]:
    """The benefit lines the rules give for this claim, or the problems that prevent computing them.

    A yearly scholarship claim after a death that was already claimed carries the scholarship lines only.
    """
    lines: list[BenefitLine] = []
    problems: list[Problem] = []
    if scholarship_only:
        problems += scholarship_problems(participant, s)
        return scholarship_lines(s) if not problems else [], problems
    heirs = sorted(s.recipients, key=lambda r: (r.relationship not in _HEIRS_FIRST, s.recipients.index(r)))
    death = s.cause is ClaimCause.DEATH
    to = heirs[0] if death and heirs else None
    if death and not heirs:
        problems.append(Problem("recipients", "HEIR_REQUIRED", "a death claim needs at least one heir"))
    try:
        if (s.program, s.cause) in _STATED_AMOUNT:
            if s.amount_claimed is None:
                problems.append(Problem("amountClaimed", "REQUIRED", f"give the amount for a {s.program.value} claim"))
            else:
                lines.append(BenefitLine(_STATED_AMOUNT[(s.program, s.cause)], s.amount_claimed, None, to))
        elif s.program is Program.JKM or (s.program is Program.JKK and death):
            if s.program is Program.JKK and participant.monthly_wage is None:
                problems.append(Problem("program", "WAGE_UNKNOWN", "JKK death benefit is 48 x wage; no wage recorded"))
            else:
                lines += [
                    BenefitLine(rule.kind, amount, rule, to)
                    for rule, amount in death_benefits(s.program, s.incident_date, participant.monthly_wage)
                ]
        elif s.program is Program.JKK and s.cause is ClaimCause.TOTAL_DISABILITY:
            rule = rule_for(Program.JKK, BenefitKind.DISABILITY, s.incident_date)
            if participant.monthly_wage is None:
                problems.append(Problem("program", "WAGE_UNKNOWN", "JKK disability is 56 x wage; no wage recorded"))
            else:
                lines.append(BenefitLine(rule.kind, amount_of(rule, participant.monthly_wage), rule))
        elif s.program is Program.JKP:
            problems += jkp_problems(participant, s, today)
            rule = rule_for(Program.JKP, BenefitKind.JOB_LOSS, s.incident_date)
            if participant.monthly_wage is not None:
                lines.append(BenefitLine(rule.kind, amount_of(rule, participant.monthly_wage) * JKP_MONTHS_PAID, rule))
    except NoRule as exc:
        problems.append(Problem("incidentDate", "NO_RULE", str(exc)))
    problems += scholarship_problems(participant, s)
    if not problems:
        lines += scholarship_lines(s)
    return lines, problems


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


def jkp_problems(participant: Participant, s: ClaimSubmission, today: dt.date) -> list[Problem]:
    problems = []
    if participant.monthly_wage is None:
        problems.append(Problem("program", "WAGE_UNKNOWN", "JKP pays a share of the wage; no wage recorded"))
    if participant.contribution_months < JKP_MIN_MONTHS:
        problems.append(
            Problem(
                "program",
                "NOT_ELIGIBLE",
                f"JKP needs {JKP_MIN_MONTHS} contribution months; "
                f"the participant has {participant.contribution_months}",
            )
        )
    if (today - s.incident_date).days > JKP_CLAIM_WINDOW_DAYS:
        problems.append(
            Problem("incidentDate", "TOO_LATE", "a JKP claim must be made within 6 months of the dismissal")
        )
    return problems


def scholarship_problems(participant: Participant, s: ClaimSubmission) -> list[Problem]:
    if not s.children:
        return []
    if len(s.children) > SCHOLARSHIP_MAX_CHILDREN:
        return [
            Problem(
                "children",
                "TOO_MANY_CHILDREN",
                f"a scholarship covers at most {SCHOLARSHIP_MAX_CHILDREN} children; {len(s.children)} were given",
            )
        ]
    with_death_or_disability = s.cause in (ClaimCause.DEATH, ClaimCause.TOTAL_DISABILITY)
    if not (s.program in (Program.JKK, Program.JKM) and with_death_or_disability):
        return [Problem("children", "NO_SCHOLARSHIP", "scholarships come with JKK death or disability, or JKM")]
    if s.program is Program.JKM and participant.contribution_months < JKM_SCHOLARSHIP_MIN_MONTHS:
        return [
            Problem(
                "children",
                "NOT_ELIGIBLE",
                f"a JKM scholarship needs {JKM_SCHOLARSHIP_MIN_MONTHS} contribution months; "
                f"the participant has {participant.contribution_months}",
            )
        ]
    return []


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def life_event_problems(participant: Participant, s: ClaimSubmission, today: dt.date) -> list[Problem]:
    """Rules about the event itself: retirement age, the wait after leaving a job, claims after a death."""
    problems = []
    if s.cause is ClaimCause.RETIREMENT and age_on(participant.birth_date, s.incident_date) < RETIREMENT_AGE:
        problems.append(
            Problem(
                "cause",
                "NOT_ELIGIBLE",
                f"retirement benefits start at age {RETIREMENT_AGE}; the participant was "
                f"{age_on(participant.birth_date, s.incident_date)} on the incident date",
            )
        )
    if s.cause is ClaimCause.RESIGNATION and (today - s.incident_date).days < RESIGNATION_WAIT_DAYS:
        problems.append(
            Problem(
                "incidentDate",
                "TOO_EARLY",
                f"JHT after leaving a job is paid after a one-month wait ({RESIGNATION_WAIT_DAYS} days)",
            )
        )
    if participant.status is ParticipantStatus.DECEASED and s.cause is not ClaimCause.DEATH:
        problems.append(
            Problem("cause", "PARTICIPANT_DECEASED", "the participant is recorded as deceased; claim the death benefit")
        )
    return problems


async def death_history_problems(
    session: AsyncSession, participant: Participant, s: ClaimSubmission
) -> tuple[list[Problem], bool]:
    """A death is paid once per programme: a second death claim while one is open or paid is refused, unless
    it is the yearly scholarship claim (children, no heirs). Returns the problems and whether it is that."""
    if s.cause is not ClaimCause.DEATH:
        return [], False
    earlier = await session.scalar(
        select(Claim.claim_number)
        .join(ClaimBenefit, ClaimBenefit.claim_id == Claim.id)
        .where(
            Claim.participant_id == participant.id,
            Claim.program == s.program,
            Claim.status != ClaimStatus.REJECTED,
            ClaimBenefit.kind.in_(_DEATH_KINDS),
        )
        .limit(1)
    )
    if earlier is None:
        return [], False
    if s.children and not s.recipients:
        return [], True
    return [
        Problem(
            "program",
            "DUPLICATE_DEATH_CLAIM",
            f"claim {earlier} already covers this death under {s.program.value}; for a further year's "
            "scholarship, claim with the children only",
        )
    ], False


async def scholarship_history_problems(
    session: AsyncSession, participant: Participant, lines: list[BenefitLine]
) -> list[Problem]:
    """Scholarships are claimed yearly: per child and level at most the rule's years, at most two children
    over all claims, at most Rp174M in total."""
    new = [line for line in lines if line.kind is BenefitKind.SCHOLARSHIP and line.recipient is not None]
    if not new:
        return []
    rows = (
        await session.execute(
            select(ClaimBenefit.recipient_nik, ClaimBenefit.education_level, ClaimBenefit.amount)
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
                "TOO_MANY_CHILDREN",
                f"scholarships have already been claimed for other children; at most {SCHOLARSHIP_MAX_CHILDREN} in all",
            )
        )
    for i, line in enumerate(new):
        assert line.recipient is not None
        assert line.rule is not None
        years = sum(1 for row in rows if row[0] == line.recipient.nik and row[1] == line.education_level)
        if line.rule.max_years is not None and years >= line.rule.max_years:
            level = line.education_level.value if line.education_level else "?"
            problems.append(
                Problem(
                    f"children[{i}]",
                    "YEARS_EXHAUSTED",
                    f"this child has had {years} years of the {level} scholarship; the rule pays {line.rule.max_years}",
                )
            )
    total = sum((row[2] for row in rows), Decimal(0)) + sum((line.amount for line in new), Decimal(0))
    if total > SCHOLARSHIP_TOTAL_CAP:
        problems.append(
            Problem(
                "children",
                "CAP_EXCEEDED",
                f"scholarships would total Rp{total:,}; the cap is Rp{SCHOLARSHIP_TOTAL_CAP:,} per participant",
            )
        )
    return problems
