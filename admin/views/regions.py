"""Regions (read-only: the Kemendagri list) and their yearly Monev figures (``domain.regions.writes``).

A user sees the regions the API shows them: their own, everything below it and its ancestors
(``auth.policy.visible(principal, Region)``). Figures are national statistics (BPS) and national targets, so only an
``admin`` enters or corrects them; officers read them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from starlette.requests import Request
from wtforms import Form

from admin.access import ADMIN_ONLY, Access
from admin.display import as_plain, plain
from admin.filters import RegionFilter, ValuesFilter, region_table_column
from admin.forms import FigureCreateForm, FigureEditForm
from admin.views.base import ConsoleView, Table, form_version
from admin.writes import Gone, Outcome
from auth.policy import can_see_region, can_see_region_row, visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region, RegionYearFigure
from domain.regions.rules import RegionLevel
from domain.regions.writes import RegionFigures, figure_key, record_region_figures
from domain.writes.errors import Problem

R = Region
F = RegionYearFigure


class RegionView(ConsoleView, model=Region):
    name = "Region"
    name_plural = "Regions"
    icon = "fa-solid fa-map"
    access = Access(read=Scope.REGIONS_READ, writable=False)
    can_create = False
    can_edit = False  # names and codes come from the Kemendagri list

    column_list = [R.code, R.name, R.level, R.is_city, R.parent_code]
    column_details_list = [R.code, R.name, R.level, R.is_city, R.parent_code, R.province_code, R.regency_code]
    column_labels = {R.is_city: "City (kota/kelurahan)", R.parent_code: "Parent"}
    column_formatters = {R.level: as_plain}
    column_formatters_detail = {R.level: as_plain}
    column_sortable_list = [R.code, R.name, R.level]
    column_default_sort = [("code", False)]
    column_searchable_list = [R.name]
    search_hint = "code or name"
    column_filters = [
        RegionFilter(region_table_column, title="Within"),
        ValuesFilter.of_enum(R.level, RegionLevel, title="Level", parameter_name="level"),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return or_(
            R.code == term, R.code.startswith(term + ".", autoescape=True), R.name.icontains(term, autoescape=True)
        )

    async def detail_tables(self, request: Request, row: Any) -> list[Table]:
        figures = await self._run_query(select(F).where(F.region_code == row.code).order_by(F.year.desc()))
        return [
            Table(
                "Monev figures (corrected under Region figures)",
                ("year", "employed population", "UCJ target", "version"),
                [(f.year, plain(f.employed_population), plain(f.ucj_target), f.version) for f in figures],
            )
        ]


def _years() -> list[tuple[str, str]]:
    this_year = dt.date.today().year
    return [(str(y), str(y)) for y in range(this_year + 1, this_year - 8, -1)]


class RegionFigureView(ConsoleView, model=RegionYearFigure):
    name = "Region figures"
    name_plural = "Region figures (employed population, UCJ target)"
    icon = "fa-solid fa-chart-line"
    access = Access(read=Scope.REGIONS_READ, write_roles=ADMIN_ONLY)
    audit_entity = "RegionYearFigure"
    edit_form_class = FigureEditForm
    create_form_class = FigureCreateForm

    column_list = [F.region_code, F.year, F.employed_population, F.ucj_target, F.version]
    column_details_list = column_list
    column_labels = {F.region_code: "Region", F.employed_population: "Employed population", F.ucj_target: "UCJ target"}
    column_sortable_list = [F.region_code, F.year]
    column_default_sort = [("region_code", False), ("year", True)]
    column_searchable_list = [F.region_code]
    search_hint = "region code"
    column_filters = [
        RegionFilter(region_table_column, title="Within"),
        ValuesFilter(F.year, _years(), title="Year", parameter_name="year", convert=int),
    ]

    def base_query(self) -> Select[Any]:
        return select(F).join(R, R.code == F.region_code)

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return visible(principal, R)  # a figure is visible with its region (base_query joins it)

    def details_query(self, request: Request) -> Select[Any]:
        return self._scoped_by_pk(request)

    def form_edit_query(self, request: Request) -> Select[Any]:
        return self._scoped_by_pk(request)

    def _scoped_by_pk(self, request: Request) -> Select[Any]:
        stmt = self._stmt_by_identifier(request.path_params["pk"])
        return stmt.join(R, R.code == F.region_code).where(visible(self.principal(request), R))

    def row_visible(self, principal: Principal, row: Any) -> bool:
        return can_see_region_row(principal, row.region_code)  # the twin of visible(principal, Region)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        allowed = await super().check_can_edit(request, model)
        return allowed and can_see_region(self.principal(request), model.region_code)  # not an ancestor's

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return or_(F.region_code == term, F.region_code.startswith(term + ".", autoescape=True))

    def audit_id(self, row: Any) -> object:
        return figure_key(row.region_code, row.year)

    async def save_edit(self, request: Request, row: Any, form: Form) -> Outcome[Any]:
        data = RegionFigures(row.region_code, row.year, form.employed_population.data, form.ucj_target.data)
        version, reason, code = form_version(form), form.reason.data, form.reason_code.data
        return await self.correct(
            request,
            "RegionYearFigure",
            lambda s, c: record_region_figures(s, c, data, expected_version=version, reason=reason, reason_code=code),
        )

    async def save_create(self, request: Request, form: Form) -> Outcome[Any]:
        data = RegionFigures(
            form.region_code.data.strip(), form.year.data, form.employed_population.data, form.ucj_target.data
        )
        note = form.reason.data or None
        try:
            return await self.correct(
                request,
                "RegionYearFigure",
                lambda s, c: record_region_figures(s, c, data, expected_version=None, reason=note),
            )
        except Gone:
            message = f"there is no region {data.region_code} (or it is outside your region)"
            return Outcome(problems=[Problem("regionCode", RegionErrorCode.UNKNOWN_REGION, message)])
