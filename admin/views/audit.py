"""The audit trail, read-only: for users who may read it through the API too (national, ``audit:read``).

In practice that is the ``admin`` role: officers are bound to a region and lack ``audit:read``, and auditors
do not sign in to the console (ADR 0003). Events are never edited or deleted here (the ORM and the database
refuse that anyway).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, or_
from starlette.requests import Request

from admin.display import as_plain, changes_formatter, changes_line, changes_shown
from admin.filters import ValuesFilter
from admin.views.base import AUDIT_ACCESS, ConsoleView
from auth.principal import Principal
from domain.audit.models import AuditEvent

A = AuditEvent
ENTITY_TYPES = ("Participant", "Employer", "PovertyBeneficiary", "Claim", "RegionYearFigure", "user", "oauth_client")


class AuditEventView(ConsoleView, model=AuditEvent):
    name = "Audit event"
    name_plural = "Audit events"
    icon = "fa-solid fa-clipboard-list"
    access = AUDIT_ACCESS
    can_create = False
    can_edit = False

    column_list = [
        A.seq,
        A.occurred_at,
        A.actor_subject,
        A.action,
        A.entity_type,
        A.entity_id,
        A.changes,
        A.reason_code,
        A.reason,
    ]
    column_details_list = [
        A.seq,
        A.occurred_at,
        A.actor_subject,
        A.actor_kind,
        A.client_id,
        A.action,
        A.entity_type,
        A.entity_id,
        A.reason_code,
        A.reason,
        A.changes,
        A.request_id,
        A.source_ip,
        A.prev_hash,
        A.hash,
    ]
    column_labels = {
        A.seq: "#",
        A.action: "Action",
        A.occurred_at: "When (UTC)",
        A.actor_subject: "Who",
        A.entity_type: "Record type",
        A.entity_id: "Record id",
        A.reason_code: "Reason",
        A.reason: "Note",
        A.changes: "Before → after",
    }
    column_formatters = {A.occurred_at: as_plain, A.changes: changes_line}
    column_formatters_detail = {A.occurred_at: as_plain, A.changes: changes_formatter}
    column_sortable_list = [A.seq, A.occurred_at, A.action, A.entity_type]
    column_default_sort = [("seq", True)]
    column_searchable_list = [A.entity_id]
    search_hint = "record id, who, or action"
    column_filters = [
        ValuesFilter(A.entity_type, [(t, t) for t in ENTITY_TYPES], title="Record type", parameter_name="entity_type"),
        ValuesFilter(
            A.actor_kind,
            [(k, k) for k in ("user", "client", "system", "anonymous")],
            title="Actor kind",
            parameter_name="actor_kind",
        ),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return or_(
            A.entity_id == term,
            A.actor_subject.icontains(term, autoescape=True),
            A.action.icontains(term, autoescape=True),
        )

    def export_value(self, row: Any, name: str, request: Request) -> Any:
        if name == "changes":
            changes = changes_shown(request, row)
            return json.dumps(changes, ensure_ascii=False, sort_keys=True) if changes is not None else ""
        return super().export_value(row, name, request)
