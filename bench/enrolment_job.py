"""Time a list enrolment job (Inpres 4/2022) end to end through the job runner, and its peak memory.

    # once: the data set (a template database: regions, and a generated P3KE list of 800,000 rows of NTB
    # imported with `jamsos import beneficiaries`: 100,151 unenrolled extreme-poor people in province 52)
    .venv/bin/python bench/enrolment_job.py --setup 800000 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_enrol_bench
    # each run: the database made again from that template, then the job
    .venv/bin/python bench/enrolment_job.py --payer 52 --fresh --statements \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_enrol_bench

Enrols every extreme-poor beneficiary of `--region` (default: the payer's region) not yet enrolled, as a
national administrator committing the payer's budget, chunk by chunk as the worker would (the runner in this
process, no queue), and prints the seconds, the rows per second, the job's counts, the CPU seconds of this
process and of its PostgreSQL backends (read from /proc: a database on this machine) and the peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.migrate import upgrade
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


DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_enrol_bench"


def _split(url: str) -> tuple[str, str]:
    """The server's maintenance database URL (for asyncpg) and the database's name."""
    base, _, name = url.rpartition("/")
    return base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres", name


async def _recreate(url: str, template: str | None = None) -> None:
    import asyncpg

    server, name = _split(url)
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()


def template_url(url: str) -> str:
    return url + "_template"


HERE = Path(__file__).resolve().parents[1]


def _build(made: str, rows: int) -> None:
    """Migrate `made`, give it the regions (`tiny`) and import `rows` generated P3KE rows of NTB."""
    env = {**os.environ, "JAMSOS_DATABASE_URL": made}
    jamsos = str(Path(sys.executable).parent / "jamsos")
    listing = str(Path(tempfile.gettempdir()) / f"enrolment_bench_{rows}.csv")
    maker = str(HERE / "bench" / "make_beneficiary_file.py")
    for command in (
        [jamsos, "migrate"],
        [jamsos, "seed", "--size", "tiny"],
        [sys.executable, maker, "--rows", str(rows), "--out", listing],
        [jamsos, "import", "beneficiaries", listing, "--skip-invalid"],
    ):
        print("$", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, env=env, cwd=HERE)


async def setup(url: str, rows: int) -> None:
    """The template database: migrated, the regions (`tiny`), `rows` generated P3KE rows of NTB imported."""
    made = template_url(url)
    await _recreate(made)
    await asyncio.to_thread(_build, made, rows)
    engine = make_engine(made, null_pool=True)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")
            found = await conn.scalar(
                text("SELECT count(*) FROM poverty_beneficiaries WHERE extreme_poor AND participant_id IS NULL")
            )
        print(f"{made.rpartition('/')[2]}: {found:,} unenrolled extreme-poor beneficiaries")
    finally:
        await engine.dispose()


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (from /proc; 0 for a process not on this machine)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _backends(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        return [int(pid) for pid in found.scalars()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("JAMSOS_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--setup", type=int, metavar="ROWS", help="(re)build the template database and stop")
    parser.add_argument("--fresh", action="store_true", help="make the database again from the template first")
    parser.add_argument("--payer", help="the budget: a province or regency code")
    parser.add_argument("--region", help="the list's region (default: the payer's)")
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE, help="rows per transaction")
    parser.add_argument("--statements", action="store_true", help="also print the slowest statements")
    args = parser.parse_args()
    if args.setup:
        await setup(args.database_url, args.setup)
        return
    if not args.payer:
        parser.error("--payer is required")
    if args.fresh:
        await _recreate(args.database_url, template=_split(template_url(args.database_url))[1])
        await asyncio.to_thread(upgrade, args.database_url)  # this tree's migrations (the triggers' definition)
    caller = Caller(Actor("bench:enrolment", "system"), None, sees_personal_data=True)
    wanted = ListFilter(region_code=args.region or args.payer)
    engine = make_engine(args.database_url)
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
        backends = await _backends(engine)  # the pool's connection, which the runner's sessions reuse
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), _cpu_seconds(backends)
        state = await run_job(sessions, job.id)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        db_cpu = _cpu_seconds(backends) - db_cpu
        if set(await _backends(engine)) - set(backends):
            print("(the runner opened more connections: the database CPU below misses theirs)")
        async with sessions() as session:
            done = await session.get(Job, job.id)
            assert done is not None
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"job {done.id}: {state}; {done.processed:,} beneficiaries in {seconds:.1f} s "
              f"({done.processed / seconds:,.0f}/s), {cpu:.1f} s CPU in this process, "
              f"{db_cpu:.1f} s in its PostgreSQL backend, peak RSS {rss_mb:.0f} MB, "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
        print(f"counts {done.counts}; refusals {done.refusals}; monthly cost {done.costs}")
        if args.statements:
            print(f"SQL {sum(t for _, t in spent.values()):.1f} s of {seconds:.1f} s; the slowest statements:")
            for statement, (count, took) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:12]:
                print(f"  {took:6.2f} s {count:6.0f}x  {statement}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
