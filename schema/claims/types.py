"""Claims, their benefit lines and status history in GraphQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import strawberry
from strawberry import relay

from auth.policy import pii_visible, require_scope, shown
from auth.principal import Principal
from auth.scopes import Scope
from domain.claims.models import Claim, ClaimBenefit
from schema.core import demand
from schema.core.bounds import CLAIM_BENEFITS_SIZE, CLAIM_HISTORY_SIZE
from schema.core.context import Info
from schema.core.enums import (
    BenefitKindEnum,
    ClaimStatusEnum,
    EducationLevelEnum,
    ProgramEnum,
    RelationshipEnum,
)
from schema.core.ids import db_id, local_id
from schema.core.pagination import (
    CountedConnection,
)
from schema.core.permissions import needs
from schema.core.read_fields import column_field, shown_columns
from schema.participants.types import ParticipantNode
from schema.regions.types import RegionNode


@strawberry.type(name="ClaimBenefit", description="One benefit line of a claim: what, to whom, how much.")
class BenefitLine:
    kind: BenefitKindEnum = strawberry.field(description="Kind of benefit.")
    recipient_name: str | None = strawberry.field(description="Who receives it.")
    recipient_nik_shown: strawberry.Private[str | None]
    pii_shown: strawberry.Private[bool]
    claim_id: strawberry.Private[int]
    relationship: RelationshipEnum | None = strawberry.field(description="Recipient's relation to the participant.")
    education_level: EducationLevelEnum | None = strawberry.field(description="For scholarships: the level.")
    amount: Decimal | None = strawberry.field(
        description="Amount in rupiah; null without pii:read on JKK and JKP claims, whose amounts are "
        "multiples of the wage."
    )

    @strawberry.field(description="Recipient's NIK; masked without pii:read. Unmasked reads are logged.")
    def recipient_nik(self, info: Info) -> str | None:
        if self.pii_shown and self.recipient_nik_shown is not None:
            info.context.note_pii_read("Claim", self.claim_id, "recipientNik")
        return self.recipient_nik_shown


@strawberry.type(name="ClaimStatusEvent", description="One step in a claim's history.")
class StatusEvent:
    status: ClaimStatusEnum = strawberry.field(description="The status the claim moved to.")
    at: dt.datetime = strawberry.field(description="When.")
    actor: str = strawberry.field(description="Subject of the principal who made the change.")
    note: str | None = strawberry.field(description="Note or reason given.")


@strawberry.federation.type(name="Claim", keys=["id"], description="A benefit claim on one programme.")
class ClaimNode(relay.Node):
    # Each column field's name and description come from its declaration beside the column
    # (domain.claims.models, domain.read_fields); the compiled path reads the same ones.
    id: relay.NodeID[int]
    claim_number: str = column_field(Claim.claim_number)
    program: ProgramEnum = column_field(Claim.program)
    status: ClaimStatusEnum = column_field(Claim.status)
    incident_date: dt.date = column_field(Claim.incident_date)
    submitted_at: dt.datetime = column_field(Claim.submitted_at)
    paid_at: dt.datetime | None = column_field(Claim.paid_at)
    amount_approved: Decimal | None = column_field(Claim.amount_approved)
    version: int = column_field(Claim.version)
    participant_id: strawberry.Private[int]
    region_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Claim, principal: Principal) -> ClaimNode:
        return cls(
            **shown_columns(principal, row, program=row.program),
            participant_id=row.participant_id,
            region_code=row.region_code,
        )

    @strawberry.federation.field(description="The claimant participant.", **needs(Scope.PARTICIPANTS_READ))
    async def participant(self, info: Info) -> ParticipantNode | None:
        row = await info.context.loaders.participant.load(self.participant_id)
        return ParticipantNode.from_row(row, info.context.principal) if row else None

    @strawberry.field(
        description="Benefit lines (for scholarships, one per child).", directives=demand.bounded(CLAIM_BENEFITS_SIZE)
    )
    async def benefits(self, info: Info) -> list[BenefitLine]:
        principal: Principal = info.context.principal
        rows = await info.context.loaders.benefits.load(self.id)
        return [
            BenefitLine(
                kind=r.kind,
                recipient_name=r.recipient_name,
                recipient_nik_shown=shown(principal, ClaimBenefit, "recipient_nik", r.recipient_nik),
                pii_shown=pii_visible(principal),
                claim_id=self.id,
                relationship=r.relationship,
                education_level=r.education_level,
                amount=shown(principal, ClaimBenefit, "amount", r.amount, self.program),
            )
            for r in rows
        ]

    @strawberry.field(description="Status history, oldest first.", directives=demand.bounded(CLAIM_HISTORY_SIZE))
    async def history(self, info: Info) -> list[StatusEvent]:
        rows = await info.context.loaders.claim_history.load(self.id)
        return [StatusEvent(status=r.status, at=r.at, actor=r.actor, note=r.note) for r in rows]

    @strawberry.federation.field(
        description="Region of the participant when the claim was made.", **needs(Scope.REGIONS_READ)
    )
    async def region(self, info: Info) -> RegionNode | None:
        row = await info.context.loaders.region.load(self.region_code)
        return RegionNode.from_row(row) if row else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ClaimNode | None]:
        require_scope(info.context.principal, Scope.CLAIMS_READ)
        ids = [db_id(i) for i in node_ids]
        rows = await info.context.loaders.claim.load_many(ids)
        return [cls.from_row(r, info.context.principal) if r else None for r in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID, **_rest: Any) -> ClaimNode | None:
        require_scope(info.context.principal, Scope.CLAIMS_READ)
        row = await info.context.loaders.claim.load(local_id(str(id), "Claim"))
        return cls.from_row(row, info.context.principal) if row else None


@strawberry.type(name="ClaimConnection", description="A page of claims.")
class ClaimConnection(CountedConnection[ClaimNode]):
    pass
