"""List filters of the console (SQLAdmin's filter protocol): region, programme, and typed value lists.

Filters narrow a statement that is already limited to the user's region (``list_query``), so a filter value
pointing elsewhere can only produce an empty page, never rows the user may not see. The region filter offers
the regions one level below the user's own (provinces for a national user) and drills down from the one
chosen.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

from sqladmin._types import _UNSET
from sqlalchemy import ColumnElement, Select, exists, false, or_, select
from starlette.requests import Request

from admin.auth import console_principal
from auth.policy import can_see_region, visible
from domain import clock
from domain.participants.models import ParticipantProgram, ParticipantStatus
from domain.participants.rules import Program
from domain.participants.status import status_is
from domain.regions.models import Region, placement_column
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel

_ALL = ("__all", "All")
_LOOKUP_TEMPLATE = "sqladmin/filters/lookup_filter.html"

ColumnFor = Callable[[Any, RegionLevel], Any]


def placed_column(model: Any, level: RegionLevel) -> Any:
    """The placement column of the view's own model (participants, claims, regions, …) holding `level`."""
    return placement_column(model, level)


def region_table_column(_model: Any, level: RegionLevel) -> Any:
    """The Region table's column holding the codes of `level` (for rows joined to their region)."""
    return placement_column(Region, level)


class RegionFilter:
    has_operator = False
    default_value: Any = _UNSET  # SQLAdmin's protocol: no default selection
    template = _LOOKUP_TEMPLATE

    def __init__(
        self, column_for: ColumnFor = placed_column, title: str = "Region", parameter_name: str = "region"
    ) -> None:
        self.column_for = column_for
        self.title = title
        self.parameter_name = parameter_name

    async def lookups(self, request: Request, model: Any, run_query: Callable[[Any], Any]) -> list[Any]:
        principal = console_principal(request)
        parents: list[str | None] = [principal.region.code if principal.region else None]
        chosen = _parse(request.query_params.get(self.parameter_name))
        if chosen is not None and can_see_region(principal, chosen.code) and chosen.code not in parents:
            parents.append(chosen.code)
        conditions: list[ColumnElement[bool]] = [
            Region.parent_code.is_(None) if p is None else Region.parent_code == p for p in parents
        ]
        codes = [p for p in parents if p is not None]
        if codes:
            conditions.append(Region.code.in_(codes))
        stmt = select(Region.code, Region.name).where(or_(*conditions), visible(principal, Region))
        rows = await run_query(stmt.order_by(Region.code))
        return [_ALL, *((code, f"{code} {name}") for code, name in rows)]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value in (None, "", "__all"):
            return query
        code = _parse(str(value))
        if code is None:
            return query.where(false())
        return query.where(self.column_for(model, code.level) == code.code)


def _parse(raw: str | None) -> RegionCode | None:
    if not raw or raw == "__all":
        return None
    try:
        return RegionCode.parse(raw)
    except InvalidRegionCode:
        return None


class _EnumFilter:
    """A lookup filter over the members of one enum (SQLAdmin's filter protocol); subclasses say what a member
    selects. An unknown value selects nothing."""

    has_operator = False
    default_value: Any = _UNSET  # SQLAdmin's protocol: no default selection
    template = _LOOKUP_TEMPLATE
    title: str
    parameter_name: str
    members: type[enum.Enum]

    async def lookups(self, request: Request, model: Any, run_query: Callable[[Any], Any]) -> list[Any]:
        return [_ALL, *((m.value, m.value) for m in self.members)]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value in (None, "", "__all"):
            return query
        if value not in self.members.__members__:
            return query.where(false())
        return query.where(self.selects(model, self.members(value)))

    def selects(self, model: Any, member: Any) -> ColumnElement[bool]:
        raise NotImplementedError


class StatusFilter(_EnumFilter):
    """Participants by status as every read shows it: derived from the ledger today (domain.participants.status)."""

    title = "Status"
    parameter_name = "status"
    members = ParticipantStatus

    def selects(self, model: Any, member: Any) -> ColumnElement[bool]:
        return status_is(member, clock.today())


class ProgramFilter(_EnumFilter):
    """Participants who hold a programme (through the enrolment table)."""

    title = "Programme"
    parameter_name = "program"
    members = Program

    def selects(self, model: Any, member: Any) -> ColumnElement[bool]:
        return exists().where(ParticipantProgram.participant_id == model.id, ParticipantProgram.program == member)


class ValuesFilter:
    """A fixed list of values for one column, converted to the column's type before it reaches SQL."""

    has_operator = False
    default_value: Any = _UNSET  # SQLAdmin's protocol: no default selection
    template = _LOOKUP_TEMPLATE

    def __init__(
        self,
        column: Any,
        values: Sequence[tuple[str, str]],
        *,
        title: str,
        parameter_name: str,
        convert: Callable[[str], Any] = str,
    ) -> None:
        self.column = column
        self.values = list(values)
        self.title = title
        self.parameter_name = parameter_name
        self.convert = convert

    @classmethod
    def of_enum(cls, column: Any, enum_type: Any, *, title: str, parameter_name: str) -> ValuesFilter:
        return cls(column, [(e.value, e.value) for e in enum_type], title=title, parameter_name=parameter_name)

    async def lookups(self, request: Request, model: Any, run_query: Callable[[Any], Any]) -> list[Any]:
        return [_ALL, *self.values]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value in (None, "", "__all"):
            return query
        if value not in {v for v, _ in self.values}:
            return query.where(false())
        return query.where(self.column == self.convert(str(value)))


def boolean_filter(column: Any, *, title: str, parameter_name: str) -> ValuesFilter:
    return ValuesFilter(
        column,
        [("true", "Yes"), ("false", "No")],
        title=title,
        parameter_name=parameter_name,
        convert=lambda v: v == "true",
    )
