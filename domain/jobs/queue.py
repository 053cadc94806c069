"""Handing a job to whatever runs it: Procrastinate's worker on PostgreSQL, or the web process itself.

The ``jobs`` table is the job; the queue only delivers "run job N" (ADR 0015). With PostgreSQL a
Procrastinate job is deferred (an INSERT and a NOTIFY in the same database, no other service), and
``jamsos worker`` runs it. The embedded SQLite default has no worker: :class:`InProcessQueue` runs the job as
a task of the web process and, at start-up, resumes the jobs a stopped process left queued or running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import procrastinate
import procrastinate.exceptions
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.jobs.models import Job
from domain.jobs.rules import JobState
from domain.jobs.runner import run_job

log = logging.getLogger(__name__)

#: The namespace of this service's tasks in Procrastinate (task names ``jamsos:run_job``…).
NAMESPACE = "jamsos"
RUN_JOB = f"{NAMESPACE}:run_job"
RETRY_STALLED = f"{NAMESPACE}:retry_stalled"

#: Seconds without a heartbeat after which a worker counts as dead and its jobs as stalled (Procrastinate's
#: default is 30; the worker's heartbeat interval must stay well below it).
STALLED_AFTER = 30.0


class JobQueue(Protocol):
    async def enqueue(self, job_id: int) -> None: ...


class InProcessQueue:
    """Jobs as tasks of this process (the embedded SQLite default: ``make run`` needs nothing else)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._tasks: set[asyncio.Task[JobState | None]] = set()

    async def enqueue(self, job_id: int) -> None:
        task = asyncio.create_task(run_job(self._sessions, job_id), name=f"job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> list[int]:
        """Run again the jobs this database has queued or running (a previous process stopped mid-way)."""
        async with self._sessions() as session:
            ids = list(
                await session.scalars(
                    select(Job.id).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING])).order_by(Job.id)
                )
            )
        for job_id in ids:
            await self.enqueue(job_id)
        return ids

    async def drain(self) -> None:
        """Wait for every job this process runs (tests; a graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the running jobs: each loses only its uncommitted chunk and resumes at the next start."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


class ProcrastinateQueue:
    """Jobs deferred to Procrastinate, run by ``jamsos worker`` (PostgreSQL)."""

    def __init__(self, app: procrastinate.App) -> None:
        self._app = app

    async def open(self) -> None:
        await self._app.open_async()

    async def close(self) -> None:
        await self._app.close_async()

    async def enqueue(self, job_id: int) -> None:
        # The queueing lock: one pending delivery per job; a second enqueue while one waits changes nothing.
        # `lock`: never two deliveries of one job running at once (the runner's row locks would keep them
        # correct, but one would only wait for the other).
        key = f"job-{job_id}"
        with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
            await self._app.configure_task(RUN_JOB, lock=key, queueing_lock=key).defer_async(job_id=job_id)


async def _run_job_task(context: procrastinate.JobContext, job_id: int) -> None:
    sessions: async_sessionmaker[AsyncSession] = context.additional_context["sessions"]
    await run_job(sessions, job_id)


async def _retry_stalled_task(context: procrastinate.JobContext, timestamp: int) -> None:
    await retry_stalled(context.app)


async def retry_stalled(app: procrastinate.App, seconds_since_heartbeat: float = STALLED_AFTER) -> int:
    """Hand the jobs of dead workers (``kill -9``, a lost machine) back to the queue; how many there were.

    The job resumes at its cursor: whatever its dead worker had not committed was rolled back with it.
    """
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        log.warning("job %s of a dead worker is queued again", job.id)
        await app.job_manager.retry_job(job)
    return len(stalled)


async def resume_orphans(app: procrastinate.App, sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """Deliver again the jobs of ours that are queued or running but have no delivery waiting or running
    (a worker stopped by its graceful-shutdown timeout aborts its job; its chunk rolled back). Their ids."""
    pending: set[int] = set()
    for status in ("todo", "doing"):
        for delivery in await app.job_manager.list_jobs_async(task=RUN_JOB, status=status):
            pending.add(int(str(delivery.task_kwargs["job_id"])))
    async with sessions() as session:
        unfinished = await session.scalars(select(Job.id).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING])))
        orphans = sorted(set(unfinished) - pending)
    queue = ProcrastinateQueue(app)
    for job_id in orphans:
        log.warning("job %s has no delivery: queued again", job_id)
        await queue.enqueue(job_id)
    return orphans


def queue_app(database_url: str, *, pool_size: int = 2) -> procrastinate.App:
    """The Procrastinate app on this service's PostgreSQL database (its own tables, beside ours).

    `pool_size` connections at most: a web process only defers (one is plenty); a worker needs one to
    listen for new jobs and one per job it runs.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the job queue needs PostgreSQL; on SQLite jobs run in the web process")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_size)
    app = procrastinate.App(connector=connector)
    # Registered on each app (not a shared Blueprint, which Procrastinate renames in place when it is added).
    app.task(name=RUN_JOB, pass_context=True)(_run_job_task)
    retry = app.task(name=RETRY_STALLED, queueing_lock=RETRY_STALLED, pass_context=True)(_retry_stalled_task)
    app.periodic(cron="* * * * *", periodic_id=RETRY_STALLED)(retry)
    return app


async def ensure_queue_schema(app: procrastinate.App) -> bool:
    """Create Procrastinate's tables when the database has none yet; whether it created them."""
    row = await app.connector.execute_query_one_async("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
    if row["present"]:
        return False
    await app.schema_manager.apply_schema_async()
    return True
