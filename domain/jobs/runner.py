"""Creating, running, cancelling and reporting jobs: the same code in the worker and in the web process.

A job runs chunk by chunk. Each chunk is one transaction holding the chunk's rows *and* the job's new cursor,
counts and report lines, so whatever stops a job — a cancel, an error, ``kill -9`` of the worker — leaves it
at the end of its last committed chunk: nothing half-written, nothing done twice when it resumes. Cancelling
only sets a flag; the runner reads it before each chunk, so rows already committed stay and the report says
where it stopped.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit.writes import Actor, RequestMeta
from domain.db import utcnow
from domain.imports.report import REPORT_COLUMNS, formula_safe
from domain.jobs.codes import JobCode
from domain.jobs.events import announce
from domain.jobs.models import Job
from domain.jobs.registry import Chunk, ReportLine, chunk_function
from domain.jobs.rules import FINISHED, JobState, check_transition
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller
from domain.writes.errors import Invalid, NotFound, Problem
from domain.writes.runner import is_concurrency_failure
from domain.writes.transactions import open_write_transaction

log = logging.getLogger(__name__)

#: A chunk refused by the database because a concurrent writer took its rows first (two jobs over the same
#: list, a single enrolment meanwhile) is rolled back and done again this many times: re-read, the rows the
#: other writer enrolled are "unchanged", so each person is still enrolled once.
CHUNK_ATTEMPTS = 5


def caller_of(job: Job) -> Caller:
    """The caller a job runs as: whoever created it, bound to the region they were bound to then."""
    return Caller(
        actor=Actor(subject=job.created_by, kind=job.actor_kind, client_id=job.client_id),
        within=RegionCode.parse(job.region_code) if job.region_code else None,
        meta=RequestMeta(request_id=job.audit_request_id),
        sees_personal_data=job.sees_personal_data,
    )


def job_visible(caller: Caller, job: Job) -> bool:
    """A job exists for the callers of its region and above (a national job for national callers only)."""
    if caller.within is None:
        return True
    return job.region_code is not None and caller.sees(job.region_code)


async def create_job(
    session: AsyncSession,
    caller: Caller,
    kind: str,
    params: dict[str, Any],
    *,
    total: int,
    payer_region_code: str | None = None,
) -> Job:
    """A QUEUED job in the caller's transaction; the caller commits, then hands its id to the queue."""
    chunk_function(kind)  # an unknown kind is refused now, not by the worker later
    job = Job(
        kind=kind,
        state=JobState.QUEUED,
        params=params,
        total=total,
        processed=0,
        counts={},
        refusals={},
        costs={},
        report="",
        created_by=caller.actor.subject[:200],
        actor_kind=caller.actor.kind,
        client_id=caller.actor.client_id,
        region_code=caller.within.code if caller.within is not None else None,
        sees_personal_data=caller.sees_personal_data,
        request_id=caller.meta.request_id,
        payer_region_code=payer_region_code,
    )
    session.add(job)
    await session.flush()
    return job


async def load_visible_job(session: AsyncSession, caller: Caller, job_id: int) -> Job:
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None or not job_visible(caller, job):
        raise NotFound("job", job_id)
    return job


async def cancel_job(session: AsyncSession, caller: Caller, job_id: int) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops before its next chunk."""
    job = await load_visible_job(session, caller, job_id)
    if job.state in FINISHED:
        raise Invalid(
            [Problem("id", JobCode.JOB_FINISHED, f"job {job_id} is already {job.state.value}; nothing to cancel")]
        )
    job.cancel_requested = True
    if job.state is JobState.QUEUED:
        _stop(job, JobState.CANCELLED, f"cancelled by {caller.actor.subject} before it started")
        await announce(session, job)
    await session.flush()
    return job


def report_csv(job: Job) -> str:
    """The report as a file: the import report's header, then every line the chunks wrote."""
    out = io.StringIO()
    csv.writer(out).writerow(REPORT_COLUMNS)
    return out.getvalue() + job.report


def _csv_lines(lines: Iterable[ReportLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in lines:
        writer.writerow(
            [line.row, line.column or "", formula_safe(line.value or ""), line.code, formula_safe(line.message)]
        )
    return out.getvalue()


def _merge(into: dict[str, int], more: Counter[str]) -> dict[str, int]:
    merged = Counter(into)
    merged.update(more)
    return dict(sorted(merged.items()))


def _add_money(into: dict[str, str], more: dict[str, Decimal]) -> dict[str, str]:
    merged = {k: Decimal(v) for k, v in into.items()}
    for key, amount in more.items():
        merged[key] = merged.get(key, Decimal(0)) + amount
    return {k: str(v) for k, v in sorted(merged.items())}


def _stop(job: Job, state: JobState, message: str) -> None:
    """Finish `job` in `state`; a stop before the end says in the report where it stopped."""
    check_transition(job.id, job.state, state)
    if state is not JobState.DONE:
        where = f"after {job.cursor}" if job.cursor else "before the first row"
        job.report += _csv_lines(
            [ReportLine(0, "cursor", job.cursor, state.value, f"{message}; stopped {where}, "
                        f"{job.processed:,} of {job.total:,} rows gone through; rows done before stay")]
        )  # fmt: skip
    job.state = state
    job.finished_at = utcnow()


async def _begin(sessions: async_sessionmaker[AsyncSession], job_id: int) -> Job | None:
    """Mark the job RUNNING (first start or resume); None when there is nothing to run."""
    async with sessions() as session, session.begin():
        job = await session.get(Job, job_id, with_for_update=True)
        if job is None or job.state in FINISHED:
            return None
        check_transition(job.id, job.state, JobState.RUNNING)
        job.state = JobState.RUNNING
        job.started_at = job.started_at or utcnow()
        await announce(session, job)
        return job


async def _one_chunk(sessions: async_sessionmaker[AsyncSession], job_id: int) -> JobState:
    """Run the next chunk and commit it with the job's progress; the job's state afterwards."""
    async with sessions() as session, session.begin():
        # The write lock, then the job row: a second runner of the same job (a stalled-job retry racing a
        # slow worker, two web processes resuming on SQLite) waits here, then finds the cursor moved or the
        # job finished, so no chunk is done (or counted) twice.
        await open_write_transaction(session)
        locked = select(Job).where(Job.id == job_id).with_for_update().execution_options(populate_existing=True)
        job = (await session.execute(locked)).scalar_one()
        if job.state is not JobState.RUNNING:
            return job.state
        if job.cancel_requested:
            _stop(job, JobState.CANCELLED, "cancelled")
            await announce(session, job)
            return job.state
        chunk: Chunk = await chunk_function(job.kind)(session, caller_of(job), job, job.params)
        job.processed += chunk.processed
        job.cursor = chunk.cursor
        job.counts = _merge(job.counts, chunk.counts)
        job.refusals = _merge(job.refusals, chunk.refusals)
        job.costs = _add_money(job.costs, chunk.costs)
        if chunk.report:
            job.report += _csv_lines(chunk.report)
        if chunk.done:
            _stop(job, JobState.DONE, "done")
        await announce(session, job)
        return job.state


async def _fail(sessions: async_sessionmaker[AsyncSession], job_id: int, message: str) -> None:
    async with sessions() as session, session.begin():
        job = await session.get(Job, job_id, with_for_update=True)
        if job is not None and job.state is JobState.RUNNING:
            job.error = message[:2000]
            _stop(job, JobState.FAILED, f"failed: {message[:200]}")
            await announce(session, job)


async def run_job(sessions: async_sessionmaker[AsyncSession], job_id: int) -> JobState | None:
    """Run (or resume) job `job_id` to its end, a cancel or a failure; its final state (None: nothing to run).

    A chunk that fails is rolled back whole and the job is FAILED with the error; its cursor still points
    after the last committed chunk. A chunk the database refused because of a concurrent writer is retried.
    """
    job = await _begin(sessions, job_id)
    if job is None:
        return None
    attempts = 0
    while True:
        try:
            state = await _one_chunk(sessions, job_id)
        except (IntegrityError, DBAPIError) as exc:
            concurrent = isinstance(exc, IntegrityError) or is_concurrency_failure(exc)
            attempts += 1
            if concurrent and attempts < CHUNK_ATTEMPTS:
                log.info("job %s: chunk refused by a concurrent write, running it again", job_id)
                continue
            await _fail(sessions, job_id, f"{type(exc).__name__}: {exc.orig}")
            return JobState.FAILED
        except Exception as exc:
            log.exception("job %s failed", job_id)
            await _fail(sessions, job_id, f"{type(exc).__name__}: {exc}")
            return JobState.FAILED
        attempts = 0
        if state is not JobState.RUNNING:
            return state
