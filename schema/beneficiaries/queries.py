"""Poverty-registry beneficiaries in GraphQL: the query fields."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from auth.policy import require_scope
from auth.scopes import Scope
from domain.beneficiaries.models import PovertyBeneficiary
from schema.beneficiaries.filters import (
    BENEFICIARY_SORTS,
    BeneficiaryFilter,
    BeneficiaryOrder,
    beneficiary_conditions,
)
from schema.beneficiaries.types import BeneficiaryConnection, BeneficiaryNode
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.errors import BadInput
from schema.core.ids import local_id
from schema.core.pagination import OrderDirection, paginate
from schema.core.permissions import needs
from schema.participants.types import parse_nik_argument


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
        B = PovertyBeneficiary
        stmt = select(B).where(*await beneficiary_conditions(reader, principal, filter))
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
