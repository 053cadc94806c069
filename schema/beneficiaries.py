"""Poverty beneficiaries (P3KE / DTKS / DTSEN records) in GraphQL."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry import relay

from auth.policy import pii_visible, require_scope, shown, visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.beneficiaries.models import MAX_DECILE, MIN_DECILE, SOURCE_MAX_DECILE, PovertyBeneficiary
from schema.core import demand
from schema.core.context import Info
from schema.core.enums import BeneficiarySourceEnum, SexEnum, domain_value
from schema.core.errors import BadInput
from schema.core.ids import db_id, local_id
from schema.core.limits import PAGE_SIZE_TEXT
from schema.core.pagination import CountedConnection, OrderDirection, SortKey, paginate
from schema.core.permissions import needs
from schema.filters import apply, region_filter
from schema.participants import ParticipantNode, parse_nik_argument
from schema.regions import RegionNode


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


@strawberry.input(description="Conditions a beneficiary must meet; all given conditions apply.")
class BeneficiaryFilter:
    region_code: str | None = strawberry.field(default=None, description="This region and everything below it.")
    decile: int | None = strawberry.field(default=None, description=f"Only this decile ({MIN_DECILE}-{MAX_DECILE}).")
    max_decile: int | None = strawberry.field(
        default=None, description=f"Only deciles up to this one ({MIN_DECILE}-{MAX_DECILE})."
    )
    extreme_poor: bool | None = strawberry.field(default=None, description="Only (not) extreme-poor.")
    enrolled: bool | None = strawberry.field(default=None, description="Only (not) enrolled as participants.")
    source: BeneficiarySourceEnum | None = strawberry.field(default=None, description="Only this registry.")


@strawberry.enum(description="Fields beneficiaries can be sorted by.")
class BeneficiaryOrderField(enum.Enum):
    SNAPSHOT_DATE = strawberry.enum_value("snapshot_date", description="Registry snapshot date.")
    FULL_NAME = strawberry.enum_value("full_name", description="Full name.")
    DECILE = strawberry.enum_value("decile", description="Welfare decile.")


BENEFICIARY_SORTS = {
    BeneficiaryOrderField.SNAPSHOT_DATE: SortKey("SNAPSHOT_DATE", PovertyBeneficiary.snapshot_date),
    BeneficiaryOrderField.FULL_NAME: SortKey("FULL_NAME", PovertyBeneficiary.full_name),
    BeneficiaryOrderField.DECILE: SortKey("DECILE", PovertyBeneficiary.decile),
}


@strawberry.input(description="Sort order of a beneficiary list.")
class BeneficiaryOrder:
    field: BeneficiaryOrderField = strawberry.field(
        default=BeneficiaryOrderField.SNAPSHOT_DATE, description="Field to sort by."
    )
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")


def _check_decile(value: int | None, field: str) -> int | None:
    if value is not None and not MIN_DECILE <= value <= MAX_DECILE:
        raise BadInput(f"a decile is between {MIN_DECILE} and {MAX_DECILE}; {value} was given", field=field)
    return value


@strawberry.type
class BeneficiaryQuery:
    @strawberry.federation.field(
        description="One beneficiary by exactly one of id or nik (nik needs pii:read; the latest snapshot).",
        **needs(Scope.BENEFICIARIES_READ),
    )
    async def beneficiary(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        nik: Annotated[str | None, strawberry.argument(description="National ID (needs pii:read).")] = None,
    ) -> BeneficiaryNode | None:
        if (id is None) == (nik is None):
            raise BadInput("give exactly one of id or nik")
        principal, loaders = info.context.principal, info.context.loaders
        if id is not None:
            row = await loaders.beneficiary.load(local_id(str(id), "PovertyBeneficiary"))
        else:
            require_scope(principal, Scope.PII_READ)
            row = await loaders.beneficiary_by_nik.load(parse_nik_argument(str(nik), "nik"))
        return BeneficiaryNode.from_row(row, principal) if row else None

    @strawberry.federation.field(
        description="Poverty beneficiaries you may see, filtered and sorted.",
        directives=demand.page(),
        **needs(Scope.BENEFICIARIES_READ),
    )
    async def beneficiaries(
        self,
        info: Info,
        filter: Annotated[BeneficiaryFilter | None, strawberry.argument(description="Conditions.")] = None,
        order_by: Annotated[BeneficiaryOrder | None, strawberry.argument(description="Sort order.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> BeneficiaryConnection:
        principal, reader = info.context.principal, info.context.reader
        f = filter or BeneficiaryFilter()
        B = PovertyBeneficiary
        stmt = select(B).where(visible(principal, B))
        if f.region_code is not None:
            stmt = stmt.where(await region_filter(reader, principal, B, f.region_code))
        decile = _check_decile(f.decile, "filter.decile")
        max_decile = _check_decile(f.max_decile, "filter.maxDecile")
        stmt = apply(
            stmt,
            B.decile == decile if decile is not None else None,
            B.decile <= max_decile if max_decile is not None else None,
            B.extreme_poor == f.extreme_poor if f.extreme_poor is not None else None,
            (B.participant_id.is_not(None) if f.enrolled else B.participant_id.is_(None))
            if f.enrolled is not None
            else None,
            B.source == domain_value(f.source) if f.source is not None else None,
        )
        order = order_by or BeneficiaryOrder()
        return await paginate(
            reader,
            stmt,
            sort=BENEFICIARY_SORTS[order.field],
            id_column=B.id,
            descending=order.direction is OrderDirection.DESC,
            first=first,
            after=after,
            to_node=lambda row: BeneficiaryNode.from_row(row, principal),
            connection=BeneficiaryConnection,
        )
