"""Filter helpers shared by the list fields: region filters that respect the caller's own region."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false

from auth.policy import narrow_region_filter, region_exists
from auth.principal import Principal
from domain.regions.models import PlacedModel, placement_column
from schema.core.context import Reader
from schema.core.errors import BadInput
from schema.regions import parse_region_code


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


def apply(stmt: Select[Any], *clauses: ColumnElement[bool] | None) -> Select[Any]:
    for clause in clauses:
        if clause is not None:
            stmt = stmt.where(clause)
    return stmt


def name_search(column: Any, text: str | None, field: str) -> ColumnElement[bool] | None:
    """Case-insensitive substring match on a name; at least 3 characters so it stays selective."""
    if text is None:
        return None
    needle = text.strip()
    if len(needle) < 3:
        raise BadInput("a name search needs at least 3 characters", field=field)
    if len(needle) > 100:
        raise BadInput("a name search is at most 100 characters", field=field)
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result
