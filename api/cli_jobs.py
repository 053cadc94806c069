"""``jamsos jobs list|show|cancel`` for operators, and ``jamsos worker``: the process that runs jobs.

The operator on the server's machine acts nationally (as the other commands do), recorded as ``cli:<user>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from sqlalchemy import select

import domain.beneficiaries.batch_enrolment  # registers its job kind with the runner
import domain.participants.bulk_jobs  # noqa: F401  # registers the APBD run's and the imports' job kinds
from api.cli_import import operator_actor
from api.settings import get_settings
from domain.db import make_engine, make_sessionmaker
from domain.jobs.models import Job
from domain.jobs.queue import STALLED_AFTER, ensure_queue_schema, queue_app, resume_orphans, retry_stalled
from domain.jobs.registry import known_kinds
from domain.jobs.rules import JobState
from domain.jobs.runner import cancel_job, report_csv
from domain.writes.caller import Caller
from domain.writes.errors import Invalid, NotFound


def _summary(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "processed": job.processed,
        "total": job.total,
        "counts": job.counts,
        "refusals": job.refusals,
        "costs": job.costs,
        "created_by": job.created_by,
        "region": job.region_code,
        "payer": job.payer_region_code,
        "cursor": job.cursor,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
    }


async def _with_session(work: Any) -> Any:
    engine = make_engine(get_settings().resolved_database_url, null_pool=True)
    try:
        async with make_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def cmd_jobs_list(args: argparse.Namespace) -> int:
    async def run(session: Any) -> list[Job]:
        stmt = select(Job).order_by(Job.id.desc()).limit(args.limit)
        if args.state:
            stmt = stmt.where(Job.state == JobState(args.state))
        return list(await session.scalars(stmt))

    jobs: list[Job] = asyncio.run(_with_session(run))
    if args.json:
        print(json.dumps([_summary(j) for j in jobs], indent=2))
        return 0
    for j in jobs:
        share, region = f"{j.processed}/{j.total}", j.region_code or "national"
        print(f"{j.id:>6}  {j.state.value:<9}  {j.kind:<22}  {share:>15}  {region:<9}  {j.created_by}")
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    async def run(session: Any) -> Job | None:
        found: Job | None = await session.get(Job, args.id)
        return found

    job: Job | None = asyncio.run(_with_session(run))
    if job is None:
        print(f"no job {args.id}", file=sys.stderr)
        return 1
    if args.report:
        sys.stdout.write(report_csv(job))
        return 0
    print(json.dumps(_summary(job), indent=2))
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    caller = Caller(actor=operator_actor(), within=None, sees_personal_data=True)

    async def run(session: Any) -> Job:
        async with session.begin():
            return await cancel_job(session, caller, args.id)

    try:
        job: Job = asyncio.run(_with_session(run))
    except (NotFound, Invalid) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"job {job.id}: {job.state.value} (cancel requested; it stops before its next chunk)")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run jobs until stopped (SIGINT/SIGTERM): Procrastinate's worker with this service's sessions."""
    settings = get_settings()
    url = settings.resolved_database_url
    if not url.startswith("postgresql"):
        print("jamsos worker needs PostgreSQL; with SQLite the web process runs the jobs itself", file=sys.stderr)
        return 2
    stalled_after: float = STALLED_AFTER if args.stalled_after is None else args.stalled_after

    async def run() -> None:
        engine = make_engine(url, pool_size=max(2, args.concurrency + 1))
        sessions = make_sessionmaker(engine)
        app = queue_app(url, pool_size=args.concurrency + 2)
        try:
            async with app.open_async():
                await ensure_queue_schema(app)
                # Jobs of a worker that died (kill -9, a lost machine) go back to the queue at once; the
                # periodic task repeats this every minute for workers that die later.
                await retry_stalled(app, seconds_since_heartbeat=stalled_after)
                await resume_orphans(app, sessions)
                await app.run_worker_async(
                    concurrency=args.concurrency,
                    additional_context={"sessions": sessions},
                    update_heartbeat_interval=stalled_after / 3,
                    stalled_worker_timeout=stalled_after,
                    # SIGTERM (a deploy): a running job stops within this many seconds, losing only its
                    # current chunk; the next worker to start resumes it (resume_orphans).
                    shutdown_graceful_timeout=args.shutdown_after,
                    delete_jobs="successful",
                )
        finally:
            await engine.dispose()

    print(f"worker: running job kinds {', '.join(known_kinds())}", file=sys.stderr)
    asyncio.run(run())
    return 0


async def apply_queue_schema(url: str) -> bool:
    """``jamsos migrate`` on PostgreSQL: the queue's tables, created by the library when missing."""
    app = queue_app(url)
    async with app.open_async():
        return await ensure_queue_schema(app)
