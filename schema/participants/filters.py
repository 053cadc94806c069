"""Participants in GraphQL: the list's filter, sort order and conditions."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import strawberry
from sqlalchemy import ColumnElement, exists

from auth.policy import visible
from auth.principal import Principal
from domain import clock
from domain.participants.models import Participant, ParticipantProgram
from domain.participants.status import status_is
from schema.core.context import Reader
from schema.core.enums import FundingSourceEnum, ParticipantStatusEnum, ProgramEnum, SegmentEnum, domain_value
from schema.core.filters import name_search
from schema.core.pagination import OrderDirection, SortKey
from schema.regions.filters import region_filter

if TYPE_CHECKING:
    pass


@strawberry.input(description="Conditions a participant must meet; all given conditions apply.")
class ParticipantFilter:
    region_code: str | None = strawberry.field(
        default=None, description="This region and everything below it, e.g. '52.03' for Lombok Timur."
    )
    segment: SegmentEnum | None = strawberry.field(default=None, description="Only this segment.")
    status: ParticipantStatusEnum | None = strawberry.field(
        default=None, description="Only this status, as of today (as the status field gives it)."
    )
    program: ProgramEnum | None = strawberry.field(default=None, description="Only holders of this programme.")
    funding_source: FundingSourceEnum | None = strawberry.field(default=None, description="Only this funding.")
    name_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive part of the name, at least 3 characters."
    )


@strawberry.enum(description="Fields participants can be sorted by.")
class ParticipantOrderField(enum.Enum):
    REGISTERED_AT = strawberry.enum_value("registered_at", description="Registration time.")
    FULL_NAME = strawberry.enum_value("full_name", description="Full name.")
    MEMBERSHIP_NUMBER = strawberry.enum_value("membership_number", description="Membership number (KPJ).")


PARTICIPANT_SORTS = {
    ParticipantOrderField.REGISTERED_AT: SortKey("REGISTERED_AT", Participant.registered_at),
    ParticipantOrderField.FULL_NAME: SortKey("FULL_NAME", Participant.full_name),
    ParticipantOrderField.MEMBERSHIP_NUMBER: SortKey("MEMBERSHIP_NUMBER", Participant.membership_number),
}


@strawberry.input(description="Sort order of a participant list.")
class ParticipantOrder:
    field: ParticipantOrderField = strawberry.field(
        default=ParticipantOrderField.REGISTERED_AT, description="Field to sort by."
    )
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")


async def participant_conditions(
    reader: Reader, principal: Principal, filter: ParticipantFilter | None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a participant list: the caller's region, then the filter's conditions.

    Shared by the resolver and the compiled read path (schema.compiled), so both refuse and narrow alike.
    """
    f = filter or ParticipantFilter()
    conditions = [visible(principal, Participant)]
    if f.region_code is not None:
        conditions.append(await region_filter(reader, principal, Participant, f.region_code))
    program = domain_value(f.program)
    optional = (
        Participant.segment == domain_value(f.segment) if f.segment is not None else None,
        status_is(domain_value(f.status), clock.today()) if f.status is not None else None,
        Participant.funding_source == domain_value(f.funding_source) if f.funding_source is not None else None,
        exists().where(ParticipantProgram.participant_id == Participant.id, ParticipantProgram.program == program)
        if program is not None
        else None,
        name_search(Participant.full_name, f.name_contains, "filter.nameContains"),
    )
    conditions.extend(c for c in optional if c is not None)
    return conditions
