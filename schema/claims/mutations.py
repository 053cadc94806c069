"""Claim mutations: submitClaim and the workflow (verifyClaim, approveClaim, payClaim, rejectClaim)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from auth.scopes import CLAIM_STEP_SCOPES, Scope
from domain.claims.models import Claim, ClaimStatus
from domain.claims.rules import ClaimSubmission, Recipient, ScholarshipChild
from domain.claims.writes import approve_claim, pay_claim, reject_claim, submit_claim, verify_claim
from domain.writes.caller import Caller
from schema.claims.types import ClaimNode
from schema.core import demand
from schema.core.bounds import PAYLOAD_ERRORS_SIZE
from schema.core.context import Info
from schema.core.enums import (
    ClaimCauseEnum,
    EducationLevelEnum,
    ProgramEnum,
    RelationshipEnum,
    ScholarshipEndEnum,
    domain_value,
)
from schema.core.permissions import needs
from schema.core.writes import UserError, require_local_id, run_write


@strawberry.input(description="An heir or other recipient of a benefit.")
class RecipientInput:
    name: str = strawberry.field(description="Full name.")
    nik: str = strawberry.field(description="National ID; cannot be the participant's own.")
    relationship: RelationshipEnum = strawberry.field(description="Relation to the participant.")


@strawberry.input(description="A child receiving the scholarship (at most two per claim).")
class ScholarshipChildInput:
    name: str = strawberry.field(description="Full name.")
    nik: str = strawberry.field(description="National ID.")
    education_level: EducationLevelEnum = strawberry.field(
        description="Current education level; it cannot go back below a level already paid for this child."
    )
    birth_date: dt.date | None = strawberry.field(
        default=None, description="Birth date (default: the one the NIK encodes); the scholarship ends at 23."
    )
    ended: ScholarshipEndEnum | None = strawberry.field(
        default=None, description="Declare that the child has married or started work: the scholarship has ended."
    )


@strawberry.input(description="A new claim.")
class SubmitClaimInput:
    participant_id: strawberry.ID = strawberry.field(description="Global id of the participant.")
    program: ProgramEnum = strawberry.field(description="Programme claimed on; the participant must hold it.")
    cause: ClaimCauseEnum = strawberry.field(description="What happened.")
    incident_date: dt.date = strawberry.field(description="Date of the death, accident, dismissal or retirement.")
    recipients: list[RecipientInput] = strawberry.field(
        default_factory=list, description="Heirs (death claims: at least one; spouse or children are paid first)."
    )
    scholarship_children: list[ScholarshipChildInput] = strawberry.field(
        default_factory=list, description="Children for the scholarship (JKK death/disability, JKM after 36 months)."
    )
    amount_claimed: Decimal | None = strawberry.field(
        default=None, description="For JHT, JP and JKK medical claims: the amount from the ledger or the bills."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Your key for this submission; a retry with the same key returns the first claim."
    )
    note: str | None = strawberry.field(default=None, description="Note for the history.")
    inability_months: int | None = strawberry.field(
        default=None,
        description="JKK work accident: months the participant could not work (paid 100 % of the wage for the "
        "first 12, then 50 %).",
    )


@strawberry.type(description="Result of a claim mutation.")
class ClaimPayload:
    written: strawberry.Private[ClaimNode | None]
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; empty on success.", directives=demand.bounded(PAYLOAD_ERRORS_SIZE)
    )

    @strawberry.federation.field(
        description="The claim as it is now (needs claims:read, like any read of one).", **needs(Scope.CLAIMS_READ)
    )
    def claim(self) -> ClaimNode | None:
        return self.written


def _payload(info: Info, row: Claim | None, errors: list[UserError]) -> ClaimPayload:
    return ClaimPayload(written=ClaimNode.from_row(row, info.context.principal) if row else None, errors=errors)


async def _transition(info: Info, work: Callable[[AsyncSession, Caller], Awaitable[Claim]]) -> ClaimPayload:
    row, errors = await run_write(info, work)
    return _payload(info, row, errors)


_Id = Annotated[strawberry.ID, strawberry.argument(description="Global id of the claim.")]
_Version = Annotated[int, strawberry.argument(description="The version you read; a stale one is a CONFLICT.")]


@strawberry.type
class ClaimMutation:
    @strawberry.federation.field(
        description="Submit a claim; benefits are computed from the rule table.", **needs(Scope.CLAIMS_WRITE)
    )
    async def submit_claim(
        self, info: Info, input: Annotated[SubmitClaimInput, strawberry.argument(description="The claim.")]
    ) -> ClaimPayload:
        submission = ClaimSubmission(
            participant_id=require_local_id(input.participant_id, "Participant"),
            program=domain_value(input.program),
            cause=domain_value(input.cause),
            incident_date=input.incident_date,
            recipients=[Recipient(r.name, r.nik, domain_value(r.relationship)) for r in input.recipients],
            children=[
                ScholarshipChild(c.name, c.nik, domain_value(c.education_level), c.birth_date, domain_value(c.ended))
                for c in input.scholarship_children
            ],
            amount_claimed=input.amount_claimed,
            idempotency_key=input.idempotency_key,
            note=input.note,
            inability_months=input.inability_months,
        )
        result, errors = await run_write(info, lambda s, c: submit_claim(s, c, submission))
        return _payload(info, result[0] if result else None, errors)

    @strawberry.federation.field(
        description="Documents assessed and complete: SUBMITTED → VERIFIED.",
        **needs(CLAIM_STEP_SCOPES[ClaimStatus.VERIFIED]),
    )
    async def verify_claim(
        self,
        info: Info,
        id: _Id,
        expected_version: _Version,
        note: Annotated[str | None, strawberry.argument(description="Note for the history.")] = None,
    ) -> ClaimPayload:
        claim_id = require_local_id(id, "Claim")
        return await _transition(info, lambda s, c: verify_claim(s, c, claim_id, expected_version, note))

    @strawberry.federation.field(
        description="Approve for payment: VERIFIED → APPROVED, by someone other than the verifier.",
        **needs(CLAIM_STEP_SCOPES[ClaimStatus.APPROVED]),
    )
    async def approve_claim(
        self,
        info: Info,
        id: _Id,
        expected_version: _Version,
        note: Annotated[str | None, strawberry.argument(description="Note for the history.")] = None,
    ) -> ClaimPayload:
        claim_id = require_local_id(id, "Claim")
        return await _transition(info, lambda s, c: approve_claim(s, c, claim_id, expected_version, note))

    @strawberry.federation.field(
        description="Record the payment: APPROVED → PAID.", **needs(CLAIM_STEP_SCOPES[ClaimStatus.PAID])
    )
    async def pay_claim(
        self,
        info: Info,
        id: _Id,
        expected_version: _Version,
        payment_reference: Annotated[str, strawberry.argument(description="Bank transfer reference.")],
    ) -> ClaimPayload:
        claim_id = require_local_id(id, "Claim")
        return await _transition(info, lambda s, c: pay_claim(s, c, claim_id, expected_version, payment_reference))

    @strawberry.federation.field(
        description="Reject a SUBMITTED or VERIFIED claim, with a reason.",
        **needs(CLAIM_STEP_SCOPES[ClaimStatus.REJECTED]),
    )
    async def reject_claim(
        self,
        info: Info,
        id: _Id,
        expected_version: _Version,
        reason: Annotated[str, strawberry.argument(description="Why (shown to the participant).")],
    ) -> ClaimPayload:
        claim_id = require_local_id(id, "Claim")
        return await _transition(info, lambda s, c: reject_claim(s, c, claim_id, expected_version, reason))
