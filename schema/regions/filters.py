"""Region arguments and filters: a region code parsed, and the rows in a region the caller may see."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.regions.rules import InvalidRegionCode, RegionCode
from schema.core.errors import BadInput

if TYPE_CHECKING:
    pass


from sqlalchemy import ColumnElement, false

from auth.policy import narrow_region_filter, region_exists
from auth.principal import Principal
from domain.regions.models import PlacedModel, placement_column
from schema.core.context import Reader


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
    known = await reader.one(region_exists(code.code))
    if not known:
        raise BadInput(f"region {code.code} does not exist in the Kemendagri list", field=field)
    narrowed = narrow_region_filter(principal, code)
    if narrowed is None:
        return false()
    result: ColumnElement[bool] = placement_column(model, narrowed.level) == narrowed.code
    return result
