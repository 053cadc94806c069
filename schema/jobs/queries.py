"""Jobs in GraphQL: the query fields."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from auth.policy import visible_jobs
from domain.jobs.models import Job
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.ids import NO_ROW, local_id
from schema.core.pagination import SortKey, paginate
from schema.core.permissions import needs_authentication
from schema.jobs.types import JobConnection, JobNode

JOB_SORT = SortKey("ID", Job.id)
_First = Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)]
_After = Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")]


@strawberry.type
class JobQuery:
    @strawberry.federation.field(description="One job by its global id; null when there is none you may see.",
                                 **needs_authentication())  # fmt: skip
    async def job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Job id.")]
    ) -> JobNode | None:
        job_id = local_id(str(id), "Job")
        if job_id == NO_ROW:
            return None
        stmt = select(Job).where(Job.id == job_id, visible_jobs(info.context.principal))
        rows = await info.context.reader.all(stmt)
        return JobNode.from_row(rows[0]) if rows else None

    @strawberry.federation.field(
        description="The jobs you may see, newest first.", directives=demand.page(), **needs_authentication()
    )
    async def jobs(self, info: Info, first: _First = None, after: _After = None) -> JobConnection:
        stmt: Any = select(Job).where(visible_jobs(info.context.principal))
        return await paginate(
            info.context.reader,
            stmt,
            sort=JOB_SORT,
            id_column=Job.id,
            descending=True,
            first=first,
            after=after,
            to_node=JobNode.from_row,
            connection=JobConnection,
        )
