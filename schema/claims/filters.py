"""Claims in GraphQL: the list's filter and sort order."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry
from sqlalchemy import ColumnElement

from auth.policy import visible
from auth.principal import Principal
from domain.claims.models import Claim
from schema.core.context import Reader
from schema.core.enums import (
    ClaimStatusEnum,
    ProgramEnum,
    domain_value,
)
from schema.core.errors import BadInput
from schema.core.pagination import (
    OrderDirection,
    SortKey,
)
from schema.regions.filters import region_filter

SUBMITTED_SORT = SortKey("SUBMITTED_AT", Claim.submitted_at)


@strawberry.input(description="Conditions a claim must meet; all given conditions apply.")
class ClaimFilter:
    region_code: str | None = strawberry.field(default=None, description="This region and everything below it.")
    program: ProgramEnum | None = strawberry.field(default=None, description="Only this programme.")
    status: ClaimStatusEnum | None = strawberry.field(default=None, description="Only this status.")
    submitted_from: dt.date | None = strawberry.field(default=None, description="Submitted on or after this date.")
    submitted_to: dt.date | None = strawberry.field(default=None, description="Submitted on or before this date.")


@strawberry.enum(description="Fields claims can be sorted by.")
class ClaimOrderField(enum.Enum):
    SUBMITTED_AT = strawberry.enum_value("submitted_at", description="Submission time.")
    CLAIM_NUMBER = strawberry.enum_value("claim_number", description="Claim number.")
    INCIDENT_DATE = strawberry.enum_value("incident_date", description="Incident date.")


CLAIM_SORTS = {
    ClaimOrderField.SUBMITTED_AT: SUBMITTED_SORT,
    ClaimOrderField.CLAIM_NUMBER: SortKey("CLAIM_NUMBER", Claim.claim_number),
    ClaimOrderField.INCIDENT_DATE: SortKey("INCIDENT_DATE", Claim.incident_date),
}


@strawberry.input(description="Sort order of a claim list.")
class ClaimOrder:
    field: ClaimOrderField = strawberry.field(default=ClaimOrderField.SUBMITTED_AT, description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


async def claim_conditions(
    reader: Reader, principal: Principal, filter: ClaimFilter | None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a claim list: the caller's region, then the filter's conditions.

    Shared by the resolver and the compiled read path (schema.compiled), so both refuse and narrow alike
    (an inverted date range first, then an unknown or malformed region code).
    """
    f = filter or ClaimFilter()
    if f.submitted_from and f.submitted_to and f.submitted_from > f.submitted_to:
        raise BadInput("submittedFrom is after submittedTo", field="filter.submittedFrom")
    conditions = [visible(principal, Claim)]
    if f.region_code is not None:
        conditions.append(await region_filter(reader, principal, Claim, f.region_code))
    optional = (
        Claim.program == domain_value(f.program) if f.program is not None else None,
        Claim.status == domain_value(f.status) if f.status is not None else None,
        Claim.submitted_at >= _day_start(f.submitted_from) if f.submitted_from else None,
        Claim.submitted_at < _day_start(f.submitted_to + dt.timedelta(days=1)) if f.submitted_to else None,
    )
    conditions.extend(c for c in optional if c is not None)
    return conditions
