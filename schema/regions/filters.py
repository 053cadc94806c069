"""Region arguments and filters: a region code parsed, the rows in a region the caller may see, and the
regions ``regions(level, parentCode)`` lists."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false

from auth.policy import narrow_region_filter, visible
from auth.principal import Principal
from domain.regions.models import PlacedModel, Region, placement_column
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel
from schema.core.context import Reader
from schema.core.enums import RegionLevelEnum, domain_value
from schema.core.errors import BadInput
from schema.core.pagination import SortKey

#: ``regions`` is ordered by code; the code is also the key that breaks ties (regions have no integer id).
REGION_SORT = SortKey("code", Region.code, id_type=str)


def parse_region_code(raw: str, field: str) -> RegionCode:
    try:
        return RegionCode.parse(raw)
    except InvalidRegionCode as exc:
        raise BadInput(str(exc), field=field) from None


async def region_filter(
    reader: Reader,
    principal: Principal,
    model: PlacedModel,
    raw_code: str,
    field: str = "filter.regionCode",
) -> ColumnElement[bool]:
    """Rows in `raw_code` and below, within what the caller may see.

    A code that is malformed or names no region is BAD_USER_INPUT (region codes are public; saying one does
    not exist leaks nothing). A region outside the caller's own gives no rows, as if it were empty.
    """
    code = parse_region_code(raw_code, field)
    if not await reader.region_in_register(code.code):
        raise BadInput(f"region {code.code} does not exist in the Kemendagri list", field=field)
    narrowed = narrow_region_filter(principal, code)
    if narrowed is None:
        return false()
    result: ColumnElement[bool] = placement_column(model, narrowed.level) == narrowed.code
    return result


def region_conditions(
    principal: Principal, level: RegionLevelEnum | None, parent_code: str | None
) -> list[ColumnElement[bool]]:
    """The regions ``regions(level, parentCode)`` lists: those the caller may see (``visible``), of `level`,
    children of `parent_code` (a malformed code is BAD_USER_INPUT; an unknown or invisible one lists none).

    One function for the resolver and the compiled read path (schema.compiled.run).
    """
    conditions = [visible(principal, Region)]
    if level is not None:
        lvl: RegionLevel = domain_value(level)
        conditions.append(Region.level == lvl)
    if parent_code is not None:
        conditions.append(Region.parent_code == parse_region_code(parent_code, "parentCode").code)
    return conditions
