"""Jobs in the console: the bulk writes running in the background, each with a progress bar, its counts, its
report and a cancel button. The same rows exist for a user as in GraphQL (:func:`auth.policy.visible_jobs`)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape
from sqladmin import expose
from sqlalchemy import ColumnElement
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin.access import Access
from admin.display import as_plain
from admin.filters import ValuesFilter
from admin.views.base import ConsoleView, DetailAction, Table
from admin.writes import run_write
from auth.policy import job_row_visible, visible_jobs
from auth.principal import Principal
from auth.scopes import Scope
from domain.jobs.models import Job
from domain.jobs.rules import FINISHED, JobState
from domain.jobs.runner import cancel_job, report_csv

J = Job


def progress_bar(row: Any, name: str, request: Request) -> Markup:
    """The share of the job's rows gone through, as a bar (every interpolated value is a number or escaped)."""
    share = 1.0 if row.state is JobState.DONE else (min(1.0, row.processed / row.total) if row.total else 0.0)
    percent = round(share * 100)
    label = escape(f"{row.processed:,} / {row.total:,}")
    return Markup(  # noqa: S704 - numbers and escaped text only
        f'<div class="progress" style="min-width: 8rem; height: 1.1rem" role="progressbar" aria-valuenow="{percent}" '
        f'aria-valuemin="0" aria-valuemax="100" aria-label="{label}" data-job-progress="{percent}">'
        f'<div class="progress-bar" style="width: {percent}%">{percent}%</div></div>'
        f'<small class="text-muted">{label}</small>'
    )


def counts_text(row: Any, name: str, request: Request) -> str:
    """``created 49, refused 1`` (counts), ``52.03 Rp823,200`` (costs: rupiah kept as exact text)."""
    shown = (f"{k} {v:,}" if isinstance(v, int) else f"{k} Rp{Decimal(v):,}" for k, v in getattr(row, name).items())
    return ", ".join(sorted(shown)) or "—"


class JobView(ConsoleView, model=Job):
    name = "Job"
    name_plural = "Jobs"
    icon = "fa-solid fa-gears"
    # Enrolling a list is a beneficiary write; the rows shown are narrowed per kind by auth.policy.
    access = Access(read=Scope.BENEFICIARIES_WRITE, write=Scope.BENEFICIARIES_WRITE)
    can_create = False  # a job is started by the bulk write it runs (enrollBeneficiaries…)
    can_edit = False  # it moves by itself; the only action is Cancel
    column_list = [J.id, J.kind, J.state, J.processed, J.counts, J.payer_region_code, J.created_by, J.created_at]
    column_details_list = [
        J.id,
        J.kind,
        J.state,
        J.processed,
        J.counts,
        J.refusals,
        J.costs,
        J.payer_region_code,
        J.region_code,
        J.created_by,
        J.cursor,
        J.cancel_requested,
        J.error,
        J.created_at,
        J.started_at,
        J.finished_at,
    ]
    column_labels = {
        J.processed: "Progress",
        J.payer_region_code: "Payer (APBD)",
        J.region_code: "Runs as region",
        J.created_by: "Created by",
        J.cancel_requested: "Cancel requested",
    }
    column_formatters = {
        J.state: as_plain,
        J.processed: progress_bar,
        J.counts: counts_text,
        J.created_at: as_plain,
    }
    column_formatters_detail = {
        J.state: as_plain,
        J.processed: progress_bar,
        J.counts: counts_text,
        J.refusals: counts_text,
        J.costs: counts_text,
        J.created_at: as_plain,
        J.started_at: as_plain,
        J.finished_at: as_plain,
    }
    column_sortable_list = [J.id, J.created_at]
    column_default_sort = [("id", True)]
    column_filters = [ValuesFilter.of_enum(J.state, JobState, title="State", parameter_name="state")]
    can_export = False  # a job's report is its export (the Report button)

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return visible_jobs(principal)

    def row_visible(self, principal: Principal, row: Any) -> bool:
        return job_row_visible(principal, row)

    async def detail_tables(self, request: Request, row: Any) -> list[Table]:
        header, *lines = list(csv.reader(io.StringIO(report_csv(row))))
        shown = [tuple(line) for line in lines[:100]]
        return [Table(f"Report (first {len(shown)} of {len(lines)} lines)", tuple(header), shown)]

    async def detail_actions(self, request: Request, row: Any) -> list[DetailAction]:
        actions = [DetailAction("Download report (CSV)", self.route_url(request, "report", row), style="btn-secondary")]
        if row.state not in FINISHED and not row.cancel_requested and self.may_write(request):
            actions.append(DetailAction("Cancel job", self.route_url(request, "cancel", row), style="btn-danger"))
        return actions

    @expose("/report/{pk}", methods=["POST"])
    async def report(self, request: Request) -> Response:
        row = await self.get_object_for_details(request)
        if row is None or not self.row_visible(self.principal(request), row):
            raise HTTPException(status_code=404)
        return Response(
            report_csv(row),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="job-{row.id}-report.csv"'},
        )

    @expose("/cancel/{pk}", methods=["POST"])
    async def cancel(self, request: Request) -> Response:
        row = await self.load_for_action(request)
        outcome = await run_write(self.write_sessions, request, lambda s, c: cancel_job(s, c, row.id))
        done = "" if outcome.problems else f"Job {row.id} stops before its next chunk; rows done stay."
        return self.after_action(request, row, outcome, done)


__all__ = ["JobView"]
