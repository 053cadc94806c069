"""Claim writes: submission and the status workflow.

Eligibility and benefit amounts come from :mod:`domain.claims.rules`; status changes follow
:data:`domain.claims.models.TRANSITIONS`. Every function runs inside the caller's transaction and appends its
audit event to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from domain.audit import writes as audit
from domain.claims.benefits import JP_START
from domain.claims.codes import ClaimCode
from domain.claims.models import (
    PROGRAM_CAUSES,
    Claim,
    ClaimBenefit,
    ClaimCause,
    ClaimEvent,
    ClaimStatus,
    InvalidTransition,
    Relationship,
    check_transition,
)
from domain.claims.rules import (
    DEATH_KINDS,
    JKP_WINDOW_MONTHS,
    MAX_CLAIMED,
    ClaimSubmission,
    LedgerFacts,
    benefit_lines,
    coverage_problems,
    death_history_problems,
    life_event_problems,
    people_problems,
    scholarship_history_problems,
)
from domain.db import utcnow
from domain.participants.ledger import months_within, paid_ranges
from domain.participants.models import Contribution, Participant, ParticipantProgram, ParticipantStatus
from domain.participants.months import month_number, month_start
from domain.participants.rules import Program
from domain.participants.writes import load_visible_participant
from domain.text import MAX_NOTE_LENGTH, clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.corrections import check_version, flush_versioned
from domain.writes.errors import Conflict, Invalid, Problem, Refused, invalid
from domain.writes.visible import load_visible


def _namespaced_key(caller: Caller, key: str) -> str:
    # Keys are the caller's own: the same key from two callers names two submissions.
    return hashlib.sha256(f"{caller.actor.subject}\x1f{key}".encode()).hexdigest()


async def _claim_the_death(session: AsyncSession, participant: Participant) -> None:
    """Bump the participant's version so that two death claims submitted at once cannot both pass the
    duplicate check: the second finds the version moved and gets CONFLICT."""
    number, version = participant.membership_number, participant.version
    result = await session.execute(
        update(Participant)
        .where(Participant.id == participant.id, Participant.version == version)
        .values(version=version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("participant", number, None, None)


async def _new_claim_number(session: AsyncSession, today: dt.date) -> str:
    for _ in range(20):
        candidate = f"KLM-{today.year}-{secrets.randbelow(10**10):010d}"
        if await session.scalar(select(Claim.id).where(Claim.claim_number == candidate)) is None:
            return candidate
    raise RuntimeError("could not find a free claim number")


async def submit_claim(session: AsyncSession, caller: Caller, s: ClaimSubmission) -> tuple[Claim, bool]:
    """Create a claim, or return the one an earlier call with the same idempotency key created.

    Returns the claim and whether it was created now.
    """
    key = _namespaced_key(caller, s.idempotency_key) if s.idempotency_key else None
    if key is not None:
        earlier = await session.scalar(select(Claim).where(Claim.idempotency_key == key))
        if earlier is not None:
            if (earlier.participant_id, earlier.program) != (s.participant_id, s.program):
                raise invalid(
                    "idempotencyKey",
                    ClaimCode.KEY_REUSED,
                    f"you used this idempotency key for claim {earlier.claim_number}, a different submission; "
                    "use a new key for a new claim",
                )
            return earlier, False
    participant = await load_visible_participant(session, caller, s.participant_id)
    today = dt.date.today()
    problems: list[Problem] = []
    if s.incident_date > today:
        problems.append(Problem("incidentDate", WriteCode.IN_FUTURE, "the incident date is in the future"))
    if s.cause not in PROGRAM_CAUSES[s.program]:
        causes = ", ".join(sorted(PROGRAM_CAUSES[s.program]))
        problems.append(
            Problem("cause", ClaimCode.CAUSE_NOT_COVERED, f"{s.program.value} pays for {causes}, not {s.cause.value}")
        )
    if s.amount_claimed is not None and not Decimal(0) <= s.amount_claimed <= MAX_CLAIMED:
        problems.append(
            Problem("amountClaimed", WriteCode.OUT_OF_RANGE, f"the amount must be between 0 and Rp{MAX_CLAIMED:,}")
        )
    note, note_problems = clean_text(s.note or "", "note", max_length=MAX_NOTE_LENGTH, required=False)
    problems += note_problems
    rows = await session.execute(
        select(ParticipantProgram.program, ParticipantProgram.since).where(
            ParticipantProgram.participant_id == participant.id
        )
    )
    held: dict[Program, dt.date] = {row[0]: row[1] for row in rows}
    ranges = await paid_ranges(session, participant.id)
    incident = month_number(s.incident_date)
    # JP's months: the ledger's months from the later of JP's start and the participant's JP enrolment.
    jp_from = month_number(max(JP_START, held.get(Program.JP, JP_START)))
    ledger = LedgerFacts(
        paid_in_incident_month=months_within(ranges, incident, incident) > 0,
        months_before_incident=months_within(ranges, incident - JKP_WINDOW_MONTHS + 1, incident),
        months_to_incident=months_within(ranges, 0, incident),
        jp_months_to_incident=months_within(ranges, jp_from, incident) if Program.JP in held else 0,
    )
    problems += coverage_problems(participant, held, s, ledger)
    problems += life_event_problems(participant, s, today)
    problems += await people_problems(session, participant, s.recipients, "recipients")
    problems += await people_problems(session, participant, s.children, "children")
    if problems:
        raise Invalid(problems)
    problems, scholarship_only = await death_history_problems(session, participant, s)
    if problems:
        raise Invalid(problems)
    lines, problems = benefit_lines(participant, s, today, ledger, scholarship_only=scholarship_only)
    problems += await scholarship_history_problems(session, participant, lines, today)
    if problems:
        raise Invalid(problems)
    if s.cause is ClaimCause.DEATH and not scholarship_only:
        await _claim_the_death(session, participant)
    claim = Claim(
        claim_number=await _new_claim_number(session, today),
        participant_id=participant.id,
        program=s.program,
        status=ClaimStatus.SUBMITTED,
        incident_date=s.incident_date,
        submitted_at=utcnow(),
        idempotency_key=key,
        region_code=participant.region_code,
        province_code=participant.province_code,
        regency_code=participant.regency_code,
        district_code=participant.district_code,
    )
    session.add(claim)
    await session.flush()
    session.add_all(
        ClaimBenefit(
            claim_id=claim.id,
            kind=line.kind,
            recipient_name=clean_text(line.recipient.name, "name", max_length=200)[0]
            if line.recipient
            else participant.full_name,
            recipient_nik=line.recipient.nik if line.recipient else participant.nik,
            relationship=line.recipient.relationship if line.recipient else Relationship.SELF,
            education_level=line.education_level,
            amount=line.amount,
            rule_id=line.rule.id if line.rule else None,
        )
        for line in lines
    )
    session.add(
        ClaimEvent(claim_id=claim.id, status=ClaimStatus.SUBMITTED, actor=caller.actor.subject, note=note or None)
    )
    await session.flush()
    await audit.record(
        session,
        actor=caller.actor,
        action="claim.submit",
        entity_type="Claim",
        entity_id=claim.id,
        changes={
            "status": {"before": None, "after": ClaimStatus.SUBMITTED.value},
            "program": {"before": None, "after": s.program.value},
            "cause": {"before": None, "after": s.cause.value},
            "benefits": {
                "before": None,
                "after": [
                    {
                        "kind": line.kind.value,
                        "amount": str(line.amount),
                        "rule": line.rule.id if line.rule else None,
                        "recipient_nik": line.recipient.nik if line.recipient else None,
                    }
                    for line in lines
                ],
            },
        },
        meta=caller.meta,
    )
    return claim, True


async def _load_claim(session: AsyncSession, caller: Caller, claim_id: int) -> Claim:
    return await load_visible(session, caller, Claim, claim_id, "claim")


async def _move(
    session: AsyncSession,
    caller: Caller,
    claim_id: int,
    target: ClaimStatus,
    expected_version: int,
    note: str | None,
    **updates: object,
) -> Claim:
    claim = await _load_claim(session, caller, claim_id)
    check_version("claim", claim.claim_number, expected_version, claim.version)
    try:
        check_transition(claim.status, target)
    except InvalidTransition as exc:
        raise invalid("id", ClaimCode.INVALID_TRANSITION, str(exc)) from None
    before = {"status": claim.status, **{k: getattr(claim, k) for k in updates}}
    if target is ClaimStatus.APPROVED:
        if claim.verified_by == caller.actor.subject:
            raise Refused("you verified this claim, so someone else must approve it (separation of duties)")
        benefits = (await session.scalars(select(ClaimBenefit.amount).where(ClaimBenefit.claim_id == claim.id))).all()
        updates["amount_approved"] = sum(benefits, Decimal(0))
        before["amount_approved"] = claim.amount_approved
    number = claim.claim_number  # read before the flush: a failed flush expires the object
    claim.status = target
    for name, value in updates.items():
        setattr(claim, name, value)
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict("claim", number, None, None) from None
    session.add(ClaimEvent(claim_id=claim.id, status=target, actor=caller.actor.subject, note=note))
    after = {"status": claim.status, **{k: getattr(claim, k) for k in updates}}
    await audit.record(
        session,
        actor=caller.actor,
        action=f"claim.{_VERBS[target]}",
        entity_type="Claim",
        entity_id=claim.id,
        changes=audit.diff(before, after),
        reason=note,
        meta=caller.meta,
    )
    return claim


_VERBS = {
    ClaimStatus.VERIFIED: "verify",
    ClaimStatus.APPROVED: "approve",
    ClaimStatus.PAID: "pay",
    ClaimStatus.REJECTED: "reject",
}


def _optional_note(note: str | None) -> str | None:
    if note is None:
        return None
    text, problems = clean_text(note, "note", max_length=MAX_NOTE_LENGTH, required=False)
    if problems:
        raise Invalid(problems)
    return text or None


async def verify_claim(
    session: AsyncSession, caller: Caller, claim_id: int, expected_version: int, note: str | None
) -> Claim:
    return await _move(
        session,
        caller,
        claim_id,
        ClaimStatus.VERIFIED,
        expected_version,
        _optional_note(note),
        verified_by=caller.actor.subject,
    )


async def approve_claim(
    session: AsyncSession, caller: Caller, claim_id: int, expected_version: int, note: str | None
) -> Claim:
    return await _move(
        session,
        caller,
        claim_id,
        ClaimStatus.APPROVED,
        expected_version,
        _optional_note(note),
        approved_by=caller.actor.subject,
    )


async def pay_claim(
    session: AsyncSession, caller: Caller, claim_id: int, expected_version: int, payment_reference: str
) -> Claim:
    reference, problems = clean_text(payment_reference, "paymentReference", max_length=64)
    if problems:
        raise Invalid(problems)
    claim = await _move(
        session,
        caller,
        claim_id,
        ClaimStatus.PAID,
        expected_version,
        f"payment {reference}",
        payment_reference=reference,
        paid_at=utcnow(),
    )
    await _record_death(session, caller, claim)
    return claim


async def _record_death(session: AsyncSession, caller: Caller, claim: Claim) -> None:
    """A paid death benefit (JKK or JKM) is the record of the death: the participant becomes DECEASED on the
    incident date, in the same transaction, so no later claim or payment can treat them as alive."""
    death = await session.scalar(
        select(ClaimBenefit.id).where(ClaimBenefit.claim_id == claim.id, ClaimBenefit.kind.in_(DEATH_KINDS)).limit(1)
    )
    if death is None:
        return
    participant = await session.get(Participant, claim.participant_id, populate_existing=True)
    assert participant is not None
    if participant.status is ParticipantStatus.DECEASED and participant.died_on == claim.incident_date:
        return
    before = {"status": participant.status, "died_on": participant.died_on}
    number = participant.membership_number
    participant.status = ParticipantStatus.DECEASED
    participant.died_on = claim.incident_date
    await flush_versioned(session, "participant", number)
    changes = audit.diff(before, {"status": participant.status, "died_on": participant.died_on})
    refund = await _paid_after_death(session, participant.id, claim.incident_date)
    if refund:
        changes["refund_due"] = {"before": None, "after": refund}
    await audit.record(
        session,
        actor=caller.actor,
        action="participant.death",
        entity_type="Participant",
        entity_id=participant.id,
        changes=changes,
        reason=f"death benefit paid by claim {claim.claim_number}",
        meta=caller.meta,
    )


async def _paid_after_death(session: AsyncSession, participant_id: int, died_on: dt.date) -> list[dict[str, str]]:
    """The months paid in advance beyond the month of the death, per payment: not coverage (the dead are not
    covered, docs/adr/0011-regulations-exactly.md §4) but money to refund, flagged on the death's audit event."""
    death = month_number(died_on)
    rows = (
        await session.execute(
            select(Contribution.reference, Contribution.first_month, Contribution.last_month, Contribution.months,
                   Contribution.amount)
            .where(Contribution.participant_id == participant_id, Contribution.last_month > death)
            .order_by(Contribution.first_month)
        )
    ).all()  # fmt: skip
    due = []
    for reference, first, last, months, amount in rows:
        after = last - max(first, death + 1) + 1
        share = (amount * after / months).quantize(Decimal("0.01"))
        due.append(
            {"reference": reference, "from": month_start(max(first, death + 1)).isoformat(), "months": str(after),
             "amount": str(share)}
        )  # fmt: skip
    return due


async def reject_claim(
    session: AsyncSession, caller: Caller, claim_id: int, expected_version: int, reason: str
) -> Claim:
    text, problems = clean_text(reason, "reason", max_length=MAX_NOTE_LENGTH)
    if problems:
        raise Invalid(problems)
    return await _move(session, caller, claim_id, ClaimStatus.REJECTED, expected_version, text, rejection_reason=text)
