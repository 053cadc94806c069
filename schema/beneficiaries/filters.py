"""Poverty-registry beneficiaries in GraphQL: the list's filter and sort order."""

from __future__ import annotations

import enum

import strawberry

from domain.beneficiaries.models import MAX_DECILE, MIN_DECILE, PovertyBeneficiary
from schema.core.enums import BeneficiarySourceEnum
from schema.core.errors import BadInput
from schema.core.pagination import OrderDirection, SortKey


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
