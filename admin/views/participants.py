"""Participants and employers: lists scoped to the user's region, corrections through ``domain.participants.writes``
and ``domain.participants.employer_writes``."""

from __future__ import annotations

from typing import Any

from sqladmin import expose
from sqlalchemy import ColumnElement, or_, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form

from admin.access import Access
from admin.display import as_plain, participant_status
from admin.filters import ProgramFilter, RegionFilter, StatusFilter, ValuesFilter
from admin.forms import EmployerCreateForm, EmployerEditForm, ParticipantCreateForm, ParticipantEditForm
from admin.row_imports import row_upload_page
from admin.views.base import ConsoleView, form_version, if_changed, plain_form_value
from admin.writes import Outcome
from auth.policy import pii_visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.nik import Sex
from domain.participants.employer_writes import EmployerChanges, EmployerData, register_employer, update_employer
from domain.participants.models import Employer, FundingSource, Participant, ParticipantProgram, ParticipantStatus
from domain.participants.rules import Program, Segment
from domain.participants.writes import ParticipantChanges, Registration, register_participant, update_participant

P = Participant


def _enum_or_none(enum_type: Any, value: str | None) -> Any:
    return enum_type(value) if value else None


class ParticipantView(ConsoleView, model=Participant):
    name = "Participant"
    name_plural = "Participants"
    icon = "fa-solid fa-id-card"
    access = Access(read=Scope.PARTICIPANTS_READ, write=Scope.PARTICIPANTS_WRITE, write_needs_pii=True)
    audit_entity = "Participant"
    edit_form_class = ParticipantEditForm
    create_form_class = ParticipantCreateForm

    column_list = [
        P.membership_number,
        P.nik,
        P.phone_number,
        P.full_name,
        P.segment,
        P.status,
        P.funding_source,
        P.region_code,
        P.paid_through,
    ]
    column_details_list = [
        P.id,
        P.membership_number,
        P.nik,
        P.full_name,
        P.birth_date,
        P.sex,
        P.segment,
        P.status,
        P.funding_source,
        P.employer_id,
        P.monthly_wage,
        P.phone_number,
        P.paid_through,
        P.contribution_months,
        P.region_code,
        P.registered_at,
        P.version,
    ]
    column_export_list = [*column_list, P.sex, P.contribution_months]
    column_labels = {
        P.membership_number: "Membership (KPJ)",
        P.nik: "NIK",
        P.full_name: "Full name",
        P.funding_source: "Funding",
        P.segment: "Segment",
        P.status: "Status",
        P.sex: "Sex",
        P.contribution_months: "Contribution months",
        P.region_code: "Village",
        P.paid_through: "Paid through",
        P.birth_date: "Birth date",
        P.monthly_wage: "Monthly wage",
        P.phone_number: "Mobile number",
        P.employer_id: "Employer id",
        P.registered_at: "Registered",
    }
    column_formatters = {
        P.segment: as_plain,
        P.status: participant_status,
        P.funding_source: as_plain,
        P.paid_through: as_plain,
        P.sex: as_plain,
    }
    column_formatters_detail = {
        P.segment: as_plain,
        P.status: participant_status,
        P.funding_source: as_plain,
        P.sex: as_plain,
        P.registered_at: as_plain,
    }
    # Not by status: it is derived per day (domain.participants.status); paid-through sorts the same way.
    column_sortable_list = [P.membership_number, P.full_name, P.paid_through, P.registered_at]
    column_default_sort = [("full_name", False), ("id", False)]
    column_searchable_list = [P.full_name]
    search_hint = "NIK, membership number (KPJ) or name"
    column_filters = [
        RegionFilter(),
        ValuesFilter.of_enum(P.segment, Segment, title="Segment", parameter_name="segment"),
        StatusFilter(),
        ProgramFilter(),
        ValuesFilter.of_enum(P.funding_source, FundingSource, title="Funding", parameter_name="funding"),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        clauses = [P.full_name.icontains(term, autoescape=True), P.membership_number == term]
        if len(term) == 16 and term.isdigit() and pii_visible(principal):
            clauses.append(P.nik == term)  # a NIK finds its holder only for who may see NIKs (ADR 0001)
        return or_(*clauses)

    async def _programs(self, participant_id: int) -> list[str]:
        stmt = select(ParticipantProgram.program).where(ParticipantProgram.participant_id == participant_id)
        return sorted(str(p) for (p,) in await self._run_arbitrary_query(stmt))

    async def edit_values(self, request: Request, row: Any) -> dict[str, Any]:
        values = await super().edit_values(request, row)
        values["programs"] = await self._programs(row.id)
        return values

    async def save_edit(self, request: Request, row: Any, form: Form) -> Outcome[Any]:
        held = set(await self._programs(row.id))
        wanted = set(form.programs.data or [])
        changes = ParticipantChanges(
            nik=if_changed(form.nik.data.strip(), row.nik),
            full_name=if_changed(form.full_name.data, row.full_name),
            birth_date=if_changed(form.birth_date.data, row.birth_date),
            sex=_enum_or_none(Sex, if_changed(form.sex.data, plain_form_value(row.sex))),
            status=_enum_or_none(ParticipantStatus, if_changed(form.status.data, plain_form_value(row.status))),
            funding_source=_enum_or_none(
                FundingSource, if_changed(form.funding_source.data, plain_form_value(row.funding_source))
            ),
            region_code=if_changed(form.region_code.data.strip(), row.region_code),
            monthly_wage=if_changed(form.monthly_wage.data, row.monthly_wage),
            phone_number=if_changed((form.phone_number.data or "").strip(), row.phone_number or ""),
            programs={Program(p) for p in wanted} if wanted != held else None,
        )
        version, reason, code = form_version(form), form.reason.data, form.reason_code.data
        return await self.correct(
            request,
            "Participant",
            lambda s, c: update_participant(
                s, c, row.id, changes, expected_version=version, reason=reason, reason_code=code
            ),
        )

    async def save_create(self, request: Request, form: Form) -> Outcome[Any]:
        data = Registration(
            nik=form.nik.data.strip(),
            full_name=form.full_name.data,
            birth_date=form.birth_date.data,
            sex=Sex(form.sex.data),
            segment=Segment(form.segment.data),
            funding_source=FundingSource(form.funding_source.data),
            region_code=form.region_code.data.strip(),
            programs={Program(p) for p in form.programs.data or []},
            employer_registration_number=(form.employer_registration_number.data or "").strip() or None,
            monthly_wage=form.monthly_wage.data,
            phone_number=form.phone_number.data,
        )
        return await self.correct(request, "Participant", lambda s, c: register_participant(s, c, data))

    def upload_url(self, request: Request) -> str | None:
        """The participant and contribution upload page, for users who may write participants."""
        return str(request.url_for(f"admin:view-{self.identity}-upload")) if self.may_write(request) else None

    @expose("/upload", methods=["GET", "POST"])
    async def upload(self, request: Request) -> Response:
        """Upload a participant or contribution file: the same imports as importParticipants/importContributions."""
        if not self.may_write(request):
            raise HTTPException(status_code=403)
        return await row_upload_page(request, self)


E = Employer


class EmployerView(ConsoleView, model=Employer):
    name = "Employer"
    name_plural = "Employers"
    icon = "fa-solid fa-building"
    access = Access(read=Scope.PARTICIPANTS_READ, write=Scope.PARTICIPANTS_WRITE)
    audit_entity = "Employer"
    edit_form_class = EmployerEditForm
    create_form_class = EmployerCreateForm

    column_list = [E.registration_number, E.name, E.jkk_risk_class, E.region_code]
    column_details_list = [E.id, E.registration_number, E.name, E.jkk_risk_class, E.region_code, E.version]
    column_labels = {
        E.registration_number: "Registration (NPP)",
        E.name: "Name",
        E.jkk_risk_class: "JKK risk class",
        E.region_code: "Village",
    }
    column_sortable_list = [E.registration_number, E.name, E.jkk_risk_class]
    column_default_sort = [("name", False), ("id", False)]
    column_searchable_list = [E.name]
    search_hint = "registration number (NPP) or name"
    column_filters = [
        RegionFilter(),
        ValuesFilter(
            E.jkk_risk_class,
            [(str(i), str(i)) for i in range(1, 6)],
            title="JKK risk class",
            parameter_name="risk",
            convert=int,
        ),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return or_(E.name.icontains(term, autoescape=True), E.registration_number == term.upper())

    async def save_edit(self, request: Request, row: Any, form: Form) -> Outcome[Any]:
        changes = EmployerChanges(
            registration_number=if_changed(form.registration_number.data.strip().upper(), row.registration_number),
            name=if_changed(form.name.data, row.name),
            jkk_risk_class=if_changed(form.jkk_risk_class.data, row.jkk_risk_class),
            region_code=if_changed(form.region_code.data.strip(), row.region_code),
        )
        version, reason, code = form_version(form), form.reason.data, form.reason_code.data
        return await self.correct(
            request,
            "Employer",
            lambda s, c: update_employer(
                s, c, row.id, changes, expected_version=version, reason=reason, reason_code=code
            ),
        )

    async def save_create(self, request: Request, form: Form) -> Outcome[Any]:
        data = EmployerData(
            registration_number=form.registration_number.data,
            name=form.name.data,
            jkk_risk_class=form.jkk_risk_class.data,
            region_code=form.region_code.data.strip(),
        )
        return await self.correct(request, "Employer", lambda s, c: register_employer(s, c, data))
