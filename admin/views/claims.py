"""Claims: scoped lists and details; the status changes only through the workflow buttons, which call
``domain.claims.writes`` (verify, approve, pay, reject) with the version the clerk saw."""

from __future__ import annotations

from typing import Any

from sqladmin import expose
from sqlalchemy import ColumnElement, or_, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin.access import Access
from admin.display import as_plain, in_console, plain
from admin.filters import RegionFilter, ValuesFilter
from admin.forms import WORKFLOW_INPUTS
from admin.views.base import ConsoleView, DetailAction, Input, Table
from auth.principal import Principal
from auth.scopes import CLAIM_STEP_SCOPES, Scope
from domain.claims.models import TRANSITIONS, Claim, ClaimBenefit, ClaimEvent, ClaimStatus
from domain.claims.writes import approve_claim, pay_claim, reject_claim, verify_claim
from domain.participants.rules import Program

C = Claim
_LABELS = {"verify": "Verify documents", "approve": "Approve", "pay": "Record payment", "reject": "Reject"}
_STYLES = {"verify": "btn-primary", "approve": "btn-success", "pay": "btn-success", "reject": "btn-danger"}
#: The scope each action needs: the one its target status needs (docs/api.md: approving is its own scope).
_SCOPES = {action: CLAIM_STEP_SCOPES[target] for action, (*_, target) in WORKFLOW_INPUTS.items()}


class ClaimView(ConsoleView, model=Claim):
    name = "Claim"
    name_plural = "Claims"
    icon = "fa-solid fa-file-invoice-dollar"
    access = Access(read=Scope.CLAIMS_READ, write=Scope.CLAIMS_WRITE)
    audit_entity = "Claim"
    can_create = False  # a claim is submitted with its benefit computation (GraphQL submitClaim)
    can_edit = False  # the status moves only through the workflow buttons

    column_list = [
        C.claim_number,
        C.program,
        C.status,
        C.participant_id,
        C.region_code,
        C.incident_date,
        C.submitted_at,
        C.amount_approved,
    ]
    column_details_list = [
        C.id,
        C.claim_number,
        C.participant_id,
        C.program,
        C.status,
        C.incident_date,
        C.submitted_at,
        C.amount_approved,
        C.paid_at,
        C.payment_reference,
        C.rejection_reason,
        C.verified_by,
        C.approved_by,
        C.region_code,
        C.version,
    ]
    column_labels = {
        C.claim_number: "Claim number",
        C.program: "Programme",
        C.status: "Status",
        C.payment_reference: "Payment reference",
        C.rejection_reason: "Rejection reason",
        C.verified_by: "Verified by",
        C.approved_by: "Approved by",
        C.participant_id: "Participant id",
        C.region_code: "Village",
        C.incident_date: "Incident",
        C.submitted_at: "Submitted",
        C.amount_approved: "Amount approved",
        C.paid_at: "Paid",
    }
    column_formatters = {C.program: as_plain, C.status: as_plain, C.submitted_at: as_plain}
    column_formatters_detail = {C.program: as_plain, C.status: as_plain, C.submitted_at: as_plain, C.paid_at: as_plain}
    column_sortable_list = [C.claim_number, C.status, C.submitted_at, C.incident_date]
    column_default_sort = [("submitted_at", True), ("id", True)]
    column_searchable_list = [C.claim_number]
    search_hint = "claim number"
    column_filters = [
        RegionFilter(),
        ValuesFilter.of_enum(C.status, ClaimStatus, title="Status", parameter_name="status"),
        ValuesFilter.of_enum(C.program, Program, title="Programme", parameter_name="program"),
    ]

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return or_(C.claim_number == term.upper(), C.claim_number.icontains(term, autoescape=True))

    async def detail_tables(self, request: Request, row: Any) -> list[Table]:
        benefits = await self._run_query(select(ClaimBenefit).where(ClaimBenefit.claim_id == row.id))
        history = await self._run_query(
            select(ClaimEvent).where(ClaimEvent.claim_id == row.id).order_by(ClaimEvent.at, ClaimEvent.id)
        )
        return [
            Table(
                "Benefits",
                ("kind", "recipient", "recipient NIK", "relationship", "education", "amount (Rp)"),
                [
                    (
                        plain(b.kind),
                        b.recipient_name or "",
                        in_console(request, b, "recipient_nik", row.program),
                        plain(b.relationship),
                        plain(b.education_level),
                        in_console(request, b, "amount", row.program),
                    )
                    for b in benefits
                ],
            ),
            Table(
                "Status history",
                ("status", "at", "by", "note"),
                [(plain(e.status), plain(e.at), e.actor, e.note or "") for e in history],
            ),
        ]

    def _allowed(self, request: Request, action: str) -> bool:
        return self.may_write(request) and self.principal(request).has_scope(_SCOPES[action])

    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        actions = []
        verifier = row.verified_by == self.principal(request).subject  # someone else approves (domain rule)
        for action, (field, label, required, target) in WORKFLOW_INPUTS.items():
            if action == "approve" and verifier:
                continue
            if target in TRANSITIONS[row.status] and self._allowed(request, action):
                actions.append(
                    DetailAction(
                        _LABELS[action],
                        self.route_url(request, "workflow", row),
                        inputs=(Input(field, label, required),),
                        hidden=(("action", action), ("version", str(row.version))),
                        style=_STYLES[action],
                        slug=action,
                    )
                )
        return actions

    @expose("/workflow/{pk}", methods=["POST"])
    async def workflow(self, request: Request) -> Response:
        row = await self.load_for_action(request)
        form = await request.form()
        action = str(form.get("action", ""))
        if action not in WORKFLOW_INPUTS or not self._allowed(request, action):
            raise HTTPException(status_code=403)
        field = WORKFLOW_INPUTS[action][0]
        text = str(form.get(field, ""))  # the domain refuses an over-long note; nothing is cut off silently
        try:
            version = int(str(form.get("version", "")))
        except ValueError:
            version = -1
        moves = {
            "verify": lambda s, c: verify_claim(s, c, row.id, version, text or None),
            "approve": lambda s, c: approve_claim(s, c, row.id, version, text or None),
            "pay": lambda s, c: pay_claim(s, c, row.id, version, text),
            "reject": lambda s, c: reject_claim(s, c, row.id, version, text),
        }
        outcome = await self.correct(
            request, "Claim", moves[action], done=lambda claim: f"Claim {claim.claim_number} is now {claim.status}."
        )
        return self.after_action(request, row, outcome, "")
