"""Participants (and their employers and programme enrolments) in GraphQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from auth.policy import pii_visible, require_scope
from auth.principal import Principal
from auth.scopes import Scope
from domain import clock
from domain.nik import InvalidNIK, parse_nik
from domain.participants.models import Participant
from domain.participants.rules import JKK_RISK_CLASS_MAX, JKK_RISK_CLASS_MIN, JKK_RISK_RATES
from domain.participants.status import derived_status
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT, PROGRAMS_SIZE
from schema.core.context import Info
from schema.core.enums import FundingSourceEnum, ParticipantStatusEnum, ProgramEnum, SegmentEnum, SexEnum
from schema.core.errors import BadInput
from schema.core.ids import db_id, local_id
from schema.core.pagination import CountedConnection
from schema.core.permissions import needs
from schema.core.read_fields import column_field, shown_columns
from schema.core.references import CompanyReference
from schema.regions.types import RegionNode

if TYPE_CHECKING:
    from schema.beneficiaries.types import BeneficiaryNode
    from schema.claims.types import ClaimConnection
    from schema.participants.contributions import ContributionConnection


def parse_nik_argument(raw: str, field: str) -> str:
    try:
        return parse_nik(raw).value
    except InvalidNIK as exc:
        raise BadInput(str(exc), field=field) from None


@strawberry.type(description="An employer that registers wage-earning (PU) participants.")
class EmployerType:
    registration_number: str = strawberry.field(description="BPJS Ketenagakerjaan employer registration number.")
    name: str = strawberry.field(description="Registered name.")
    jkk_risk_class: int = strawberry.field(
        description=f"JKK risk class {JKK_RISK_CLASS_MIN}-{JKK_RISK_CLASS_MAX} (employer contribution "
        + ", ".join(f"{rate} %" for rate in JKK_RISK_RATES.values())
        + " of wage)."
    )
    region_code: strawberry.Private[str]

    @strawberry.federation.field(description="Where the employer is registered.", **needs(Scope.REGIONS_READ))
    async def region(self, info: Info) -> RegionNode | None:
        row = await info.context.loaders.region.load(self.region_code)
        return RegionNode.from_row(row) if row else None

    @strawberry.field(
        description="The same employer in the manpower offices' company registry (WLKP), joined by registration "
        "number; its fields come from the manpower office's subgraph."
    )
    def company(self) -> CompanyReference:
        return CompanyReference(bpjs_registration_number=self.registration_number)


@strawberry.type(name="ProgramEnrolment", description="A programme a participant holds.")
class ProgramEnrolment:
    program: ProgramEnum = strawberry.field(description="The programme.")
    since: dt.date = strawberry.field(description="Date the participant was enrolled in it.")


@strawberry.federation.type(
    name="Participant",
    keys=["id", "membershipNumber"],
    description="A worker insured by BPJS Ketenagakerjaan. Personal fields are masked without pii:read.",
)
class ParticipantNode(relay.Node):
    # Each column field's name, description, masking and access-log note come from its declaration beside
    # the column (domain.participants.models, domain.read_fields); the compiled path reads the same ones.
    id: relay.NodeID[int]
    membership_number: str = column_field(Participant.membership_number)
    full_name: str = column_field(Participant.full_name)
    sex: SexEnum = column_field(Participant.sex)
    segment: SegmentEnum = column_field(Participant.segment)
    status: ParticipantStatusEnum = column_field(Participant.status)
    funding_source: FundingSourceEnum = column_field(Participant.funding_source)
    paid_through: dt.date | None = column_field(Participant.paid_through)
    contribution_months: int = column_field(Participant.contribution_months)
    recent_contribution_months: int = column_field(Participant.recent_contribution_months)
    died_on: dt.date | None = column_field(Participant.died_on)
    registered_at: dt.datetime = column_field(Participant.registered_at)
    version: int = column_field(Participant.version)
    nik: str = column_field(Participant.nik)
    birth_date: dt.date | None = column_field(Participant.birth_date)
    monthly_wage: Decimal | None = column_field(Participant.monthly_wage)
    phone_number: str | None = column_field(Participant.phone_number)
    pii_shown: strawberry.Private[bool]
    region_code: strawberry.Private[str]
    employer_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Participant, principal: Principal) -> ParticipantNode:
        return cls(
            **{
                **shown_columns(principal, row),
                "status": derived_status(row.status, row.paid_through, clock.today()),
            },
            pii_shown=pii_visible(principal),
            region_code=row.region_code,
            employer_id=row.employer_id,
        )

    @strawberry.federation.field(
        description="Where the participant is registered (a village).", **needs(Scope.REGIONS_READ)
    )
    async def region(self, info: Info) -> RegionNode | None:
        row = await info.context.loaders.region.load(self.region_code)
        return RegionNode.from_row(row) if row else None

    @strawberry.field(description="The employer, for wage earners (PU).")
    async def employer(self, info: Info) -> EmployerType | None:
        if self.employer_id is None:
            return None
        row = await info.context.loaders.employer.load(self.employer_id)
        if row is None:
            return None
        return EmployerType(
            registration_number=row.registration_number,
            name=row.name,
            jkk_risk_class=row.jkk_risk_class,
            region_code=row.region_code,
        )

    @strawberry.field(description="Programmes the participant holds.", directives=demand.bounded(PROGRAMS_SIZE))
    async def programs(self, info: Info) -> list[ProgramEnrolment]:
        rows = await info.context.loaders.programs.load(self.id)
        return [ProgramEnrolment(program=r.program, since=r.since) for r in rows]

    @strawberry.federation.field(
        description="The participant's claims, oldest first.", directives=demand.page(), **needs(Scope.CLAIMS_READ)
    )
    async def claims(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> Annotated[ClaimConnection, strawberry.lazy("schema.claims.types")]:
        from schema.claims.queries import claims_of_participant

        return await claims_of_participant(info, self.id, first, after)

    @strawberry.field(
        description="Recorded payments of contributions, oldest first: the ledger that paidThrough, "
        "contributionMonths and status are counted from.",
        directives=demand.page(),
    )
    async def contributions(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> Annotated[ContributionConnection, strawberry.lazy("schema.participants.contributions")]:
        from schema.participants.contributions import contributions_of_participant

        return await contributions_of_participant(info, self.id, first, after)

    @strawberry.federation.field(
        description="The poverty-registry record with the same NIK (latest snapshot), if any.",
        **needs(Scope.BENEFICIARIES_READ),
    )
    async def beneficiary(
        self, info: Info
    ) -> Annotated[BeneficiaryNode, strawberry.lazy("schema.beneficiaries.types")] | None:
        from schema.beneficiaries.types import BeneficiaryNode

        row = await info.context.loaders.beneficiary_of_participant.load(self.id)
        return BeneficiaryNode.from_row(row, info.context.principal) if row else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ParticipantNode | None]:
        require_scope(info.context.principal, Scope.PARTICIPANTS_READ)
        ids = [db_id(i) for i in node_ids]
        rows = await info.context.loaders.participant.load_many(ids)
        return [cls.from_row(r, info.context.principal) if r else None for r in rows]

    @classmethod
    async def resolve_reference(
        cls, info: Info, id: strawberry.ID | None = None, membershipNumber: str | None = None, **_rest: Any
    ) -> ParticipantNode | None:
        require_scope(info.context.principal, Scope.PARTICIPANTS_READ)
        # One loader for both keys, so a batch mixing them is still one statement (schema.core.entities checks
        # that one of them is there).
        loader = info.context.loaders.participant_by_key
        if id is not None:
            row = await loader.load(("id", local_id(str(id), "Participant")))
        else:
            row = await loader.load(("membershipNumber", str(membershipNumber)))
        return cls.from_row(row, info.context.principal) if row else None


@strawberry.type(name="ParticipantConnection", description="A page of participants.")
class ParticipantConnection(CountedConnection[ParticipantNode]):
    pass
