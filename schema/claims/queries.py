"""Claims in GraphQL: the query fields, and the claims of a participant (pages, counts)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from auth.policy import visible
from auth.scopes import Scope
from domain.claims.models import Claim
from schema.claims.filters import CLAIM_SORTS, SUBMITTED_SORT, ClaimFilter, ClaimOrder, claim_conditions
from schema.claims.types import ClaimConnection, ClaimNode
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.errors import BadInput
from schema.core.ids import local_id
from schema.core.nested import ChildPages, child_connection
from schema.core.pagination import (
    OrderDirection,
    paginate,
)
from schema.core.permissions import needs

#: ``Participant.claims``: a participant's visible claims, oldest first (the compiled path's JSON statement
#: pages them with the same order, keyset and scope, schema.compiled.sql_json).
PARTICIPANT_CLAIMS: ChildPages[Claim] = ChildPages(
    name="claims_of_participant",
    model=Claim,
    parent=Claim.participant_id,
    sort=SUBMITTED_SORT,
    visible=lambda principal: visible(principal, Claim),
)


async def claims_of_participant(
    info: Info, participant_id: int, first: int | None, after: str | None
) -> ClaimConnection:
    return await child_connection(
        info,
        PARTICIPANT_CLAIMS,
        participant_id,
        first,
        after,
        to_node=lambda r: ClaimNode.from_row(r, info.context.principal),
        connection=ClaimConnection,
    )


@strawberry.type
class ClaimQuery:
    @strawberry.federation.field(
        description="One claim by exactly one of id or claimNumber; null when there is none you may see.",
        **needs(Scope.CLAIMS_READ),
    )
    async def claim(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        claim_number: Annotated[str | None, strawberry.argument(description="Claim number.")] = None,
    ) -> ClaimNode | None:
        if (id is None) == (claim_number is None):
            raise BadInput("give exactly one of id or claimNumber")
        loaders = info.context.loaders
        if id is not None:
            row = await loaders.claim.load(local_id(str(id), "Claim"))
        else:
            row = await loaders.claim_by_number.load(str(claim_number))
        return ClaimNode.from_row(row, info.context.principal) if row else None

    @strawberry.federation.field(
        description="Claims you may see, filtered and sorted.", directives=demand.page(), **needs(Scope.CLAIMS_READ)
    )
    async def claims(
        self,
        info: Info,
        filter: Annotated[ClaimFilter | None, strawberry.argument(description="Conditions.")] = None,
        order_by: Annotated[ClaimOrder | None, strawberry.argument(description="Sort order.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> ClaimConnection:
        principal, reader = info.context.principal, info.context.reader
        stmt = select(Claim).where(*await claim_conditions(reader, principal, filter))
        order = order_by or ClaimOrder()
        return await paginate(
            reader,
            stmt,
            sort=CLAIM_SORTS[order.field],
            id_column=Claim.id,
            descending=order.direction is OrderDirection.DESC,
            first=first,
            after=after,
            to_node=lambda r: ClaimNode.from_row(r, principal),
            connection=ClaimConnection,
        )
