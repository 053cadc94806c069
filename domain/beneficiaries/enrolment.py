"""Inpres 4/2022 enrolment: an extreme-poor beneficiary becomes, or is linked to, a BPU participant whose
JKK + JKM package a government budget pays. Runs inside the caller's transaction with its audit event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.beneficiaries.models import PovertyBeneficiary
from domain.participants.contributions import bpu_package
from domain.participants.models import FundingSource, Participant, ParticipantStatus
from domain.participants.rules import Program, Segment, funding_problems, program_problems
from domain.participants.writes import Registration, register_participant, replace_programs, snapshot
from domain.writes.caller import Caller
from domain.writes.corrections import flush_versioned
from domain.writes.errors import Conflict, Invalid, Problem
from domain.writes.visible import load_visible


@dataclass(frozen=True)
class Enrolment:
    participant: Participant
    created: bool
    monthly_contribution: Decimal | None


async def enroll_beneficiary(
    session: AsyncSession,
    caller: Caller,
    beneficiary_id: int,
    *,
    programs: set[Program] | None = None,
    funding: FundingSource = FundingSource.APBD,
    allow_non_extreme_poor: bool = False,
) -> Enrolment:
    """Make an extreme-poor beneficiary a BPU participant (JKK + JKM, regionally funded), or link them to the
    participant who already holds their NIK. Calling it again changes nothing and returns the same participant."""
    beneficiary = await load_visible(session, caller, PovertyBeneficiary, beneficiary_id, "beneficiary")
    wanted = programs or {Program.JKK, Program.JKM}
    package = bpu_package(frozenset(wanted), dt.date.today())
    price = package.monthly if package else None
    problems: list[Problem] = []
    if not beneficiary.extreme_poor and not allow_non_extreme_poor:
        problems.append(
            Problem(
                "beneficiaryId",
                "NOT_EXTREME_POOR",
                f"this beneficiary is not flagged extreme-poor by {beneficiary.source.value} (decile "
                f"{beneficiary.decile}); pass allowNonExtremePoor: true to enrol them anyway",
            )
        )
    problems += [Problem("programs", "PROGRAM_NOT_ALLOWED", m) for m in program_problems(Segment.BPU, wanted)]
    problems += [Problem("funding", "FUNDING_NOT_ALLOWED", m) for m in funding_problems(Segment.BPU, funding)]
    if problems:
        raise Invalid(problems)
    holder_id = beneficiary.participant_id or await session.scalar(
        select(Participant.id).where(Participant.nik == beneficiary.nik)
    )
    if holder_id is not None:
        holder = await session.get(Participant, holder_id, populate_existing=True)
        assert holder is not None
        return await _enrol_holder(session, caller, beneficiary, holder, wanted, funding, price)
    registration = Registration(
        nik=beneficiary.nik,
        full_name=beneficiary.full_name,
        birth_date=beneficiary.birth_date,
        sex=beneficiary.sex,
        segment=Segment.BPU,
        funding_source=funding,
        region_code=beneficiary.region_code,
        programs=set(wanted),
    )
    try:
        async with session.begin_nested():
            participant = await register_participant(session, caller, registration)
    except IntegrityError:
        raise Conflict("beneficiary", beneficiary_id, None, None) from None
    await session.refresh(beneficiary)
    await audit.record(
        session,
        actor=caller.actor,
        action="beneficiary.enroll",
        entity_type="PovertyBeneficiary",
        entity_id=beneficiary.id,
        changes={
            "participant_id": {"before": None, "after": participant.id},
            "monthly_contribution": {"before": None, "after": price},
            "package_rule": {"before": None, "after": package.id if package else None},
        },
        meta=caller.meta,
    )
    return Enrolment(participant, created=True, monthly_contribution=price)


async def _enrol_holder(
    session: AsyncSession,
    caller: Caller,
    beneficiary: PovertyBeneficiary,
    holder: Participant,
    wanted: set[Program],
    funding: FundingSource,
    price: Decimal | None,
) -> Enrolment:
    """The person already holds a membership: link the registry record, and if they are an informal worker
    in the caller's region, let the government fund them (reactivating a lapsed membership, adding JKK/JKM).
    A wage earner stays with the employer. A second call finds nothing to change and writes nothing."""
    changes: dict[str, Any] = {}
    if beneficiary.participant_id is None:
        changes["participant_id"] = {"before": None, "after": holder.id}
        beneficiary.participant_id = holder.id
    adopt = holder.segment in (Segment.BPU, Segment.PMI) and caller.sees(holder.region_code)
    if adopt:
        before = await snapshot(session, holder)
        if holder.funding_source != funding:
            holder.funding_source = funding
        if holder.status is ParticipantStatus.INACTIVE:
            holder.status = ParticipantStatus.ACTIVE
        current = set(before["programs"])
        missing = {p for p in wanted if p.value not in current}
        if missing:
            await replace_programs(session, holder, {Program(p) for p in current} | missing)
            if not session.is_modified(holder):
                holder.version += 1
        changes.update(audit.diff(before, await snapshot(session, holder)))
    if not changes:
        return Enrolment(holder, created=False, monthly_contribution=price if adopt else None)
    await flush_versioned(session, "participant", holder.membership_number)
    if adopt:
        changes["monthly_contribution"] = {"before": None, "after": price}
    await audit.record(
        session,
        actor=caller.actor,
        action="beneficiary.enroll",
        entity_type="PovertyBeneficiary",
        entity_id=beneficiary.id,
        changes=changes,
        meta=caller.meta,
    )
    return Enrolment(holder, created=False, monthly_contribution=price if adopt else None)
