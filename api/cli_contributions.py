"""``jamsos contributions apbd-month --payer 52.03 --month 2027-01 [--dry-run]``: the monthly APBD run.

The work is the domain's (:func:`domain.participants.apbd.book_apbd_month`); this module parses the options,
opens the database, prints a line per page to standard error, and prints what was booked and what it cost.
``--dry-run`` prices the month and writes nothing. ``--region`` is the region the operator acts for (a payer
outside it is refused, as for any caller); without it the operator is national. Exit status 0 when every
worker was booked (or already was), 1 when some were refused, 2 for a usage error or a refused payer.

``--as-job`` runs it as a ``contributions.apbd_month`` job instead (ADR 0015): resumable at its cursor, seen
with ``jamsos jobs show``. With the worker runner (PostgreSQL) the job is queued for ``jamsos worker``;
otherwise this process runs it, chunk by chunk, and prints the job.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal

from api.cli_import import SHOWN_ERRORS, operator_actor
from api.settings import Settings, get_settings
from domain.jobs.models import Job
from domain.jobs.queue import ProcrastinateQueue, queue_app
from domain.jobs.rules import JobState
from domain.jobs.runner import create_job, run_job
from domain.participants.apbd import ApbdMonth, book_apbd_month, candidate_count
from domain.participants.budget_payer import check_payer
from domain.participants.bulk_jobs import APBD_MONTH_KIND, apbd_month_params, check_apbd_month
from domain.regions.rules import InvalidRegionCode, RegionCode
from domain.writes.caller import Caller
from domain.writes.errors import Invalid


def print_month(outcome: ApbdMonth, elapsed: float) -> None:
    o = outcome
    verdict = "booked" if o.written else "dry run: nothing written"
    print(f"APBD {o.payer_region_code} {o.month:%Y-%m}: {verdict}")
    print(
        f"  workers {o.workers:,} · booked {o.booked:,} · already booked {o.already_booked:,} · "
        f"already paid {o.already_paid:,} · refused {o.refused:,}  ({elapsed:.1f} s)"
    )
    print(f"  cost of the month: Rp{o.amount:,}")
    if o.reasons:
        print("  refused by reason: " + ", ".join(f"{code} {n:,}" for code, n in o.reasons.most_common()))
    for r in o.refusals[:SHOWN_ERRORS]:
        print(f"    participant {r.participant_id}: {r.code}: {r.message}")


def cmd_apbd_month(args: argparse.Namespace) -> int:
    try:
        within = RegionCode.parse(args.region) if args.region else None
    except InvalidRegionCode as exc:
        print(f"bad option: {exc}", file=sys.stderr)
        return 2
    caller = Caller(actor=operator_actor(), within=within, sees_personal_data=True)
    settings = get_settings()
    if args.as_job:
        return _as_job(args, caller, settings)
    started = time.perf_counter()

    def progress(done: int, refused: dict[str, int]) -> None:
        print(f"{done:,} workers done, {sum(refused.values()):,} refused", file=sys.stderr, flush=True)

    async def run() -> ApbdMonth:
        from domain.db import make_engine, make_sessionmaker

        engine = make_engine(settings.resolved_database_url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                outcome = await book_apbd_month(
                    session, caller, args.payer, args.month, dry_run=args.dry_run, progress=progress
                )
                if outcome.written:
                    await session.commit()
                else:
                    await session.rollback()
                return outcome
        finally:
            await engine.dispose()

    try:
        outcome = asyncio.run(run())
    except Invalid as exc:
        for p in exc.problems:
            print(f"refused: {p.field}: {p.code}: {p.message}", file=sys.stderr)
        return 2
    print_month(outcome, time.perf_counter() - started)
    return 1 if outcome.refused else 0


def _as_job(args: argparse.Namespace, caller: Caller, settings: Settings) -> int:
    async def run() -> Job | None:
        from domain.db import make_engine, make_sessionmaker

        engine = make_engine(settings.resolved_database_url, null_pool=True)
        sessions = make_sessionmaker(engine)
        try:
            async with sessions() as session, session.begin():
                payer = RegionCode.parse(await check_payer(session, caller, args.payer))  # before any row is read
                await check_apbd_month(session, caller, payer.code, args.month)
                total = await candidate_count(session, payer, args.month)
                params = apbd_month_params(payer.code, args.month, dry_run=args.dry_run)
                job = await create_job(
                    session, caller, APBD_MONTH_KIND, params, total=total, payer_region_code=payer.code
                )
            if settings.resolved_jobs_runner == "worker":
                queue = ProcrastinateQueue(queue_app(settings.resolved_database_url))
                await queue.open()
                try:
                    await queue.enqueue(job.id)
                finally:
                    await queue.close()
                print(f"job {job.id} queued for the worker; follow it with `jamsos jobs show {job.id}`")
                return None
            await run_job(sessions, job.id)
            async with sessions() as session:
                return await session.get(Job, job.id)
        finally:
            await engine.dispose()

    try:
        job = asyncio.run(run())
    except Invalid as exc:
        for p in exc.problems:
            print(f"refused: {p.field}: {p.code}: {p.message}", file=sys.stderr)
        return 2
    if job is None:
        return 0
    print(f"job {job.id} {job.state.value}: {job.processed:,} of {job.total:,} candidates gone through")
    print("  " + ", ".join(f"{k} {v:,}" for k, v in job.counts.items()))
    for payer, amount in job.costs.items():
        print(f"  cost of the month for {payer}: Rp{Decimal(amount):,}")
    if job.error:
        print(f"  error: {job.error}", file=sys.stderr)
    return 0 if job.state is JobState.DONE and not job.counts.get("refused") else 1
