"""What a job announces when its progress commits: its id, its state and the rows gone through (domain.events).

Nothing else: a subscriber loads the job itself through the jobs' visibility rule (auth.policy.visible_jobs),
so a payload never shows a job, a region or a count to someone who may not see them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import Channel, publish
from domain.jobs.models import Job
from domain.jobs.rules import JobState


@dataclass(frozen=True, slots=True)
class JobChanged:
    job_id: int
    state: JobState
    processed: int

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> JobChanged | None:
        """The change a notification describes, or None for one that is not a job's."""
        job_id, state, processed = payload.get("id"), payload.get("state"), payload.get("processed")
        if not isinstance(job_id, int) or not isinstance(processed, int) or not isinstance(state, str):
            return None
        try:
            return cls(job_id, JobState(state), processed)
        except ValueError:
            return None


async def announce(session: AsyncSession, job: Job) -> None:
    """Announce `job`'s state and progress to subscribers once the transaction that moved them commits."""
    await publish(session, Channel.JOBS, {"id": job.id, "state": job.state.value, "processed": job.processed})
