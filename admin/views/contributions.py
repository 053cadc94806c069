"""The contribution ledger in the console, read-only: payments are recorded through recordContributions (or an
import), never typed into a form, because the participants' figures are recounted from them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from admin.access import Access
from admin.display import as_plain
from admin.filters import ValuesFilter
from admin.views.base import ConsoleView
from auth.policy import visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.participants.models import Contribution, FundingSource, Participant

C = Contribution


class ContributionView(ConsoleView, model=Contribution):
    name = "Contribution"
    name_plural = "Contributions"
    icon = "fa-solid fa-receipt"
    access = Access(read=Scope.PARTICIPANTS_READ, writable=False)
    can_create = False
    can_edit = False

    column_list = [C.participant_id, C.period_from, C.period_to, C.months, C.amount, C.payer, C.reference]
    column_details_list = [
        C.id,
        C.participant_id,
        C.period_from,
        C.period_to,
        C.months,
        C.amount,
        C.programs,
        C.payer,
        C.payer_region_code,
        C.reference,
        C.received_at,
        C.recorded_at,
        C.recorded_by,
        C.price_rule,
    ]
    column_labels = {
        C.participant_id: "Participant id",
        C.period_from: "From",
        C.period_to: "To",
        C.months: "Months",
        C.amount: "Amount (Rp)",
        C.programs: "Programmes",
        C.payer: "Payer",
        C.payer_region_code: "Paying region (APBD)",
        C.reference: "Reference",
        C.received_at: "Received",
        C.recorded_at: "Recorded",
        C.recorded_by: "Recorded by",
        C.price_rule: "Price rule",
    }
    column_formatters = {C.payer: as_plain, C.period_from: as_plain, C.period_to: as_plain}
    column_formatters_detail = {
        C.payer: as_plain,
        C.received_at: as_plain,
        C.recorded_at: as_plain,
    }
    column_sortable_list = [C.period_from, C.received_at, C.reference]
    column_default_sort = [("id", True)]
    column_searchable_list = [C.reference]
    search_hint = "payment reference"
    column_filters = [ValuesFilter.of_enum(C.payer, FundingSource, title="Payer", parameter_name="payer")]

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        # A payment exists for whoever may see its participant (the one scoping rule of auth.policy).
        return C.participant_id.in_(select(Participant.id).where(visible(principal, Participant)))

    def row_visible(self, principal: Principal, row: Any) -> bool:
        return True  # details are loaded through details_query, which applies scope() in SQL

    def search_clause(self, principal: Principal, term: str) -> ColumnElement[bool] | None:
        return C.reference == term
