"""``jamsos import beneficiaries|participants|contributions FILE``: load a list, print what was wrong, and
write the report beside it.

The work is the domain's (:mod:`domain.beneficiaries.imports`, :mod:`domain.participants.imports`); this
module opens the file and the database, shows progress (a bar with rows per second on a terminal, a plain
line every few seconds otherwise), prints the counts and the first problems, and writes every problem to
``<file>.report.csv``. The exit status is 0 when no row was refused, 1 when some were (or the file was), 2
for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TextIO

from api.settings import get_settings
from domain.audit.writes import Actor
from domain.beneficiaries.imports import ImportOptions, Progress, import_beneficiaries
from domain.beneficiaries.models import BeneficiarySource
from domain.imports.report import ImportResult, report_path
from domain.participants.imports import RowImportOptions, import_contributions, import_participants
from domain.regions.rules import InvalidRegionCode, RegionCode
from domain.writes.caller import Caller

SHOWN_ERRORS = 20


def operator_actor() -> Actor:
    """The operator running a command, as the audit trail names them."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(subject=f"cli:{who}", kind="system")


class _PlainProgress:
    """One line every few seconds, for logs and pipes."""

    def __init__(self, every_seconds: float = 5.0) -> None:
        self.started = time.monotonic()
        self.last = self.started
        self.every = every_seconds

    def __call__(self, rows: int, done: int | None, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        rate = rows / max(now - self.started, 1e-9)
        share = f", {100 * done / total:.0f}% of the file" if done and total else ""
        print(f"read {rows:,} rows ({rate:,.0f} rows/s{share})", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _RichProgress:
    """A progress bar over the file's bytes, with rows read and rows per second."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.started = time.monotonic()
        self.bar = Progress(
            TextColumn("importing"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>9,.0f} rows/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.bar.add_task("import", total=None, rows=0, rate=0.0)
        self.bar.start()

    def __call__(self, rows: int, done: int | None, total: int | None) -> None:
        rate = rows / max(time.monotonic() - self.started, 1e-9)
        self.bar.update(self.task, completed=done or 0, total=total, rows=rows, rate=rate)

    def close(self) -> None:
        self.bar.stop()


def _progress() -> tuple[Progress, Callable[[], None]]:
    shown: Any = _RichProgress() if sys.stderr.isatty() else _PlainProgress()
    return shown, shown.close


def print_result(result: ImportResult, path: Path, report: Path | None, elapsed: float) -> None:
    c = result.counts
    verdict = (
        "dry run: nothing written"
        if result.dry_run
        else (
            "written"
            if result.written and (c.imported or c.updated or c.linked)
            else "nothing to change"
            if result.written
            else "NOTHING WRITTEN (all-or-nothing; fix the rows or pass --skip-invalid)"
        )
    )
    print(f"{path.name}: {verdict}")
    print(
        f"  rows read {c.read:,} · new {c.imported:,} · updated {c.updated:,} · unchanged {c.unchanged:,} · "
        f"refused {c.rejected:,} · linked to participants {c.linked:,}  ({elapsed:.1f} s)"
    )
    if result.seconds:
        print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    if result.sha256:
        print(f"  sha256 {result.sha256} · mode {result.mode}")
    for note in result.notes:
        print(f"  note: {note}")
    if result.errors:
        print(f"  {result.error_count:,} problem(s); the first {min(SHOWN_ERRORS, len(result.errors))}:")
        for e in result.errors[:SHOWN_ERRORS]:
            where = f"row {e.row}" if e.row else "file"
            column = f" [{e.column}]" if e.column else ""
            value = f" {e.value!r}" if e.value else ""
            print(f"    {where}{column}{value}: {e.code}: {e.message}")
    if report is not None:
        print(f"  report: {report}")


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"{path} is not a file", file=sys.stderr)
        return 2
    try:
        within = RegionCode.parse(args.region) if args.region else None
        source = BeneficiarySource(args.source.upper()) if args.source else None
        snapshot = dt.date.fromisoformat(args.snapshot_date) if args.snapshot_date else None
    except (InvalidRegionCode, ValueError) as exc:
        print(f"bad option: {exc}", file=sys.stderr)
        return 2
    options = ImportOptions(dry_run=args.dry_run, skip_invalid=args.skip_invalid, source=source, snapshot_date=snapshot)
    caller = Caller(actor=operator_actor(), within=within, sees_personal_data=True)
    report = report_path(path)
    settings = get_settings()
    started = time.perf_counter()

    async def run(stream: IO[bytes], out: TextIO) -> ImportResult:
        from domain.db import make_engine, make_sessionmaker

        engine = make_engine(settings.resolved_database_url, null_pool=True)
        progress, close = _progress()
        try:
            async with make_sessionmaker(engine)() as session:
                if args.kind == "beneficiaries":
                    result = await import_beneficiaries(
                        session, caller, stream, path.name, options, report=out, progress=progress
                    )
                else:
                    rows = RowImportOptions(dry_run=args.dry_run, skip_invalid=args.skip_invalid)
                    run_rows = import_participants if args.kind == "participants" else import_contributions
                    result = await run_rows(session, caller, stream, path.name, rows, report=out)
                if result.written:
                    await session.commit()
                else:
                    await session.rollback()
                return result
        finally:
            close()
            await engine.dispose()

    with path.open("rb") as stream, report.open("w", newline="", encoding="utf-8") as out:
        result = asyncio.run(run(stream, out))
    if result.error_count == 0:
        report.unlink(missing_ok=True)
    print_result(result, path, report if result.error_count else None, time.perf_counter() - started)
    return 1 if result.error_count else 0
