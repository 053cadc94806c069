"""What every console view shares: who may open it, which rows exist for the user, search, export, and the
correction protocol the console's edit and create pages drive.

Row scoping has one implementation, ``auth.policy``. The base view applies ``policy.visible`` to every
region-placed model by default (:meth:`ConsoleView.scope` for SQL, :meth:`ConsoleView.row_visible` for a
row in hand) in ``list_query`` (the list, its count, search, filters and export) **and** in the details and
edit queries, which SQLAdmin loads by primary key: a row outside the user's region is "not found" on every
page. Views do not restate the rule; only a view whose rows are placed through another table overrides it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from sqladmin import ModelView
from sqladmin._types import OperationColumnFilter, SimpleColumnFilter
from sqladmin.flash import Flash
from sqladmin.helpers import get_object_identifier
from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import Form

from admin import csrf
from admin.access import Access
from admin.auth import console_principal
from admin.display import plain, protected
from admin.export import csv_response, csv_rows
from admin.writes import Outcome, latest_event, run_write, saved_message
from auth.policy import PERSONAL_DATA, WAGE_DERIVED_DATA, national_decision, visible
from auth.policy import row_visible as policy_row_visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.audit.models import AuditEvent
from domain.jobs.queue import JobQueue
from domain.regions.models import is_placed
from domain.writes.caller import Caller
from domain.writes.errors import Problem

#: Who may read the audit trail in the console: ``auth.policy.audit_trail_decision``, as GraphQL ``auditEvents``.
AUDIT_ACCESS = Access(read=Scope.AUDIT_READ, writable=False, national_only=True)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
#: Filters whose value is not a selection (search term, paging, sorting).
_LIST_PARAMS = frozenset({"search", "page", "pageSize", "sortBy", "sort"})


def field_name(problem_field: str | None) -> str | None:
    """A domain problem's field (``fullName``, ``recipients[0].nik``) as a form field name (``full_name``)."""
    if not problem_field:
        return None
    head = problem_field.split(".")[0].split("[")[0]
    return _CAMEL.sub("_", head).lower()


@dataclass(frozen=True)
class Input:
    """A field of a details-page action form."""

    name: str
    label: str
    required: bool = False


@dataclass(frozen=True)
class Table:
    """A table on a details page (values are escaped by the template)."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class DetailAction:
    """A button on a details page that POSTs (with the CSRF token) to one of the view's routes."""

    label: str
    url: str
    inputs: tuple[Input, ...] = ()
    hidden: tuple[tuple[str, str], ...] = ()
    style: str = "btn-primary"
    slug: str = ""


class ConsoleView(ModelView):
    """Base of the console's views (abstract: no model)."""

    access: ClassVar[Access] = Access(read=Scope.AUDIT_READ, writable=False, roles=frozenset())
    #: The session factory that writes go through (set per console by ``admin.console``; not SQLAdmin's).
    write_sessions: ClassVar[async_sessionmaker[AsyncSession]]
    #: Where a bulk write over a page hands its job, and where an import job's file is staged (set per console
    #: by ``admin.console``; None: this console starts no jobs).
    job_queue: ClassVar[JobQueue | None] = None
    job_files: ClassVar[Path | None] = None
    edit_form_class: ClassVar[type[Form] | None] = None
    create_form_class: ClassVar[type[Form] | None] = None
    #: The audit trail's entity type of this view's rows (its recent changes show on the details page).
    audit_entity: ClassVar[str | None] = None
    #: Search terms: what the placeholder lists; the matching is :meth:`search_clause`.
    search_hint: ClassVar[str] = ""

    can_delete = False
    can_import = False
    can_export = True
    export_types: ClassVar[list[str]] = ["csv"]
    search_auto_submit = False
    page_size = 25
    page_size_options: ClassVar[Sequence[int]] = [25, 50, 100]
    details_template = "jamsos/details.html"

    def __init__(self) -> None:
        super().__init__()
        for name in self._prop_names:  # readable headings for columns without a label of their own
            self._column_labels.setdefault(name, name.replace("_", " ").capitalize())
        # Personal data is masked by the policy's one rule set in lists, details and exports alike; a view
        # cannot forget a column or show one differently from the API.
        for name in {*PERSONAL_DATA.get(self.model, {}), *WAGE_DERIVED_DATA.get(self.model, {})}:
            self._list_formatters[name] = self._detail_formatters[name] = protected
            self._list_formatter_accepts_request[name] = self._detail_formatter_accepts_request[name] = True

    # -- who ------------------------------------------------------------------------------------------------
    def principal(self, request: Request) -> Principal:
        return console_principal(request)

    def is_accessible(self, request: Request) -> bool:
        return self.access.can_read(self.principal(request))

    def is_visible(self, request: Request) -> bool:
        return self.is_accessible(request)

    def may_write(self, request: Request) -> bool:
        return self.access.can_write(self.principal(request))

    async def check_can_list(self, request: Request) -> bool:
        return self.is_accessible(request)

    async def check_can_create(self, request: Request) -> bool:
        return self.can_create and self.create_form_class is not None and self.may_write(request)

    async def check_can_view_details(self, request: Request, model: Any) -> bool:
        if model is not None and not self.row_visible(self.principal(request), model):
            raise HTTPException(status_code=404)
        return True  # a row the scoped query did not find is a 404 of the details route

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        if model is None or not self.row_visible(self.principal(request), model):
            raise HTTPException(status_code=404)
        return self.can_edit and self.edit_form_class is not None and self.may_write(request)

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return False  # the console never deletes: corrections are edits with a reason

    async def check_can_export(self, request: Request) -> bool:
        return self.can_export and self.is_accessible(request)

    async def check_can_import(self, request: Request) -> bool:
        return False

    # -- which rows -----------------------------------------------------------------------------------------
    def scope(self, principal: Principal) -> ColumnElement[bool]:
        """SQL: the rows of this view that exist for `principal`, by default ``auth.policy.visible``.

        Every region-placed model is scoped without the view saying so. A table with no region rule holds
        national records: only a national user sees its rows. A view whose rows are placed through another
        table (region figures) overrides this with ``visible`` applied to that table.
        """
        if is_placed(self.model):
            return visible(principal, self.model)
        return true() if national_decision(principal).allowed else false()

    def row_visible(self, principal: Principal, row: Any) -> bool:
        """The same rule as :meth:`scope` for a row in hand."""
        if is_placed(type(row)):
            return policy_row_visible(principal, row)
        return national_decision(principal).allowed

    def base_query(self) -> Select[Any]:
        return select(self.model)

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        """What a search term matches (None: nothing). Identifiers match exactly, names in part."""
        return None

    def list_query(self, request: Request) -> Select[Any]:
        principal = self.principal(request)
        stmt = self.base_query().where(self.scope(principal))
        term = request.query_params.get("search", "").strip()[:200]
        if term:
            clause = self.search_clause(principal, term)
            stmt = stmt.where(clause if clause is not None else false())
        return stmt

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        return stmt  # searching is part of list_query, which knows who is asking

    def _stmt_by_identifier(self, identifier: str) -> Select[Any]:
        try:
            stmt: Select[Any] = super()._stmt_by_identifier(identifier)
        except (ValueError, TypeError):
            raise HTTPException(status_code=404) from None
        params = stmt.compile().params.values()
        if any(isinstance(v, int) and not -(2**31) <= v < 2**31 for v in params):
            raise HTTPException(status_code=404)  # no row has such a key; the database would refuse the value
        return stmt

    def search_placeholder(self) -> str:
        return self.search_hint

    def details_query(self, request: Request) -> Select[Any]:
        return super().details_query(request).where(self.scope(self.principal(request)))

    def form_edit_query(self, request: Request) -> Select[Any]:
        return super().form_edit_query(request).where(self.scope(self.principal(request)))

    async def filtered_query(self, request: Request) -> Select[Any]:
        """The list's statement without paging: scope, search, the filters chosen, the sort order."""
        stmt = self.list_query(request)
        for list_filter in self.get_filters():
            name = list_filter.parameter_name
            value = request.query_params.get(name)
            if not value or name in _LIST_PARAMS:
                continue
            if getattr(list_filter, "has_operator", False):  # as SQLAdmin's list() tells the two kinds apart
                operation = request.query_params.get(f"{name}_op")
                if operation:
                    with_operation = cast(OperationColumnFilter, list_filter)
                    stmt = await with_operation.get_filtered_query(stmt, operation, value, self.model)
            else:
                stmt = await cast(SimpleColumnFilter, list_filter).get_filtered_query(stmt, value, self.model)
        return self.sort_query(stmt, request)

    # -- export ---------------------------------------------------------------------------------------------
    def export_value(self, row: Any, name: str, request: Request) -> Any:
        formatter = self._list_formatters.get(name)
        if formatter is not None:
            return formatter(row, name, request)
        return plain(getattr(row, name, None))

    async def export_csv(self, request: Request) -> Any:
        names = list(self._export_prop_names)
        headers = [str(self._column_labels.get(n, n)) for n in names]
        stmt = await self.filtered_query(request)
        sessions = cast(async_sessionmaker[AsyncSession], self.session_maker)  # the console's is async
        rows = csv_rows(sessions, stmt, headers, lambda row: [self.export_value(row, n, request) for n in names])
        return csv_response(self.identity, rows)

    # -- corrections ----------------------------------------------------------------------------------------
    def new_form(self, form_class: type[Form], request: Request, formdata: Any = None, **data: Any) -> Form:
        form = form_class(formdata, data=data or None)
        form.csrf_token.data = csrf.session_token(request.session)
        return form

    async def edit_values(self, request: Request, row: Any) -> dict[str, Any]:
        """The edit form's initial values for `row` (its version included)."""
        assert self.edit_form_class is not None
        names = self.edit_form_class()._fields
        values = {name: plain_form_value(getattr(row, name)) for name in names if hasattr(row, name)}
        values["version"] = getattr(row, "version", None)
        return values

    async def save_edit(self, request: Request, row: Any, form: Form) -> Outcome[Any]:
        raise HTTPException(status_code=403)

    async def save_create(self, request: Request, form: Form) -> Outcome[Any]:
        raise HTTPException(status_code=403)

    def audit_id(self, row: Any) -> object:
        """The id the audit trail records this row under."""
        return row.id

    async def correct(
        self,
        request: Request,
        entity_type: str,
        work: Callable[[AsyncSession, Caller], Awaitable[Any]],
        done: Callable[[Any], str] | None = None,
    ) -> Outcome[Any]:
        """Run a domain write; on success tell the clerk what changed (or `done(row)`) and where it is recorded."""

        async def run(session: AsyncSession, caller: Caller) -> tuple[Any, AuditEvent | None]:
            row = await work(session, caller)
            return row, await latest_event(session, entity_type, self.audit_id(row))

        outcome = await run_write(self.write_sessions, request, run)
        if not outcome.ok or outcome.value is None:
            return Outcome(problems=outcome.problems, conflict=outcome.conflict)
        row, event = outcome.value
        message = saved_message(event)
        if done is not None:
            message = done(row) + (f" Audit event #{event.seq}." if event is not None else "")
        Flash.success(request, message)
        return Outcome(value=row)

    # -- details page -----------------------------------------------------------------------------------------
    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        """Buttons on the details page (each a POST form); none by default."""
        return []

    async def detail_tables(self, request: Request, row: Any) -> list[Table]:
        """Related rows shown under the record (benefits, history); none by default."""
        return []

    async def recent_changes(self, request: Request, row: Any) -> Sequence[AuditEvent]:
        """The last audit events of this row, for a user who may read the audit trail (national, audit:read)."""
        principal = self.principal(request)
        if self.audit_entity is None or not AUDIT_ACCESS.can_read(principal):
            return []
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.entity_type == self.audit_entity, AuditEvent.entity_id == str(self.audit_id(row)))
            .order_by(AuditEvent.seq.desc())
            .limit(10)
        )
        events: Sequence[AuditEvent] = await self._run_query(stmt)
        return events

    def route_url(self, request: Request, endpoint: str, row: Any) -> str:
        return str(request.url_for(f"admin:view-{self.identity}-{endpoint}", pk=str(get_object_identifier(row))))

    async def load_for_action(self, request: Request) -> Any:
        """The row a details-page action targets: visible to the user, who may write through this view."""
        row = await self.get_object_for_details(request)
        if row is None or not self.row_visible(self.principal(request), row):
            raise HTTPException(status_code=404)
        if not self.may_write(request):
            raise HTTPException(status_code=403)
        return row

    def after_action(self, request: Request, row: Any, outcome: Outcome[Any], done: str) -> Response:
        if outcome.conflict:
            Flash.error(request, f"Nothing was saved: {outcome.conflict}")
        elif outcome.problems:
            Flash.error(request, "Nothing was saved: " + " ".join(p.message for p in outcome.problems))
        elif done:
            Flash.success(request, done)
        return RedirectResponse(self._build_url_for("admin:details", request, row), status_code=303)

    def after_save_url(self, request: Request, row: Any) -> Any:
        return self._build_url_for("admin:details", request, row)

    @staticmethod
    def place_problems(form: Form, problems: Sequence[Problem]) -> list[str]:
        """Put each problem on its form field; return the messages no field shows."""
        general = []
        for problem in problems:
            name = field_name(problem.field)
            target = form._fields.get(name) if name else None
            if target is None or target.type in ("HiddenField", "CSRFTokenField"):
                general.append(problem.message)
            else:
                target.errors = [*target.errors, problem.message]
        return general


def form_version(form: Form) -> int:
    """The version the person read, from the form's hidden field (a tampered one is a stale one)."""
    try:
        return int(form.version.data)
    except (TypeError, ValueError):
        return -1


def plain_form_value(value: Any) -> Any:
    """A stored value as a form field holds it (enums by their value)."""
    return getattr(value, "value", value) if isinstance(value, enum.Enum) else value


def unchanged(value: Any, current: Any) -> bool:
    """A form value equal to the stored one (so it is not sent as a change)."""
    if isinstance(value, str) and current is not None and not isinstance(current, str):
        current = getattr(current, "value", current)
    return bool(value == current)


def if_changed(value: Any, current: Any) -> Any:
    return None if value is None or unchanged(value, current) else value
