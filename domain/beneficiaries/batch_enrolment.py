"""Enrolling a whole list of beneficiaries (Inpres 4/2022) through the one enrolment function.

Each person goes through :func:`domain.beneficiaries.enrolment.enroll_beneficiary`, exactly as
``enrollBeneficiary`` does: the same rules (extreme-poor flag, the programmes and funder a BPU worker may
have, and any rule that function gains), the same idempotency (someone already enrolled is counted, not
enrolled twice) and one audit event per person it changes. Each runs in a savepoint, so one refusal does not
undo the others; the refusals are counted by reason. A dry run does the same work and the caller rolls the
transaction back, so its counts are what a real run would give at that moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from domain.beneficiaries.enrolment import enroll_beneficiary
from domain.beneficiaries.models import PovertyBeneficiary
from domain.codes import UserErrorCode
from domain.participants.models import FundingSource, Participant
from domain.participants.rules import Program
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Conflict, Invalid, NotFound, Problem
from domain.writes.transactions import open_write_transaction


@dataclass(frozen=True, slots=True)
class Refusal:
    beneficiary_id: int
    code: UserErrorCode
    message: str


@dataclass
class BatchEnrolment:
    """What enrolling a list did: participants created, beneficiaries linked to an existing participant,
    people already enrolled (nothing to do), and refusals with their reasons."""

    created: int = 0
    linked: int = 0
    unchanged: int = 0
    refused: int = 0
    #: What the funder pays per month for everyone this call enrolled or adopted (package price each).
    monthly_cost: Decimal = Decimal(0)
    refusals: list[Refusal] = field(default_factory=list)
    reasons: Counter[UserErrorCode] = field(default_factory=Counter)


async def enroll_beneficiaries(
    session: AsyncSession,
    caller: Caller,
    beneficiary_ids: Sequence[int],
    *,
    programs: set[Program] | None = None,
    funding: FundingSource = FundingSource.APBD,
    kept_refusals: int = 100,
) -> BatchEnrolment:
    """Enrol each of `beneficiary_ids` (already narrowed to the caller's region by the caller's query; the
    enrolment function checks the region again for each)."""
    outcome = BatchEnrolment()

    def refuse(bid: int, problem: Problem) -> None:
        outcome.refused += 1
        outcome.reasons[problem.code] += 1
        if len(outcome.refusals) < kept_refusals:
            outcome.refusals.append(Refusal(bid, problem.code, problem.message))

    if beneficiary_ids:
        await open_write_transaction(session)
    for bid in beneficiary_ids:
        try:
            async with session.begin_nested():
                before = await _holder_version(session, bid)
                result = await enroll_beneficiary(session, caller, bid, programs=programs, funding=funding)
        except Invalid as exc:
            refuse(bid, exc.problems[0])
            continue
        except NotFound as exc:
            refuse(bid, Problem("beneficiaryId", WriteCode.NOT_FOUND, str(exc)))
            continue
        except Conflict as exc:
            refuse(bid, Problem("beneficiaryId", WriteCode.CONFLICT, str(exc)))
            continue
        changed = result.created or before is None or before != (result.participant.id, result.participant.version)
        if result.created:
            outcome.created += 1
        elif changed:
            outcome.linked += 1
        else:
            outcome.unchanged += 1
        if changed and result.monthly_contribution is not None:
            outcome.monthly_cost += result.monthly_contribution
    return outcome


async def _holder_version(session: AsyncSession, beneficiary_id: int) -> tuple[int, int] | None:
    """The participant a beneficiary is linked to and that participant's version (None when unlinked)."""
    row = await session.get(PovertyBeneficiary, beneficiary_id)
    if row is None or row.participant_id is None:
        return None
    holder = await session.get(Participant, row.participant_id)
    return (holder.id, holder.version) if holder is not None else None
