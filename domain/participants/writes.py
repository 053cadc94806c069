"""Writes of the participant family: registration and corrections (beneficiary enrolment: beneficiary_enrolment).

Every function runs inside the caller's transaction (the request owns it: functions flush, never commit)
and appends its audit event to the same transaction, so a write and its audit record exist together or
not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.beneficiaries.models import PovertyBeneficiary
from domain.db import one_of
from domain.nik import InvalidNIK, Sex, mask_identifier, parse_nik
from domain.participants.codes import ParticipantCode
from domain.participants.ledger import recompute_participant_figures
from domain.participants.models import Employer, FundingSource, Participant, ParticipantProgram, ParticipantStatus
from domain.participants.phone import InvalidPhoneNumber, parse_phone_number
from domain.participants.rules import Program, Segment, funding_problems, program_problems, working_age_problems
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel, placement
from domain.text import clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.corrections import check_version, require_change, save_correction
from domain.writes.errors import Invalid, Problem
from domain.writes.placement import village_problems, visible_placement
from domain.writes.reasons import check_reason
from domain.writes.validation import check_parsed_nik, nik_district_exists, validate_nik
from domain.writes.visible import load_visible

MAX_WAGE = Decimal("1000000000")  # Rp1 billion a month: above this a figure is a typo, not a wage

#: Fields recorded in the audit trail, with their before/after values.
AUDITED = (
    "nik",
    "full_name",
    "birth_date",
    "sex",
    "segment",
    "status",
    "funding_source",
    "region_code",
    "employer_id",
    "monthly_wage",
    "phone_number",
    "paid_through",
    "contribution_months",
    "died_on",
    "retired_on",
    "programs",
)

#: Statuses derived from the contribution ledger: a person cannot set them, a payment does.
_DERIVED_STATUSES = (ParticipantStatus.ACTIVE, ParticipantStatus.INACTIVE)


@dataclass
class Registration:
    nik: str
    full_name: str
    birth_date: dt.date
    sex: Sex
    segment: Segment
    funding_source: FundingSource
    region_code: str
    programs: set[Program]
    employer_registration_number: str | None = None
    monthly_wage: Decimal | None = None
    #: As typed (08…, +628…, 628…); stored as E.164. None or empty: no number.
    phone_number: str | None = None


@dataclass
class ParticipantChanges:
    """A correction: only the fields that are not None change."""

    nik: str | None = None
    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    status: ParticipantStatus | None = None
    funding_source: FundingSource | None = None
    region_code: str | None = None
    monthly_wage: Decimal | None = None
    #: A new number as typed; the empty string removes the number.
    phone_number: str | None = None
    #: Refused when given: paid-through is derived from the contribution ledger (kept so that a caller who
    #: still sends it gets a clear error instead of a silent no-op).
    paid_through: dt.date | None = None
    programs: set[Program] | None = None


async def snapshot(session: AsyncSession, p: Participant) -> dict[str, Any]:
    programs = (
        await session.scalars(select(ParticipantProgram.program).where(ParticipantProgram.participant_id == p.id))
    ).all()
    return snapshot_of({name: getattr(p, name) for name in AUDITED if name != "programs"}, programs)


def snapshot_of(columns: Mapping[str, Any], programs: Iterable[Program]) -> dict[str, Any]:
    """The audited values of a participant from its columns and programmes (absent columns are None)."""
    values = {name: columns.get(name) for name in AUDITED if name != "programs"}
    values["programs"] = sorted(str(x) for x in programs)
    return values


def _wage_problems(wage: Decimal | None, segment: Segment) -> list[Problem]:
    if wage is None:
        if segment is Segment.PU:
            return [Problem("monthlyWage", WriteCode.REQUIRED, "a wage earner (PU) needs the monthly wage")]
        return []
    if wage < 0:
        return [Problem("monthlyWage", ParticipantCode.NEGATIVE, "the monthly wage cannot be negative")]
    if wage > MAX_WAGE:
        return [
            Problem(
                "monthlyWage",
                ParticipantCode.ABSURD,
                f"a monthly wage of Rp{wage:,} is not plausible; check the figure",
            )
        ]
    return []


def _phone_problems(raw: str | None) -> tuple[str | None, list[Problem]]:
    """The number in E.164, or None when none is given (None or blank), and what is wrong with it."""
    if raw is None or not raw.strip():
        return None, []
    try:
        return parse_phone_number(raw), []
    except InvalidPhoneNumber as exc:
        return None, [Problem("phoneNumber", ParticipantCode.INVALID_PHONE_NUMBER, str(exc))]


async def _nik_problems(
    session: AsyncSession, caller: Caller, raw: str, sex: Sex, birth: dt.date, own_id: int | None = None
) -> tuple[str, list[Problem]]:
    try:
        nik = (await validate_nik(session, raw, sex=sex, birth_date=birth, reveal=caller.sees_personal_data)).value
    except InvalidNIK as exc:
        return raw, [Problem("nik", WriteCode.INVALID_NIK, str(exc))]
    return nik, []


async def _duplicate_problems(
    session: AsyncSession, caller: Caller, nik: str, own_id: int | None = None
) -> list[Problem]:
    """Checked last, once everything else is valid, so that a request cannot be a free probe for NIKs."""
    existing = (await session.execute(select(Participant).where(Participant.nik == nik))).scalar_one_or_none()
    if existing is None or existing.id == own_id:
        return []
    who = (
        f"participant {existing.membership_number}"
        if caller.sees(existing.region_code)
        else "a participant outside your region"
    )
    return [Problem("nik", ParticipantCode.DUPLICATE_NIK, f"NIK {mask_identifier(nik)} is already registered to {who}")]


def membership_number_candidate(today: dt.date) -> str:
    """A KPJ as the branch issues them: two-digit year + nine random digits (whether it is free is checked)."""
    return f"{today.year % 100:02d}{secrets.randbelow(10**9):09d}"


async def _new_membership_number(session: AsyncSession, today: dt.date) -> str:
    """A KPJ not yet taken (unique index guards the rare race)."""
    for _ in range(20):
        candidate = membership_number_candidate(today)
        taken = await session.scalar(select(Participant.id).where(Participant.membership_number == candidate))
        if taken is None:
            return candidate
    raise RuntimeError("could not find a free membership number")


@dataclass(frozen=True, slots=True)
class Lookups:
    """What the rules of a registration read from the database, looked up beforehand (one key for a single
    registration, a list's keys at once for the set-based import)."""

    #: Level of each region code named (absent: no such region).
    regions: Mapping[str, RegionLevel]
    #: District codes that exist (the NIK's first six digits must name one).
    districts: Container[str]
    #: Employers by registration number: (id, region code).
    employers: Mapping[str, tuple[int, str]]


@dataclass(frozen=True, slots=True)
class Checked:
    """A registration's values as stored, once its rules passed."""

    nik: str
    full_name: str
    region_code: str
    employer_id: int | None
    #: E.164 (domain.participants.phone), or None when none was given.
    phone_number: str | None


def registration_problems(
    caller: Caller, data: Registration, lookups: Lookups, today: dt.date
) -> tuple[Checked, list[Problem]]:
    """Every rule of a registration but the duplicate NIK (checked last, see :func:`_duplicate_problems`).
    Raises :class:`OutOfRegion` for a village outside the caller's region."""
    problems: list[Problem] = []
    full_name, name_problems = clean_text(data.full_name, "fullName", max_length=200)
    problems += name_problems
    try:
        parsed = RegionCode.parse(data.region_code)
    except InvalidRegionCode as exc:
        region_code, region_problems = (
            data.region_code,
            [Problem("regionCode", RegionErrorCode.INVALID_REGION, str(exc))],
        )
    else:
        region_code, region_problems = village_problems(caller, parsed, lookups.regions.get(parsed.code), "regionCode")
    problems += region_problems
    nik = data.nik
    try:
        found = parse_nik(data.nik)
        nik = check_parsed_nik(
            found,
            district_exists=found.district_code in lookups.districts,
            sex=data.sex,
            birth_date=data.birth_date,
            reveal=caller.sees_personal_data,
        ).value
    except InvalidNIK as exc:
        problems.append(Problem("nik", WriteCode.INVALID_NIK, str(exc)))
    problems += [
        Problem("programs", ParticipantCode.PROGRAM_NOT_ALLOWED, m)
        for m in program_problems(data.segment, data.programs)
    ]
    problems += [
        Problem("fundingSource", ParticipantCode.FUNDING_NOT_ALLOWED, m)
        for m in funding_problems(data.segment, data.funding_source)
    ]
    problems += _wage_problems(data.monthly_wage, data.segment)
    phone_number, phone_problems = _phone_problems(data.phone_number)
    problems += phone_problems
    problems += [
        Problem("birthDate", ParticipantCode.BELOW_WORKING_AGE, m) for m in working_age_problems(data.birth_date, today)
    ]
    employer_id: int | None = None
    if data.segment is Segment.PU:
        employer = lookups.employers.get(data.employer_registration_number or "")
        if employer is None or not caller.sees(employer[1]):
            problems.append(
                Problem(
                    "employerRegistrationNumber",
                    ParticipantCode.UNKNOWN_EMPLOYER,
                    "a wage earner needs a registered employer",
                )
            )
        else:
            employer_id = employer[0]
    return Checked(nik, full_name, region_code, employer_id, phone_number), problems


async def _lookups(session: AsyncSession, data: Registration) -> Lookups:
    regions: dict[str, RegionLevel] = {}
    with contextlib.suppress(InvalidRegionCode):
        code = RegionCode.parse(data.region_code).code
        level = await session.scalar(select(Region.level).where(Region.code == code))
        if level is not None:
            regions[code] = level
    districts: set[str] = set()
    with contextlib.suppress(InvalidNIK):
        nik = parse_nik(data.nik)
        if await nik_district_exists(session, nik):
            districts.add(nik.district_code)
    employers: dict[str, tuple[int, str]] = {}
    if data.segment is Segment.PU and data.employer_registration_number:
        row = (
            await session.execute(
                select(Employer.id, Employer.region_code).where(
                    Employer.registration_number == data.employer_registration_number
                )
            )
        ).first()
        if row is not None:
            employers[data.employer_registration_number] = (row[0], row[1])
    return Lookups(regions, districts, employers)


async def register_participant(session: AsyncSession, caller: Caller, data: Registration) -> Participant:
    checked, problems = registration_problems(caller, data, await _lookups(session, data), dt.date.today())
    nik, full_name, region_code, employer_id = checked.nik, checked.full_name, checked.region_code, checked.employer_id
    if problems:
        raise Invalid(problems)
    problems = await _duplicate_problems(session, caller, nik)
    if problems:
        raise Invalid(problems)
    today = dt.date.today()
    participant = Participant(
        membership_number=await _new_membership_number(session, today),
        nik=nik,
        full_name=full_name,
        birth_date=data.birth_date,
        sex=data.sex,
        segment=data.segment,
        # Nothing is paid yet, and status is derived from the ledger: active once the current month is paid.
        status=ParticipantStatus.INACTIVE,
        funding_source=data.funding_source,
        employer_id=employer_id,
        monthly_wage=data.monthly_wage,
        phone_number=checked.phone_number,
        paid_through=None,
        contribution_months=0,
        **placement(region_code),
    )
    session.add(participant)
    await session.flush()
    session.add_all(
        ParticipantProgram(participant_id=participant.id, program=p, segment=data.segment, since=today)
        for p in sorted(data.programs)
    )
    await _link_beneficiaries(session, participant)
    await session.flush()
    await audit.record(
        session,
        actor=caller.actor,
        action="participant.register",
        entity_type="Participant",
        entity_id=participant.id,
        changes=audit.diff({}, await snapshot(session, participant)),
        meta=caller.meta,
    )
    return participant


async def _link_beneficiaries(session: AsyncSession, participant: Participant) -> None:
    """Match by NIK: every registry record of this person points at the participant."""
    await session.execute(
        update(PovertyBeneficiary)
        .where(PovertyBeneficiary.nik == participant.nik, PovertyBeneficiary.participant_id.is_(None))
        .values(participant_id=participant.id, version=PovertyBeneficiary.version + 1)
    )


async def link_beneficiaries_by_nik(session: AsyncSession, niks: Sequence[str]) -> None:
    """:func:`_link_beneficiaries` for many participants: one UPDATE per thousand NIKs."""
    b = PovertyBeneficiary
    holder = select(Participant.id).where(Participant.nik == b.nik).scalar_subquery()
    for start in range(0, len(niks), 1000):
        await session.execute(
            update(b)
            .where(one_of(session, b.nik, niks[start : start + 1000]), b.participant_id.is_(None))
            .values(participant_id=holder, version=b.version + 1)
            .execution_options(synchronize_session=False)
        )


async def load_visible_participant(session: AsyncSession, caller: Caller, participant_id: int) -> Participant:
    return await load_visible(session, caller, Participant, participant_id, "participant")


async def update_participant(
    session: AsyncSession,
    caller: Caller,
    participant_id: int,
    changes: ParticipantChanges,
    *,
    expected_version: int,
    reason: str,
    reason_code: str | None = None,
) -> Participant:
    participant = await load_visible_participant(session, caller, participant_id)
    check_version("participant", participant.membership_number, expected_version, participant.version)
    reason_text, code, problems = check_reason(reason, reason_code)
    before = await snapshot(session, participant)
    sex = changes.sex or participant.sex
    birth = changes.birth_date or participant.birth_date
    if changes.full_name is not None:
        participant.full_name, name_problems = clean_text(changes.full_name, "fullName", max_length=200)
        problems += name_problems
    nik_changed = changes.nik is not None and changes.nik != participant.nik
    if changes.nik is not None or changes.sex is not None or changes.birth_date is not None:
        nik, nik_problems = await _nik_problems(
            session, caller, changes.nik or participant.nik, sex, birth, own_id=participant.id
        )
        problems += nik_problems or await _duplicate_problems(session, caller, nik, own_id=participant.id)
        if not nik_problems:
            participant.nik, participant.sex, participant.birth_date = nik, sex, birth
    if changes.region_code is not None:
        placed, region_problems = await visible_placement(session, caller, changes.region_code, "regionCode")
        problems += region_problems
        for column, value in placed.items():
            setattr(participant, column, value)
    if changes.funding_source is not None:
        problems += [
            Problem("fundingSource", ParticipantCode.FUNDING_NOT_ALLOWED, m)
            for m in funding_problems(participant.segment, changes.funding_source)
        ]
        participant.funding_source = changes.funding_source
    if changes.monthly_wage is not None:
        problems += _wage_problems(changes.monthly_wage, participant.segment)
        participant.monthly_wage = changes.monthly_wage
    if changes.phone_number is not None:
        phone_number, phone_problems = _phone_problems(changes.phone_number)
        problems += phone_problems
        if not phone_problems:
            participant.phone_number = phone_number
    rederive = False
    if changes.status is not None and changes.status != participant.status:
        if changes.status in _DERIVED_STATUSES and participant.status in _DERIVED_STATUSES:
            problems.append(
                Problem(
                    "status",
                    ParticipantCode.DERIVED_FIELD,
                    "ACTIVE and INACTIVE follow the contribution ledger (paid for the current month or not); "
                    "record the payment with recordContributions",
                )
            )
        else:
            rederive = changes.status in _DERIVED_STATUSES  # leaving DECEASED/RETIRED: the ledger decides
            if participant.status is ParticipantStatus.DECEASED:
                participant.died_on = None
            participant.retired_on = dt.date.today() if changes.status is ParticipantStatus.RETIRED else None
            participant.status = changes.status
    if changes.paid_through is not None:
        problems.append(
            Problem(
                "paidThrough",
                ParticipantCode.DERIVED_FIELD,
                "paid-through is counted from the recorded contributions, never typed in; "
                "record the payment with recordContributions",
            )
        )
    if changes.programs is not None:
        problems += [
            Problem("programs", ParticipantCode.PROGRAM_NOT_ALLOWED, m)
            for m in program_problems(participant.segment, changes.programs)
        ]
    if problems:
        raise Invalid(problems)
    if changes.programs is not None:
        await replace_programs(session, participant, changes.programs)
    changed = audit.diff(before, await snapshot(session, participant))
    require_change(changed)
    if changes.programs is not None and not session.is_modified(participant):
        participant.version += 1  # a change of enrolments is a change of the participant
    if nik_changed:
        # Registry records matched under the old NIK belonged to someone else; re-match under the new one.
        await session.execute(
            update(PovertyBeneficiary)
            .where(PovertyBeneficiary.participant_id == participant.id)
            .values(participant_id=None, version=PovertyBeneficiary.version + 1)
        )
    await save_correction(
        session,
        caller,
        entity="participant",
        key=participant.membership_number,
        entity_type="Participant",
        entity_id=participant.id,
        changed=changed,
        reason=reason_text,
        reason_code=code.value if code else None,
    )
    if nik_changed:
        await _link_beneficiaries(session, participant)
    if rederive:
        await recompute_participant_figures(session, [participant.id])
    return participant


async def replace_programs(session: AsyncSession, participant: Participant, programs: set[Program]) -> None:
    current = set(
        (
            await session.scalars(
                select(ParticipantProgram.program).where(ParticipantProgram.participant_id == participant.id)
            )
        ).all()
    )
    removed, added = current - programs, programs - current
    if removed:
        await session.execute(
            delete(ParticipantProgram).where(
                ParticipantProgram.participant_id == participant.id, ParticipantProgram.program.in_(removed)
            )
        )
    today = dt.date.today()
    session.add_all(
        ParticipantProgram(participant_id=participant.id, program=p, segment=participant.segment, since=today)
        for p in sorted(added)
    )
