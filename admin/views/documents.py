"""Trusted documents, for admins: what each partner client may run by id, and removing a document.

Registering is ``jamsos documents push`` (it checks each document against the schema, which the console has
no business building); the console lists, shows and removes, through ``domain.documents.writes`` like every
console change, so a removal is one audit event per client in the same transaction. Running servers stop
accepting a removed document within ``JAMSOS_DOCUMENTS_CACHE_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from sqladmin import expose
from sqladmin.flash import Flash
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.access import ADMIN_ONLY, Access
from admin.display import as_plain, plain
from admin.views.base import ConsoleView, DetailAction, Table
from admin.writes import Outcome, run_write
from auth.principal import Principal
from domain.documents.models import TrustedDocument, TrustedDocumentClient
from domain.documents.writes import DocumentError, remove_document
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import invalid

D = TrustedDocument


def _client_ids(model: Any, name: str, request: Request) -> str:
    return " ".join(c.client_id for c in model.clients)


class TrustedDocumentView(ConsoleView, model=TrustedDocument):
    name = "Trusted document"
    name_plural = "Trusted documents"
    icon = "fa-solid fa-file-shield"
    access = Access(read=None, roles=ADMIN_ONLY, write_roles=ADMIN_ONLY)
    audit_entity = "oauth_client"
    can_create = False
    can_edit = False

    column_list = [D.id, D.operation_name, "clients", D.registered_by, D.registered_at]
    column_details_list = [D.id, D.operation_name, D.text, "clients", D.registered_by, D.registered_at]
    column_labels = {D.id: "Document id", D.operation_name: "Operation", D.registered_at: "Registered"}
    column_formatters = {"clients": _client_ids, D.registered_at: as_plain}
    column_formatters_detail = {"clients": _client_ids, D.registered_at: as_plain}
    column_sortable_list = [D.id, D.operation_name, D.registered_at]
    column_default_sort = [("registered_at", True)]
    column_searchable_list = [D.operation_name]
    search_hint = "document id, operation or client id"

    def base_query(self) -> Any:
        return select(TrustedDocument).options(selectinload(TrustedDocument.clients))

    def details_query(self, request: Request) -> Any:
        return super().details_query(request).options(selectinload(TrustedDocument.clients))

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        of_client = select(TrustedDocumentClient.document_id).where(TrustedDocumentClient.client_id == term)
        return or_(D.id == term, D.operation_name.icontains(term, autoescape=True), D.id.in_(of_client))

    async def detail_tables(self, request: Request, row: Any) -> list[Table]:
        clients = [(c.client_id, c.registered_by, plain(c.registered_at)) for c in row.clients]
        return [Table("Registered for", ("Client id", "Registered by", "Registered"), clients)]

    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        if not self.may_write(request):
            return []
        return [
            DetailAction(
                "Remove for every client", self.route_url(request, "remove", row), style="btn-danger", slug="remove"
            )
        ]

    async def recent_changes(self, request: Request, row: Any) -> Any:
        return []  # the events are the clients' (entity oauth_client): the client's page lists them

    @expose("/remove/{pk}", methods=["POST"])
    async def remove(self, request: Request) -> Response:
        row = await self.load_for_action(request)

        async def work(session: AsyncSession, caller: Caller) -> list[str]:
            try:
                return await remove_document(
                    session, document=row.id, client_id=None, actor=caller.actor, meta=caller.meta
                )
            except DocumentError as exc:
                raise invalid(None, WriteCode.NOT_FOUND, str(exc)) from None  # removed meanwhile

        outcome: Outcome[list[str]] = await run_write(self.write_sessions, request, work)
        if not outcome.ok or outcome.value is None:
            return self.after_action(request, row, Outcome(problems=outcome.problems, conflict=outcome.conflict), "")
        Flash.success(request, f"Document {row.id} removed for {' '.join(outcome.value)}.")
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=303)
