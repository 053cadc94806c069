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
from domain.beneficiaries.codes import BeneficiaryCode
from domain.beneficiaries.models import PovertyBeneficiary
from domain.participants.budget_payer import default_payer, payer_problems
from domain.participants.codes import ContributionCode, ParticipantCode
from domain.participants.contributions import NoPrice, PackageRule, bpu_package, package_price
from domain.participants.ledger import ContributionItem, price_of_month, record_contributions
from domain.participants.models import FundingSource, Participant
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


@dataclass(frozen=True)
class Terms:
    """What an enrolment in `programs` means on a day: the programmes, their BPU package and its price."""

    programs: frozenset[Program]
    package: PackageRule | None
    price: Decimal | None


def enrolment_terms(programs: set[Program] | None, today: dt.date) -> Terms:
    wanted = frozenset(programs or {Program.JKK, Program.JKM})
    package = bpu_package(wanted, today)
    return Terms(wanted, package, package_price(package, today).amount if package else None)


def enrolment_problems(
    beneficiary: PovertyBeneficiary,
    terms: Terms,
    funding: FundingSource,
    *,
    allow_non_extreme_poor: bool = False,
    payer: str | None = None,
) -> list[Problem]:
    """Why `beneficiary` may not be enrolled on these terms (empty: they may), in the order they are reported.

    The one statement of the enrolment rules: the single enrolment and the set-based one both call it.
    """
    problems: list[Problem] = []
    wanted = set(terms.programs)
    if terms.package is None and not program_problems(Segment.BPU, wanted):
        # Never an uncovered worker: a package the rule table does not price is refused, not created unpaid.
        problems.append(
            Problem(
                "programs",
                ContributionCode.NO_PRICE,
                f"no BPU package of {' + '.join(sorted(p.value for p in wanted))} is priced by the contribution "
                "rules; enrol JKK + JKM, or JKK + JKM + JHT",
            )
        )
    if not beneficiary.extreme_poor and not allow_non_extreme_poor:
        problems.append(
            Problem(
                "beneficiaryId",
                BeneficiaryCode.NOT_EXTREME_POOR,
                f"this beneficiary is not flagged extreme-poor by {beneficiary.source.value} (decile "
                f"{beneficiary.decile}); pass allowNonExtremePoor: true to enrol them anyway",
            )
        )
    problems += [
        Problem("programs", ParticipantCode.PROGRAM_NOT_ALLOWED, m) for m in program_problems(Segment.BPU, wanted)
    ]
    problems += [
        Problem("funding", ParticipantCode.FUNDING_NOT_ALLOWED, m) for m in funding_problems(Segment.BPU, funding)
    ]
    if payer is not None and funding is FundingSource.APBD:
        problems += payer_problems(payer, beneficiary.region_code)
    return problems


async def enroll_beneficiary(
    session: AsyncSession,
    caller: Caller,
    beneficiary_id: int,
    *,
    programs: set[Program] | None = None,
    funding: FundingSource = FundingSource.APBD,
    allow_non_extreme_poor: bool = False,
    payer: str | None = None,
) -> Enrolment:
    """Make an extreme-poor beneficiary a BPU participant (JKK + JKM, regionally funded), or link them to the
    participant who already holds their NIK. Calling it again changes nothing and returns the same participant.

    `payer` is the regional budget that pays (checked by :func:`domain.participants.budget_payer.check_payer`
    before); None: the caller's own, or the person's regency for a national caller.
    """
    beneficiary = await load_visible(session, caller, PovertyBeneficiary, beneficiary_id, "beneficiary")
    terms = enrolment_terms(programs, dt.date.today())
    wanted, package, price = set(terms.programs), terms.package, terms.price
    problems = enrolment_problems(
        beneficiary, terms, funding, allow_non_extreme_poor=allow_non_extreme_poor, payer=payer
    )
    if problems:
        raise Invalid(problems)
    holder_id = beneficiary.participant_id or await session.scalar(
        select(Participant.id).where(Participant.nik == beneficiary.nik)
    )
    if holder_id is not None:
        holder = await session.get(Participant, holder_id, populate_existing=True)
        assert holder is not None
        return await _enrol_holder(session, caller, beneficiary, holder, wanted, funding, price, payer)
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
    if package is not None and participant.monthly_wage is None:
        # The package declares an income: the wage of a JKK death or disability benefit for its holder.
        participant.monthly_wage = package.declared_income
        await session.flush()
    paid = await _pay_first_month(session, caller, participant, funding, price, payer)
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
            "first_payment": {"before": None, "after": paid},
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
    payer: str | None,
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
        current = set(before["programs"])
        missing = {p for p in wanted if p.value not in current}
        if missing:
            await replace_programs(session, holder, {Program(p) for p in current} | missing)
            if not session.is_modified(holder):
                holder.version += 1
        changes.update(audit.diff(before, await snapshot(session, holder)))
    if adopt:
        this_month = dt.date.today().replace(day=1)
        paid_now = holder.paid_through is not None and holder.paid_through >= this_month
        if not paid_now and price is not None:
            await flush_versioned(session, "participant", holder.membership_number)
            reference = await _pay_first_month(session, caller, holder, funding, price, payer)
            if reference is not None:
                changes["first_payment"] = {"before": None, "after": reference}
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


def first_payment_reference(participant_id: int, month: dt.date) -> str:
    """The first month's payment of an enrolment: one per participant and month (its idempotency key)."""
    return f"INPRES4-{participant_id}-{month:%Y%m}"


async def _pay_first_month(
    session: AsyncSession,
    caller: Caller,
    participant: Participant,
    funding: FundingSource,
    price: Decimal | None,
    payer: str | None,
) -> str | None:
    """Under Inpres 4/2022 the funding government pays from the enrolment month: record that month's payment
    (which makes the worker ACTIVE at once). A self-paying worker pays their own first month. Returns the
    payment's reference, or None when nothing was recorded."""
    if funding is FundingSource.SELF or price is None:
        return None
    month = dt.date.today().replace(day=1)
    try:
        amount = (await price_of_month(session, participant, month)).amount
    except NoPrice:
        return None  # PMI and JAKON are not priced per month: nothing to record here
    payer_region = None
    if funding is FundingSource.APBD:
        payer_region = payer or default_payer(caller) or participant.regency_code or participant.province_code
    reference = first_payment_reference(participant.id, month)
    await record_contributions(
        session,
        caller,
        [
            ContributionItem(
                participant_id=participant.id,
                months=1,
                amount=amount,
                payer=funding,
                reference=reference,
                payer_region_code=payer_region,
                from_month=month,
            )
        ],
    )
    return reference
