"""The set-based writes at scale: book one APBD month for N workers, and import N participant rows.

    .venv/bin/python bench/bulk_writes.py --workers 100000 --participants 100000
    # options: --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_bulk_bench
    #          (or sqlite+aiosqlite:////tmp/bulk_bench.db: the file is deleted and made again)

Makes its own data: the database in ``--database-url`` is dropped, created, migrated and given the regions
(the ``tiny`` demo), then N APBD-funded BPU workers of Lombok Timur (52.03) are generated straight into the
tables (set-up, not measured). Each measured phase runs in a process of its own, so its peak RSS is its own:

1. ``apbd``: :func:`domain.participants.apbd.book_apbd_month` for payer 52.03 and next month, as
   ``jamsos contributions apbd-month --payer 52.03 --month YYYY-MM`` runs it, committed; then once more (the
   idempotent re-run, nothing booked).
2. ``import``: ``jamsos import participants FILE`` on a generated CSV of N new workers (as the CLI runs
   it: :func:`domain.participants.imports.import_participants`, committed).

Prints seconds and peak RSS per phase, and the CPU seconds (user + system) of the process and of its
PostgreSQL backend (read from /proc: a server on this machine); for the APBD run also the process's CPU
while a statement was in flight (``cpu_beside_statements``) and the two CPU figures less it
(``idle_wall_estimate``: the wall time on two idle cores), and with ``--statements`` the backend CPU of
each statement. Goals (issue 21): 100,000 workers booked under 30 s; 1,000,000 participant rows imported
under 120 s and 400 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_bulk_bench"
REGENCY = "52.03"


def peak_rss_mib() -> float:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return value / (1024 * 1024) if platform.system() == "Darwin" else value / 1024


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def backend_pid(session: Any) -> int | None:
    """The PostgreSQL backend serving `session` (None on SQLite, whose work is this process's own)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def backend_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of the backend `pid` so far, from /proc (a server on this machine only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def next_month() -> dt.date:
    today = dt.date.today()
    return (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _niks(districts: list[str], count: int, offset: int) -> list[tuple[str, dt.date, Any]]:
    """`count` distinct valid NIKs (district, birth date, sex, serial all vary), from position `offset` on."""
    from domain.nik import Sex, build_nik

    out = []
    for n in range(offset, offset + count):
        district = districts[n % len(districts)]
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=(n // len(districts)) % 9000)
        sex = Sex.M if n % 2 else Sex.F
        serial = 1 + (n // (len(districts) * 9000)) % 9999
        out.append((build_nik(district, birth, sex, serial), birth, sex))
    return out


async def _villages(engine: Any) -> list[str]:
    from domain.regions.models import Region
    from domain.regions.rules import RegionLevel

    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Region.code).where(Region.level == RegionLevel.VILLAGE, Region.code.like(REGENCY + ".%"))
        )
        return sorted(rows.scalars())


async def setup(url: str, workers: int) -> None:
    """A fresh database with the regions and `workers` APBD-funded workers of 52.03 (not measured)."""
    import asyncpg

    from api.migrate import upgrade
    from demo import seed
    from domain.db import make_engine
    from domain.monev import rollups
    from domain.participants.models import FundingSource, Participant, ParticipantProgram, ParticipantStatus
    from domain.participants.rules import Program, Segment
    from domain.participants.writes import membership_number_candidate
    from domain.regions.rules import placement

    if url.startswith("sqlite+aiosqlite:///"):
        path = url.removeprefix("sqlite+aiosqlite:///")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{path}{suffix}")
    else:
        base, _, name = url.rpartition("/")
        admin = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, null_pool=True)
    try:
        await seed(engine, "tiny", 7)
        villages = await _villages(engine)
        districts = sorted({v.rsplit(".", 1)[0] for v in villages})
        registered = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        async with engine.begin() as conn:
            await conn.run_sync(rollups.suspend)
            numbers: set[str] = set()
            # The demo's people have random NIKs (their birth dates follow today's date), which may be one of
            # these: such a NIK is skipped and the next position taken, so there are `workers` in all.
            taken = set((await conn.execute(select(Participant.nik))).scalars())
            generated = [p for p in _niks(districts, workers + len(taken), 0) if p[0] not in taken][:workers]
            for start in range(0, workers, 10_000):
                people = generated[start : start + 10_000]
                rows = []
                for k, (nik, birth, sex) in enumerate(people):
                    number = membership_number_candidate(dt.date.today())
                    while number in numbers:
                        number = membership_number_candidate(dt.date.today())
                    numbers.add(number)
                    village = villages[(start + k) % len(villages)]
                    village = next((v for v in villages if v.startswith(nik_district(nik) + ".")), village)
                    rows.append(
                        {
                            "membership_number": number, "nik": nik, "full_name": "Pekerja Rentan", "birth_date": birth,
                            "sex": sex, "segment": Segment.BPU, "status": ParticipantStatus.INACTIVE,
                            "funding_source": FundingSource.APBD, "monthly_wage": Decimal(1_000_000),
                            "contribution_months": 0, "recent_contribution_months": 0, "registered_at": registered,
                            "version": 1, **placement(village),
                        }
                    )  # fmt: skip
                ids = (await conn.execute(insert(Participant).returning(Participant.id), rows)).scalars().all()
                await conn.execute(
                    insert(ParticipantProgram),
                    [
                        {"participant_id": pid, "program": p, "segment": Segment.BPU, "since": registered.date()}
                        for pid in ids
                        for p in (Program.JKK, Program.JKM)
                    ],
                )
            await conn.run_sync(rollups.rebuild)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


def nik_district(nik: str) -> str:
    return f"{nik[0:2]}.{nik[2:4]}.{nik[4:6]}"


def caller(region: str) -> Any:
    from domain.audit.writes import Actor
    from domain.regions.rules import RegionCode
    from domain.writes.caller import Caller

    return Caller(actor=Actor(subject="bench:bulk_writes", kind="system"), within=RegionCode.parse(region))


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process of this machine so far (0 when it is not one: SQLite, a remote
    server)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_pid(session: Any) -> int | None:
    """The PostgreSQL backend serving `session` (None on SQLite)."""
    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(await session.scalar(text("SELECT pg_backend_pid()")))


@dataclass
class _StatementCpu:
    """CPU seconds around `engine`'s statements (SQLAlchemy's cursor events; a COPY is not one): the process's
    while one was in flight (its part beside the database's work, so a COPY counts as not overlapped and the
    driver's decoding of a statement's rows as overlapped), and with `per_statement` each statement's (first
    line's) count and CPU seconds of the backend `backend`."""

    beside: float = 0.0
    backend: int | None = None
    per_statement: dict[str, list[float]] | None = None

    def listen(self, engine: Any) -> None:
        from sqlalchemy import event

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            conn.info["cpu_before"] = time.process_time()
            if self.per_statement is not None and self.backend is not None:
                conn.info["backend_before"] = backend_cpu_seconds(self.backend) or 0.0

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            self.beside += time.process_time() - conn.info.pop("cpu_before", time.process_time())
            if self.per_statement is not None and "backend_before" in conn.info:
                entry = self.per_statement.setdefault(statement.split("\n")[0][:100], [0, 0.0])
                entry[0] += 1
                entry[1] += (backend_cpu_seconds(self.backend) or 0.0) - conn.info.pop("backend_before")


async def phase_apbd(url: str, statements: bool = False) -> dict[str, Any]:
    from domain.db import make_engine, make_sessionmaker
    from domain.participants.apbd import book_apbd_month

    engine = make_engine(url, null_pool=True)
    probe = _StatementCpu(per_statement={} if statements else None)
    probe.listen(engine)
    result: dict[str, Any] = {}
    try:
        for run in ("first", "again"):
            probe.beside = 0.0
            started, cpu = time.perf_counter(), time.process_time()
            async with make_sessionmaker(engine)() as session:
                backend = await _backend_pid(session)
                probe.backend = backend
                db_cpu = cpu_seconds(backend)
                outcome = await book_apbd_month(session, caller(REGENCY), REGENCY, next_month())
                db_cpu = cpu_seconds(backend) - db_cpu
                await session.commit()
            result[run] = {
                "seconds": round(time.perf_counter() - started, 2),
                "cpu_seconds": round(time.process_time() - cpu, 2),
                "db_cpu_seconds": round(db_cpu, 2),
                # Python's CPU while a statement was in flight (its part beside the database's work), and the
                # wall time this run would take on two idle cores: the two CPU figures less that overlap.
                "cpu_beside_statements": round(probe.beside, 2),
                "idle_wall_estimate": round(time.process_time() - cpu + db_cpu - probe.beside, 2),
                "load": [round(x, 1) for x in os.getloadavg()],
                "workers": outcome.workers,
                "booked": outcome.booked,
                "already_booked": outcome.already_booked,
                "refused": outcome.refused,
                "amount": str(outcome.amount),
            }
            if probe.per_statement is not None:  # the first run's ten costliest statements to the database
                ranked = sorted(probe.per_statement.items(), key=lambda kv: -kv[1][1])[:10]
                result[run]["statements_backend_cpu"] = {k: [int(n), round(c, 2)] for k, (n, c) in ranked}
                probe.per_statement = {}
    finally:
        await engine.dispose()
    return result


@contextlib.contextmanager
def _copies_counted(probe: _StatementCpu) -> Any:
    """`probe.beside` counts the process's CPU during asyncpg's ``copy_records_to_table`` too (a COPY is not a
    cursor event): the encoding of the records, and whatever else runs while the server takes them."""
    import asyncpg

    original = asyncpg.Connection.copy_records_to_table

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = time.process_time()
        try:
            return await original(self, *args, **kwargs)
        finally:
            probe.beside += time.process_time() - before

    asyncpg.Connection.copy_records_to_table = counted
    try:
        yield
    finally:
        asyncpg.Connection.copy_records_to_table = original


async def phase_import(url: str, participants: int) -> dict[str, Any]:
    from domain.db import make_engine, make_sessionmaker
    from domain.participants.imports import RowImportOptions, import_participants

    engine = make_engine(url, null_pool=True)
    probe = _StatementCpu()
    probe.listen(engine)
    try:
        villages = await _villages(engine)
        districts = sorted({v.rsplit(".", 1)[0] for v in villages})
        by_district = {d: [v for v in villages if v.startswith(d + ".")] for d in districts}
        path = Path(tempfile.gettempdir()) / f"bulk_writes_participants_{participants}.csv"
        with path.open("w", encoding="utf-8") as f:
            f.write("nik,nama,tanggal_lahir,jenis_kelamin,segmen,sumber_dana,kode_wilayah,program,upah\n")
            # Past the set-up's NIKs: every row a new worker.
            for nik, birth, sex in _niks(districts, participants, 5_000_000):
                village = by_district[nik_district(nik)][0]
                sex_cell = "L" if sex.value == "M" else "P"
                f.write(f"{nik},Pekerja Baru,{birth.isoformat()},{sex_cell},BPU,SELF,{village},JKK JKM,\n")
        started, cpu = time.perf_counter(), process_cpu_seconds()
        async with make_sessionmaker(engine)() as session:
            backend = await backend_pid(session)
            probe.beside = 0.0
            with path.open("rb") as stream, _copies_counted(probe):
                result = await import_participants(
                    session, caller(REGENCY), stream, path.name, RowImportOptions(), report=io.StringIO()
                )
            db_cpu = backend_cpu_seconds(backend)  # before the commit: the connection closes with it
            if result.written:
                await session.commit()
        cpu = process_cpu_seconds() - cpu
        return {
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(cpu, 2),
            "db_cpu_seconds": db_cpu,
            # As for the APBD run: the process's CPU while one of its statements or COPYs was in flight, and the
            # two CPU figures less it (what the import would take on two idle cores).
            "cpu_beside_statements": round(probe.beside, 2),
            "idle_wall_estimate": None if db_cpu is None else round(cpu + db_cpu - probe.beside, 2),
            "rows": result.counts.read,
            "imported": result.counts.imported,
            "refused": result.counts.rejected,
            "first_errors": [f"{e.row} {e.code} {e.message}" for e in result.errors[:3]],
        }
    finally:
        await engine.dispose()


def _phase(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.phase == "setup":
        asyncio.run(setup(args.database_url, args.workers))
        out: dict[str, Any] = {}
    elif args.phase == "apbd":
        out = asyncio.run(phase_apbd(args.database_url, args.statements))
    else:
        out = asyncio.run(phase_import(args.database_url, args.participants))
    out["wall_seconds"] = round(time.perf_counter() - started, 2)
    out["peak_rss_mib"] = round(peak_rss_mib())
    print(json.dumps(out))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--phase", choices=("setup", "apbd", "import"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--statements", action="store_true", help="APBD phase: also each statement's CPU in the database backend"
    )
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        raise SystemExit("pass a postgresql+asyncpg:// (the goals' database) or sqlite+aiosqlite:/// URL")
    if args.phase:
        return _phase(args)
    common = ["--database-url", args.database_url, "--workers", str(args.workers)]
    common += ["--participants", str(args.participants)] + (["--statements"] if args.statements else [])
    for phase in ("setup", "apbd", "import"):
        done = subprocess.run(
            [sys.executable, __file__, "--phase", phase, *common],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{phase:7s} {json.dumps(figures)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
