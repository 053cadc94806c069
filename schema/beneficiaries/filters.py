"""Poverty-registry beneficiaries in GraphQL: the list's filter and sort order."""

from __future__ import annotations

import enum

import strawberry
from sqlalchemy import ColumnElement

from auth.policy import visible
from auth.principal import Principal
from domain.beneficiaries.models import MAX_DECILE, MIN_DECILE, PovertyBeneficiary
from schema.core.context import Reader
from schema.core.enums import BeneficiarySourceEnum, domain_value
from schema.core.errors import BadInput
from schema.core.pagination import OrderDirection, SortKey
from schema.regions.filters import region_filter


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


async def beneficiary_conditions(
    reader: Reader, principal: Principal, filter: BeneficiaryFilter | None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a beneficiary list: the caller's region, then the filter's conditions.

    Shared by the resolver and the compiled read path (schema.compiled), so both refuse and narrow alike.
    """
    f = filter or BeneficiaryFilter()
    B = PovertyBeneficiary
    conditions = [visible(principal, B)]
    if f.region_code is not None:
        conditions.append(await region_filter(reader, principal, B, f.region_code))
    decile = _check_decile(f.decile, "filter.decile")
    max_decile = _check_decile(f.max_decile, "filter.maxDecile")
    optional = (
        B.decile == decile if decile is not None else None,
        B.decile <= max_decile if max_decile is not None else None,
        B.extreme_poor == f.extreme_poor if f.extreme_poor is not None else None,
        (B.participant_id.is_not(None) if f.enrolled else B.participant_id.is_(None))
        if f.enrolled is not None
        else None,
        B.source == domain_value(f.source) if f.source is not None else None,
    )
    conditions.extend(c for c in optional if c is not None)
    return conditions
