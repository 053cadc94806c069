"""Poverty beneficiaries (P3KE / DTKS / DTSEN records) in GraphQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry import relay

from auth.policy import pii_visible, require_scope, shown
from auth.principal import Principal
from auth.scopes import Scope
from domain.beneficiaries.models import MIN_DECILE, SOURCE_MAX_DECILE, PovertyBeneficiary
from schema.core.context import Info
from schema.core.enums import BeneficiarySourceEnum, SexEnum
from schema.core.ids import db_id, local_id
from schema.core.pagination import CountedConnection
from schema.core.permissions import needs
from schema.participants.types import ParticipantNode
from schema.regions.types import RegionNode


@strawberry.federation.type(
    name="PovertyBeneficiary",
    keys=["id"],
    description="A person on a poverty target list (P3KE, DTKS or DTSEN), matched to participants by NIK.",
)
class BeneficiaryNode(relay.Node):
    id: relay.NodeID[int]
    nik_shown: strawberry.Private[str]
    family_card_shown: strawberry.Private[str | None]
    pii_shown: strawberry.Private[bool]
    full_name: str = strawberry.field(description="Full name as the registry gives it.")
    birth_date_shown: strawberry.Private[dt.date | None]
    sex: SexEnum = strawberry.field(description="Sex.")
    decile: int = strawberry.field(
        description=f"Welfare decile as the source gives it ({MIN_DECILE} = poorest; "
        + " or ".join(f"{MIN_DECILE}-{top}" for top in sorted(set(SOURCE_MAX_DECILE.values())))
        + ")."
    )
    extreme_poor: bool = strawberry.field(description="The registry's extreme-poverty flag (Inpres 4/2022).")
    source: BeneficiarySourceEnum = strawberry.field(description="The registry the record comes from.")
    snapshot_date: dt.date = strawberry.field(description="Date of the registry snapshot.")
    enrolled: bool = strawberry.field(description="True when a participant with the same NIK is registered.")
    region_code: strawberry.Private[str]
    participant_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: PovertyBeneficiary, principal: Principal) -> BeneficiaryNode:
        return cls(
            id=row.id,
            nik_shown=shown(principal, PovertyBeneficiary, "nik", row.nik) or "",
            family_card_shown=shown(principal, PovertyBeneficiary, "family_card_number", row.family_card_number),
            pii_shown=pii_visible(principal),
            full_name=row.full_name,
            birth_date_shown=shown(principal, PovertyBeneficiary, "birth_date", row.birth_date),
            sex=row.sex,
            decile=row.decile,
            extreme_poor=row.extreme_poor,
            source=row.source,
            snapshot_date=row.snapshot_date,
            enrolled=row.participant_id is not None,
            region_code=row.region_code,
            participant_id=row.participant_id,
        )

    @strawberry.field(
        description="National ID; masked without pii:read. Unmasked reads are recorded in the access log."
    )
    def nik(self, info: Info) -> str:
        if self.pii_shown:
            info.context.note_pii_read("PovertyBeneficiary", self.id, "nik")
        return self.nik_shown

    @strawberry.field(
        description="Family card (KK) number; masked without pii:read. Changes when a family moves or splits; "
        "unmasked reads are recorded in the access log."
    )
    def family_card_number(self, info: Info) -> str | None:
        if self.pii_shown and self.family_card_shown is not None:
            info.context.note_pii_read("PovertyBeneficiary", self.id, "familyCardNumber")
        return self.family_card_shown

    @strawberry.field(description="Birth date; null without pii:read. Reading it is recorded in the access log.")
    def birth_date(self, info: Info) -> dt.date | None:
        if self.birth_date_shown is not None:
            info.context.note_pii_read("PovertyBeneficiary", self.id, "birthDate")
        return self.birth_date_shown

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
