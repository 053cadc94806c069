"""Poverty beneficiaries (P3KE, DTKS, DTSEN): scoped, masked, corrected through ``domain.beneficiaries.writes``,
enrolled through ``domain.beneficiaries.enrolment.enroll_beneficiary`` (Inpres 4/2022)."""

from __future__ import annotations

from typing import Any

from sqladmin import expose
from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form

from admin.access import Access
from admin.display import as_plain
from admin.filters import RegionFilter, ValuesFilter, boolean_filter
from admin.forms import BeneficiaryEditForm
from admin.imports import upload_page
from admin.views.base import ConsoleView, DetailAction, form_version, if_changed, plain_form_value
from admin.writes import Outcome
from auth.policy import pii_visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.beneficiaries.enrolment import enroll_beneficiary
from domain.beneficiaries.models import MAX_DECILE, MIN_DECILE, BeneficiarySource, PovertyBeneficiary
from domain.beneficiaries.writes import BeneficiaryChanges, update_beneficiary
from domain.nik import Sex
from domain.writes.caller import Caller

B = PovertyBeneficiary


class BeneficiaryView(ConsoleView, model=PovertyBeneficiary):
    name = "Poverty beneficiary"
    name_plural = "Poverty beneficiaries"
    icon = "fa-solid fa-hand-holding-heart"
    access = Access(read=Scope.BENEFICIARIES_READ, write=Scope.BENEFICIARIES_WRITE, write_needs_pii=True)
    audit_entity = "PovertyBeneficiary"
    edit_form_class = BeneficiaryEditForm
    can_create = False  # registry rows arrive with the registry's snapshots (jamsos import), not by hand

    column_list = [
        B.nik,
        B.full_name,
        B.decile,
        B.extreme_poor,
        B.source,
        B.snapshot_date,
        B.region_code,
        B.participant_id,
    ]
    column_details_list = [
        B.id,
        B.nik,
        B.family_card_number,
        B.full_name,
        B.birth_date,
        B.sex,
        B.decile,
        B.extreme_poor,
        B.source,
        B.snapshot_date,
        B.region_code,
        B.participant_id,
        B.version,
    ]
    column_export_list = [*column_list, B.family_card_number, B.sex]
    column_labels = {
        B.nik: "NIK",
        B.family_card_number: "Family card (KK)",
        B.full_name: "Full name",
        B.extreme_poor: "Extreme poor",
        B.snapshot_date: "Snapshot",
        B.region_code: "Village",
        B.participant_id: "Participant id",
        B.birth_date: "Birth date",
    }
    column_formatters = {
        B.source: as_plain,
        B.sex: as_plain,
        B.snapshot_date: as_plain,
    }
    column_formatters_detail = {
        B.source: as_plain,
        B.sex: as_plain,
        B.snapshot_date: as_plain,
    }
    column_sortable_list = [B.full_name, B.decile, B.snapshot_date]
    column_default_sort = [("full_name", False), ("id", False)]
    column_searchable_list = [B.full_name]
    search_hint = "NIK or name"
    column_filters = [
        RegionFilter(),
        ValuesFilter(
            B.decile,
            [(str(i), str(i)) for i in range(MIN_DECILE, MAX_DECILE + 1)],
            title="Decile",
            parameter_name="decile",
            convert=int,
        ),
        boolean_filter(B.extreme_poor, title="Extreme poor", parameter_name="extreme_poor"),
        ValuesFilter.of_enum(B.source, BeneficiarySource, title="Source", parameter_name="source"),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        clauses = [B.full_name.icontains(term, autoescape=True)]
        if len(term) == 16 and term.isdigit() and pii_visible(principal):
            clauses.append(B.nik == term)
        return or_(*clauses)

    async def save_edit(self, request: Request, row: Any, form: Form) -> Outcome[Any]:
        changes = BeneficiaryChanges(
            full_name=if_changed(form.full_name.data, row.full_name),
            family_card_number=if_changed((form.family_card_number.data or "").strip(), row.family_card_number or ""),
            birth_date=if_changed(form.birth_date.data, row.birth_date),
            sex=Sex(form.sex.data) if form.sex.data != plain_form_value(row.sex) else None,
            decile=if_changed(form.decile.data, row.decile),
            extreme_poor=None if bool(form.extreme_poor.data) == row.extreme_poor else bool(form.extreme_poor.data),
            region_code=if_changed(form.region_code.data.strip(), row.region_code),
        )
        version, reason, code = form_version(form), form.reason.data, form.reason_code.data
        return await self.correct(
            request,
            "PovertyBeneficiary",
            lambda s, c: update_beneficiary(
                s, c, row.id, changes, expected_version=version, reason=reason, reason_code=code
            ),
        )

    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        if row.participant_id is not None or not self.may_write(request):
            return []
        return [
            DetailAction(
                "Enrol in JKK + JKM (APBD)", self.route_url(request, "enrol", row), style="btn-success", slug="enrol"
            )
        ]

    def upload_url(self, request: Request) -> str | None:
        """The list-upload page, for users who may write beneficiaries (the list page links to it)."""
        return str(request.url_for(f"admin:view-{self.identity}-upload")) if self.may_write(request) else None

    @expose("/upload", methods=["GET", "POST"])
    async def upload(self, request: Request) -> Response:
        """Upload a P3KE/DTKS/DTSEN list: the same import as ``jamsos import`` and importBeneficiaries."""
        if not self.may_write(request):
            raise HTTPException(status_code=403)
        return await upload_page(request, self)

    @expose("/enrol/{pk}", methods=["POST"])
    async def enrol(self, request: Request) -> Response:
        row = await self.load_for_action(request)

        async def work(session: AsyncSession, caller: Caller) -> Any:
            await enroll_beneficiary(session, caller, row.id)
            return row

        outcome = await self.correct(request, "PovertyBeneficiary", work)
        return self.after_action(request, row, outcome, "")
