"""Jobs in GraphQL: cancelling one."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import visible_jobs
from domain.jobs.models import Job
from domain.jobs.runner import cancel_job
from domain.writes.caller import Caller
from schema.core.context import Info
from schema.core.ids import NO_ROW
from schema.core.permissions import needs_authentication
from schema.core.writes import require_local_id, run_write
from schema.jobs.types import CancelJobPayload, JobNode


@strawberry.type
class JobMutation:
    @strawberry.federation.field(
        description="Stop a job: a queued one at once, a running one before its next chunk. Rows already "
        "committed stay; the report says where it stopped.",
        **needs_authentication(),
    )
    async def cancel_job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Job id.")]
    ) -> CancelJobPayload:
        job_id = require_local_id(id, "Job")
        principal = info.context.principal

        async def cancel(session: AsyncSession, caller: Caller) -> Job:
            # The job must exist for this principal by the read rule (its kind's scope, its region) first.
            visible = await session.scalar(select(Job.id).where(Job.id == job_id, visible_jobs(principal)))
            return await cancel_job(session, caller, visible if visible is not None else NO_ROW)

        row, errors = await run_write(info, cancel)
        return CancelJobPayload(job=JobNode.from_row(row) if row is not None else None, errors=errors)
