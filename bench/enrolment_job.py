"""Time a list enrolment job (Inpres 4/2022) end to end through the job runner, and its peak memory.

    JAMSOS_DATABASE_URL=postgresql+asyncpg://…/db .venv/bin/python bench/enrolment_job.py --payer 52

Enrols every extreme-poor beneficiary of `--region` (default: the payer's region) not yet enrolled, as a
national administrator committing the payer's budget, chunk by chunk as the worker would (the runner in this
process, no queue), and prints the seconds, the rows per second, the job's counts and the peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import get_settings
from domain.audit.writes import Actor
from domain.beneficiaries.batch_enrolment import CHUNK_SIZE, ENROL_KIND, ListFilter, enrolment_params, list_condition
from domain.beneficiaries.models import PovertyBeneficiary
from domain.db import make_engine, make_sessionmaker
from domain.jobs.models import Job
from domain.jobs.runner import create_job, run_job
from domain.participants.models import FundingSource
from domain.writes.caller import Caller


def _time_statements(engine: AsyncEngine, spent: dict[str, list[float]]) -> None:
    """Seconds per statement (by its first line), from SQLAlchemy's cursor events."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        entry = spent[statement.split("\n")[0][:100]]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info["started"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payer", required=True, help="the budget: a province or regency code")
    parser.add_argument("--region", help="the list's region (default: the payer's)")
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE, help="rows per transaction")
    parser.add_argument("--statements", action="store_true", help="also print the slowest statements")
    args = parser.parse_args()
    caller = Caller(Actor("bench:enrolment", "system"), None, sees_personal_data=True)
    wanted = ListFilter(region_code=args.region or args.payer)
    engine = make_engine(get_settings().resolved_database_url)
    sessions = make_sessionmaker(engine)
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    if args.statements:
        _time_statements(engine, spent)
    try:
        async with sessions() as session, session.begin():
            total = await session.scalar(
                select(func.count()).select_from(PovertyBeneficiary).where(list_condition(caller, wanted))
            )
            params = enrolment_params(
                wanted, programs=None, funding=FundingSource.APBD, payer=args.payer, dry_run=False,
                chunk_size=args.chunk,
            )  # fmt: skip
            job = await create_job(session, caller, ENROL_KIND, params, total=total or 0, payer_region_code=args.payer)
        started, cpu = time.perf_counter(), time.process_time()
        state = await run_job(sessions, job.id)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with sessions() as session:
            done = await session.get(Job, job.id)
            assert done is not None
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"job {done.id}: {state}; {done.processed:,} beneficiaries in {seconds:.1f} s "
              f"({done.processed / seconds:,.0f}/s), {cpu:.1f} s CPU in this process, "
              f"peak RSS {rss_mb:.0f} MB")  # fmt: skip
        print(f"counts {done.counts}; refusals {done.refusals}; monthly cost {done.costs}")
        if args.statements:
            print(f"SQL {sum(t for _, t in spent.values()):.1f} s of {seconds:.1f} s; the slowest statements:")
            for statement, (count, took) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:12]:
                print(f"  {took:6.2f} s {count:6.0f}x  {statement}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
