"""Participants in GraphQL: the query fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import select

from auth.policy import require_scope
from auth.scopes import Scope
from domain.participants.models import Participant
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.errors import BadInput
from schema.core.ids import local_id
from schema.core.pagination import OrderDirection, paginate
from schema.core.permissions import needs

if TYPE_CHECKING:
    pass
from schema.participants.filters import PARTICIPANT_SORTS, ParticipantFilter, ParticipantOrder, participant_conditions
from schema.participants.types import ParticipantConnection, ParticipantNode, parse_nik_argument


@strawberry.type
class ParticipantQuery:
    @strawberry.federation.field(
        description="One participant by exactly one of id, membershipNumber or nik (nik needs pii:read). "
        "Null when there is none you may see.",
        **needs(Scope.PARTICIPANTS_READ),
    )
    async def participant(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        membership_number: Annotated[str | None, strawberry.argument(description="Membership number (KPJ).")] = None,
        nik: Annotated[str | None, strawberry.argument(description="National ID (needs pii:read).")] = None,
    ) -> ParticipantNode | None:
        given = [a for a in (id, membership_number, nik) if a is not None]
        if len(given) != 1:
            raise BadInput("give exactly one of id, membershipNumber or nik")
        principal, loaders = info.context.principal, info.context.loaders
        row: Participant | None
        if id is not None:
            row = await loaders.participant.load(local_id(str(id), "Participant"))
        elif membership_number is not None:
            row = await loaders.participant_by_membership.load(membership_number)
        else:
            require_scope(principal, Scope.PII_READ)
            row = await loaders.participant_by_nik.load(parse_nik_argument(str(nik), "nik"))
        return ParticipantNode.from_row(row, principal) if row else None

    @strawberry.federation.field(
        description="Participants you may see, filtered and sorted.",
        directives=demand.page(),
        **needs(Scope.PARTICIPANTS_READ),
    )
    async def participants(
        self,
        info: Info,
        filter: Annotated[ParticipantFilter | None, strawberry.argument(description="Conditions.")] = None,
        order_by: Annotated[ParticipantOrder | None, strawberry.argument(description="Sort order.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> ParticipantConnection:
        principal, reader = info.context.principal, info.context.reader
        stmt = select(Participant).where(*await participant_conditions(reader, principal, filter))
        order = order_by or ParticipantOrder()
        sort = PARTICIPANT_SORTS[order.field]
        return await paginate(
            reader,
            stmt,
            sort=sort,
            id_column=Participant.id,
            descending=order.direction is OrderDirection.DESC,
            first=first,
            after=after,
            to_node=lambda row: ParticipantNode.from_row(row, principal),
            connection=ParticipantConnection,
        )
