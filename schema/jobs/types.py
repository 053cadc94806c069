"""Jobs in GraphQL: ``job(id)``, ``jobs(first, after)``, ``node`` and ``cancelJob(id)``.

A job exists for a caller when they may make the write it runs and it ran as their region or one below it
(:func:`auth.policy.visible_jobs`); any other job does not exist for them at any of these entry points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from sqlalchemy import select
from strawberry import relay

from auth.policy import visible_jobs
from domain.jobs.models import Job
from domain.jobs.rules import JobState
from domain.jobs.runner import report_csv
from schema.core import demand
from schema.core.bounds import JOB_COSTS_SIZE, JOB_COUNTS_SIZE, PAYLOAD_ERRORS_SIZE
from schema.core.context import Info
from schema.core.enums import graphql_enum
from schema.core.ids import db_id
from schema.core.pagination import CountedConnection
from schema.core.writes import UserError

if TYPE_CHECKING:
    JobStateEnum = JobState
else:
    JobStateEnum = graphql_enum(
        JobState,
        "Where a job is in its life.",
        {
            JobState.QUEUED: "Waiting for a worker.",
            JobState.RUNNING: "Working through its rows, chunk by chunk.",
            JobState.DONE: "Went through every row.",
            JobState.FAILED: "Stopped by an error; rows of the chunks committed before stay (see error).",
            JobState.CANCELLED: "Stopped on request; rows committed before stay, the report says where it stopped.",
        },
        "JobState",
    )


@strawberry.type(description="A count by name (created, linked, unchanged, refused…) or by refusal code.")
class JobCount:
    name: str = strawberry.field(description="What was counted.")
    count: int = strawberry.field(description="How many so far.")


@strawberry.type(description="What a job commits per month from one budget.")
class PayerCost:
    payer: str = strawberry.field(description="The paying budget: a province or regency code (APBD).")
    monthly_cost: Decimal = strawberry.field(description="Rupiah per month, for everyone the job enrolled.")


@strawberry.type(name="Job", description="A bulk write running in the background: state, progress and report.")
class JobNode(relay.Node):
    id: relay.NodeID[int]
    kind: str = strawberry.field(description="What the job does, e.g. beneficiaries.enrol.")
    state: JobStateEnum = strawberry.field(description="Where the job is in its life.")
    total: int = strawberry.field(description="Rows the job will go through (counted when it was created).")
    processed: int = strawberry.field(description="Rows gone through so far (committed).")
    counts: list[JobCount] = strawberry.field(
        description="Outcomes so far by name.", directives=demand.bounded(JOB_COUNTS_SIZE)
    )
    refusals: list[JobCount] = strawberry.field(
        description="Refusals so far by reason code.", directives=demand.bounded(JOB_COUNTS_SIZE)
    )
    costs: list[PayerCost] = strawberry.field(
        description="What the job commits per month, per paying budget.", directives=demand.bounded(JOB_COSTS_SIZE)
    )
    created_by: str = strawberry.field(description="Who created the job (it runs as them).")
    region: str | None = strawberry.field(description="The region the job runs as (its creator's); null: national.")
    payer: str | None = strawberry.field(description="Whose budget (APBD) the job commits: a region code.")
    cursor: str | None = strawberry.field(description="Where the next chunk starts (for the row order of the kind).")
    cancel_requested: bool = strawberry.field(description="A cancel was asked for (it stops before its next chunk).")
    error: str | None = strawberry.field(description="Why a FAILED job failed.")
    created_at: dt.datetime = strawberry.field(description="When the job was created.")
    started_at: dt.datetime | None = strawberry.field(description="When a worker first started it.")
    finished_at: dt.datetime | None = strawberry.field(description="When it became DONE, FAILED or CANCELLED.")
    report: str = strawberry.field(
        description="The report CSV (row, column, value, code, message), as the imports write it: one line per "
        "refused row, and for a stopped job where it stopped."
    )

    @strawberry.field(description="Share of the rows gone through, 0 to 1 (1 when DONE).")
    def progress(self) -> float:
        if self.state is JobState.DONE:
            return 1.0
        return min(1.0, self.processed / self.total) if self.total else 0.0

    @classmethod
    def from_row(cls, row: Job) -> JobNode:
        return cls(
            id=row.id,
            kind=row.kind,
            state=row.state,
            total=row.total,
            processed=row.processed,
            counts=[JobCount(name=k, count=v) for k, v in sorted(row.counts.items())],
            refusals=[JobCount(name=k, count=v) for k, v in sorted(row.refusals.items(), key=lambda kv: -kv[1])],
            costs=[PayerCost(payer=k, monthly_cost=Decimal(v)) for k, v in sorted(row.costs.items())],
            created_by=row.created_by,
            region=row.region_code,
            payer=row.payer_region_code,
            cursor=row.cursor,
            cancel_requested=row.cancel_requested,
            error=row.error,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            report=report_csv(row),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[JobNode | None]:
        wanted = [db_id(i) for i in node_ids]
        stmt = select(Job).where(Job.id.in_(wanted), visible_jobs(info.context.principal))
        rows = {r.id: r for r in await info.context.reader.all(stmt)}
        return [cls.from_row(rows[i]) if i in rows else None for i in wanted]


@strawberry.type(name="JobConnection", description="A page of jobs, newest first.")
class JobConnection(CountedConnection[JobNode]):
    pass


@strawberry.type(description="What cancelling a job did.")
class CancelJobPayload:
    job: JobNode | None = strawberry.field(description="The job as it is now (stops before its next chunk).")
    errors: list[UserError] = strawberry.field(
        description="Why it could not be cancelled (e.g. JOB_FINISHED).", directives=demand.bounded(PAYLOAD_ERRORS_SIZE)
    )
