"""The monthly APBD run and the participant and contribution imports as job kinds (ADR 0015, ADR 0018).

Each chunk function does one chunk of the set-based write after the job's cursor, in the runner's
transaction, and says what it did; the runner commits the chunk's rows with the job's new cursor. So a job
stopped anywhere resumes after its last committed chunk, and a chunk done again writes nothing twice, by the
single writes' keys: the booking's reference ``APBD-<payer>-<YYYYMM>-<participant id>``, a registration's NIK,
a payment's reference. A dry run's chunk is written in a savepoint and rolled back: its counts are what the
real run would do at that moment.

- ``contributions.apbd_month``: cursor = the last participant id gone through (``book_apbd_month``'s
  ``after_id``), one page of workers a chunk.
- ``participants.import`` / ``contributions.import``: cursor = the last file row gone through; the upload is
  staged once (:mod:`domain.jobs.files`) and each chunk reads its own rows of it. Report lines name the file's
  rows, as the synchronous import does.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.imports.report import RowError
from domain.jobs import files, keys
from domain.jobs.models import Job
from domain.jobs.queue import JobQueue
from domain.jobs.registry import Chunk, ReportLine, job_kind
from domain.jobs.runner import create_job
from domain.participants.apbd import book_apbd_month
from domain.participants.bulk import CHUNK
from domain.participants.imports import import_chunk
from domain.writes.caller import Caller

APBD_MONTH_KIND = "contributions.apbd_month"
PARTICIPANT_IMPORT_KIND = "participants.import"
CONTRIBUTION_IMPORT_KIND = "contributions.import"
#: Workers per chunk of the APBD run: one bulk-ledger call, one transaction.
APBD_CHUNK = 1000
#: File kind (domain.participants.imports) of each import job kind.
IMPORT_KINDS = {PARTICIPANT_IMPORT_KIND: "participants", CONTRIBUTION_IMPORT_KIND: "contributions"}


def apbd_month_params(payer: str, month: dt.date, *, dry_run: bool, chunk_size: int = APBD_CHUNK) -> dict[str, Any]:
    return {"payer": payer, "month": f"{month:%Y-%m}", "dry_run": dry_run, "chunk_size": chunk_size}


def import_params(
    kind: str, path: str, sha256: str, filename: str, *, dry_run: bool, chunk_size: int = CHUNK
) -> dict[str, Any]:
    """An import job's parameters (`kind` a key of :data:`IMPORT_KINDS`): the file's kind, the staged file (its
    path and digest) and the name it was uploaded as."""
    return {
        "file_kind": IMPORT_KINDS[kind],
        "path": path,
        "sha256": sha256,
        "filename": filename,
        "dry_run": dry_run,
        "chunk_size": chunk_size,
    }


async def check_apbd_month(session: AsyncSession, caller: Caller, payer: str, month: dt.date) -> None:
    """Raise :class:`~domain.writes.errors.Invalid` now for what the run's first chunk would refuse (a payer
    that is not the caller's budget, a month past what may be paid in advance): ``book_apbd_month``'s own checks,
    run over no page, so a job is never created to fail."""
    await book_apbd_month(session, caller, payer, month, dry_run=True, max_pages=0)


@job_kind(APBD_MONTH_KIND)
async def apbd_month_chunk(session: AsyncSession, caller: Caller, job: Job, params: dict[str, Any]) -> Chunk:
    """The next page of the payer's workers after the job's cursor (a participant id), booked or priced."""
    after = int(job.cursor) if job.cursor else 0
    month = dt.date.fromisoformat(params["month"] + "-01")
    gone_through = 0

    def progress(done: int, refused: dict[str, int]) -> None:
        nonlocal gone_through
        gone_through = done

    dry_run = bool(params.get("dry_run"))
    savepoint = await session.begin_nested() if dry_run else None
    # The payer is checked again by book_apbd_month (as the job's caller), before any row is read.
    outcome = await book_apbd_month(
        session,
        caller,
        params["payer"],
        month,
        dry_run=dry_run,
        after_id=after,
        page=int(params.get("chunk_size") or APBD_CHUNK),
        max_pages=1,
        progress=progress,
    )
    if savepoint is not None:
        await savepoint.rollback()
    counts = Counter(
        booked=outcome.booked,
        already_booked=outcome.already_booked,
        already_paid=outcome.already_paid,
        refused=outcome.refused,
    )
    # Candidates of the page whose latest APBD payment another government made: gone through, not its own.
    counts["other_payer"] = gone_through - outcome.workers
    return Chunk(
        processed=gone_through,
        cursor=str(outcome.cursor) if outcome.cursor else job.cursor,
        done=gone_through == 0,
        counts=+counts,
        refusals=Counter(dict(outcome.reasons)),
        report=[
            ReportLine(r.participant_id, "participantId", str(r.participant_id), r.code, r.message)
            for r in outcome.refusals
        ],
        costs={outcome.payer_region_code: outcome.amount} if outcome.amount else {},
    )


async def import_file_chunk(session: AsyncSession, caller: Caller, job: Job, params: dict[str, Any]) -> Chunk:
    """The next chunk of rows of the staged file after the job's cursor (a file row number)."""
    after = int(job.cursor) if job.cursor else 1  # row 1 is the header
    dry_run = bool(params.get("dry_run"))
    references = _JobReferences(session, job.id)
    with files.open_staged(params["path"], params["sha256"]) as stream:
        savepoint = await session.begin_nested() if dry_run else None
        chunk = await import_chunk(
            session,
            caller,
            stream,
            params["filename"],
            params["file_kind"],
            after_row=after,
            rows=int(params.get("chunk_size") or CHUNK),
            references=references,
        )
        if savepoint is not None:
            await savepoint.rollback()
    # After a dry run's rollback too: its later chunks refuse a repeated reference as the real run would.
    await keys.remember(session, job.id, references.used)
    if chunk.done:
        await keys.forget(session, job.id)
        files.discard(params["path"])  # the file's rows are all gone through: the job needs it no more
    c = chunk.counts
    return Chunk(
        processed=c.read,
        cursor=str(chunk.last_row),
        done=chunk.done,
        counts=+Counter(imported=c.imported, unchanged=c.unchanged, rejected=c.rejected),
        refusals=Counter(_first_codes(chunk.errors).values()),
        report=[ReportLine(e.row, e.column, e.value, str(e.code), e.message) for e in chunk.errors],
    )


async def start_import(
    sessions: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    kind: str,
    directory: Path,
    *,
    rows: int,
    dry_run: bool,
) -> Job:
    """Stage an uploaded file in `directory`, create its import job (`kind`: a key of :data:`IMPORT_KINDS`)
    for `rows` data rows, commit it and hand it to `queue`: what the API and the console do over a page."""
    path, sha256 = files.stage(stream, directory, filename)
    params = import_params(kind, str(path), sha256, Path(filename).name[:200], dry_run=dry_run)
    try:
        async with sessions() as session, session.begin():
            job = await create_job(session, caller, kind, params, total=rows)
    except BaseException:
        files.discard(str(path))  # no job will read it
        raise
    await queue.enqueue(job.id)
    return job


class _JobReferences:
    """The payment references an import job's earlier chunks used (:mod:`domain.jobs.keys`), for
    ``import_chunk``; the ones this chunk used first are kept in ``used`` and stored after the chunk."""

    def __init__(self, session: AsyncSession, job_id: int) -> None:
        self.session, self.job_id = session, job_id
        self.used: dict[str, int] = {}

    async def first_rows(self, references: Sequence[str]) -> dict[str, int]:
        return await keys.first_uses(self.session, self.job_id, references)

    async def add(self, first_rows: dict[str, int]) -> None:
        self.used.update(first_rows)


def _first_codes(errors: list[RowError]) -> dict[int, str]:
    """Each refused row's reason: its first problem's code (a row may have several; the report lists all)."""
    first: dict[int, str] = {}
    for e in errors:
        first.setdefault(e.row, str(e.code))
    return first


job_kind(PARTICIPANT_IMPORT_KIND)(import_file_chunk)
job_kind(CONTRIBUTION_IMPORT_KIND)(import_file_chunk)
