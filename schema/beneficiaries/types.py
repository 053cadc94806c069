"""Poverty beneficiaries (P3KE / DTKS / DTSEN records) in GraphQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry import relay

from auth.policy import pii_visible, require_scope
from auth.principal import Principal
from auth.scopes import Scope
from domain.beneficiaries.models import PovertyBeneficiary
from schema.core.context import Info
from schema.core.enums import BeneficiarySourceEnum, SexEnum
from schema.core.ids import db_id, local_id
from schema.core.pagination import CountedConnection
from schema.core.permissions import needs
from schema.core.read_fields import column_field, shown_columns
from schema.participants.types import ParticipantNode
from schema.regions.types import RegionNode


@strawberry.federation.type(
    name="PovertyBeneficiary",
    keys=["id"],
    description="A person on a poverty target list (P3KE, DTKS or DTSEN), matched to participants by NIK.",
)
class BeneficiaryNode(relay.Node):
    # Each column field's name, description, masking and access-log note come from its declaration beside
    # the column (domain.beneficiaries.models, domain.read_fields); the compiled path reads the same ones.
    id: relay.NodeID[int]
    full_name: str = column_field(PovertyBeneficiary.full_name)
    sex: SexEnum = column_field(PovertyBeneficiary.sex)
    decile: int = column_field(PovertyBeneficiary.decile)
    extreme_poor: bool = column_field(PovertyBeneficiary.extreme_poor)
    source: BeneficiarySourceEnum = column_field(PovertyBeneficiary.source)
    snapshot_date: dt.date = column_field(PovertyBeneficiary.snapshot_date)
    enrolled: bool = strawberry.field(description="True when a participant with the same NIK is registered.")
    nik: str = column_field(PovertyBeneficiary.nik)
    family_card_number: str | None = column_field(PovertyBeneficiary.family_card_number)
    birth_date: dt.date | None = column_field(PovertyBeneficiary.birth_date)
    pii_shown: strawberry.Private[bool]
    region_code: strawberry.Private[str]
    participant_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: PovertyBeneficiary, principal: Principal) -> BeneficiaryNode:
        return cls(
            **shown_columns(principal, row),
            enrolled=row.participant_id is not None,
            pii_shown=pii_visible(principal),
            region_code=row.region_code,
            participant_id=row.participant_id,
        )

    @strawberry.federation.field(description="Where the beneficiary lives.", **needs(Scope.REGIONS_READ))
    async def region(self, info: Info) -> RegionNode | None:
        row = await info.context.loaders.region.load(self.region_code)
        return RegionNode.from_row(row) if row else None

    @strawberry.federation.field(
        description="The participant with the same NIK, if enrolled.", **needs(Scope.PARTICIPANTS_READ)
    )
    async def participant(self, info: Info) -> ParticipantNode | None:
        if self.participant_id is None:
            return None
        row = await info.context.loaders.participant.load(self.participant_id)
        return ParticipantNode.from_row(row, info.context.principal) if row else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[BeneficiaryNode | None]:
        require_scope(info.context.principal, Scope.BENEFICIARIES_READ)
        ids = [db_id(i) for i in node_ids]
        rows = await info.context.loaders.beneficiary.load_many(ids)
        return [cls.from_row(r, info.context.principal) if r else None for r in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID, **_rest: Any) -> BeneficiaryNode | None:
        require_scope(info.context.principal, Scope.BENEFICIARIES_READ)
        row = await info.context.loaders.beneficiary.load(local_id(str(id), "PovertyBeneficiary"))
        return cls.from_row(row, info.context.principal) if row else None


@strawberry.type(name="PovertyBeneficiaryConnection", description="A page of poverty beneficiaries.")
class BeneficiaryConnection(CountedConnection[BeneficiaryNode]):
    pass
