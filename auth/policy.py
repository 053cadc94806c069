"""Row scoping and field rules: the one place that decides what a principal may see.

Every entry point (GraphQL lists, lookups, ``node``, ``_entities``, the console, exports) narrows its SQL
with :func:`region_clause` and masks with :func:`pii_visible`. A row outside the caller's region does not
exist for them: lookups return nothing rather than "forbidden", so existence does not leak.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, true

from auth.principal import Principal
from auth.scopes import Scope
from domain.nik import mask_identifier
from domain.regions import PlacedMixin, Region, RegionCode, RegionLevel, placement_column_for


class NotAuthenticated(Exception):
    """No (valid) credentials were presented for something that needs them."""

    extensions = {"code": "UNAUTHENTICATED"}

    def __init__(self) -> None:
        super().__init__("authentication required: send an access token as 'Authorization: Bearer <token>'")


class MissingScope(Exception):
    """The caller is known but lacks the scope a field needs."""

    extensions = {"code": "FORBIDDEN"}

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        super().__init__(f"this needs the scope '{scope.value}', which your token does not carry")


def require_scope(principal: Principal, scope: Scope) -> None:
    """Raise unless `principal` is authenticated and holds `scope` (deny by default)."""
    if not principal.is_authenticated:
        raise NotAuthenticated
    if not principal.has_scope(scope):
        raise MissingScope(scope)


def region_clause(principal: Principal, model: type[PlacedMixin]) -> ColumnElement[bool]:
    """SQL condition limiting rows of a placed model to the principal's region and everything below it.

    An indexed equality on the placement column of the region's level; national principals get TRUE.
    """
    if principal.region is None:
        return true()
    column = getattr(model, placement_column_for(principal.region.level))
    result: ColumnElement[bool] = column == principal.region.code
    return result


def region_row_clause(principal: Principal) -> ColumnElement[bool]:
    """SQL condition for the Region table: the principal's region, what lies below it, and its ancestors.

    Ancestors stay visible so that a regency officer can navigate up to the province's name; aggregates
    about an ancestor are still computed only over the principal's own rows.
    """
    if principal.region is None:
        return true()
    rc = principal.region
    level_column = {
        RegionLevel.PROVINCE: Region.province_code,
        RegionLevel.REGENCY: Region.regency_code,
        RegionLevel.DISTRICT: Region.district_code,
        RegionLevel.VILLAGE: Region.code,
    }[rc.level]
    clause: ColumnElement[bool] = level_column == rc.code
    if rc.ancestors:
        clause = or_(clause, Region.code.in_(rc.ancestors))
    return clause


def can_see_region(principal: Principal, code: str) -> bool:
    """Python twin of :func:`region_clause` for one row already in hand (same rule, same answer)."""
    return principal.region is None or principal.region.contains(code)


def can_see_region_row(principal: Principal, code: str) -> bool:
    """Python twin of :func:`region_row_clause`."""
    return can_see_region(principal, code) or (principal.region is not None and code in principal.region.ancestors)


def narrow_region_filter(principal: Principal, requested: RegionCode) -> RegionCode | None:
    """The region a filter may use: the requested one if the caller may see it all, None if nothing of it.

    A national caller can filter anywhere. A caller bound to 52.03 asking for 52 (its ancestor) gets its own
    52.03; asking for 52.71 gets nothing.
    """
    own = principal.region
    if own is None or own.contains(requested.code):
        return requested
    if requested.contains(own.code):
        return own
    return None


def pii_visible(principal: Principal) -> bool:
    return principal.has_scope(Scope.PII_READ)


def masked_identifier(principal: Principal, value: str | None) -> str | None:
    """A NIK or family-card number as the principal may see it."""
    if value is None or pii_visible(principal):
        return value
    return mask_identifier(value)


def personal_value(principal: Principal, value: Any) -> Any:
    """A personal value (birth date, wage) shown only with ``pii:read``; None otherwise."""
    return value if pii_visible(principal) else None
