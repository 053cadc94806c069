"""Claims in GraphQL: the list's filter and sort order."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from domain.claims.models import Claim
from schema.core.enums import (
    ClaimStatusEnum,
    ProgramEnum,
)
from schema.core.pagination import (
    OrderDirection,
    SortKey,
)

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
