"""Bulk participant and payment writes: importParticipants and importContributions (a file over the GraphQL
multipart request spec) and bookApbdMonth (the monthly APBD run, Inpres 4/2022).

Each calls the domain the way the command line does (:mod:`domain.participants.imports`,
:mod:`domain.participants.apbd`): up to a page of rows it answers in the request; over a page it stages the
work as a job (:mod:`domain.participants.bulk_jobs`), commits it, hands it to the queue and returns it at once.
The imports write the good rows and report the bad ones with their file row numbers (the partial mode: a job
commits chunk by chunk, so all-or-nothing is the command line's, ``jamsos import``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import IO, Annotated, Any, cast

import strawberry
from strawberry.file_uploads import Upload
from strawberry.relay import to_base64

from auth.scopes import Scope
from domain.codes import ErrorCode
from domain.error_catalogue import user_error_code
from domain.imports.report import KEPT_ERRORS, ImportResult, RowError
from domain.jobs.models import Job
from domain.jobs.runner import create_job
from domain.participants.apbd import ApbdMonth, book_apbd_month, candidate_count
from domain.participants.bulk_jobs import (
    APBD_MONTH_KIND,
    CONTRIBUTION_IMPORT_KIND,
    IMPORT_KINDS,
    PARTICIPANT_IMPORT_KIND,
    apbd_month_params,
    check_apbd_month,
    start_import,
)
from domain.participants.imports import RowImportOptions, Survey, import_contributions, import_participants, survey
from domain.regions.rules import RegionCode
from domain.writes.errors import Invalid
from schema.core import demand
from schema.core.bounds import MAX_PAGE_SIZE
from schema.core.context import Info
from schema.core.enums import UserErrorCodeEnum
from schema.core.errors import BadInput
from schema.core.permissions import needs
from schema.core.uploads import MAX_UPLOAD_ROWS, ImportRowError, RefusalReason
from schema.core.writes import WriteError
from schema.jobs.types import JobNode
from schema.participants.mutations import checked_budget

#: Up to this many rows (a page) an upload or a month's run answers in the request; over it, a job.
SYNCHRONOUS_ROWS = MAX_PAGE_SIZE
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@strawberry.type(description="What importing a file of rows did (or, in a dry run, would do).")
class RowImportPayload:
    read: int = strawberry.field(description="Data rows in the file.")
    imported: int = strawberry.field(description="New rows written (0 here when a job does the work).")
    unchanged: int = strawberry.field(
        description="Rows already stored (a registered NIK; a reference recorded for the same payment)."
    )
    rejected: int = strawberry.field(description="Rows refused; each has at least one entry in errors.")
    written: bool = strawberry.field(
        description="True when the good rows were stored here. False for a dry run, a refused file, or a job "
        "(follow job: its counts and report grow as it runs)."
    )
    dry_run: bool = strawberry.field(description="True when nothing was meant to be written.")
    sha256: str = strawberry.field(description="SHA-256 of the uploaded file.")
    error_count: int = strawberry.field(description="All problems found; errors lists the first 100.")
    errors: list[ImportRowError] = strawberry.field(
        description="The first 100 problems, rows numbered as in the file (header = 1; 0 = the whole file).",
        directives=demand.bounded(KEPT_ERRORS),
    )
    notes: list[str] = strawberry.field(
        description="How the file was read (encoding, delimiter, ignored columns).", directives=demand.bounded(10)
    )
    job: JobNode | None = strawberry.field(
        default=None, description="The job importing the file when it has more than a page of rows (null: done here)."
    )


@strawberry.type(description="What importing a participant file did (or, in a dry run, would do).")
class ImportParticipantsPayload(RowImportPayload):
    pass


@strawberry.type(description="What importing a contribution file did (or, in a dry run, would do).")
class ImportContributionsPayload(RowImportPayload):
    pass


@strawberry.type(description="One worker the month could not be booked for, and why.")
class ApbdRefusal:
    participant_id: strawberry.ID = strawberry.field(description="Global id of the participant.")
    code: UserErrorCodeEnum = strawberry.field(description="Why, e.g. NO_PRICE.")
    message: str = strawberry.field(description="The reason in words.")


@strawberry.type(
    description="What booking one APBD month did (or, in a dry run, would do). Over a page of candidate workers "
    "the counts are the job's: the payload carries the job, and its counts grow as it runs."
)
class BookApbdMonthPayload:
    payer: str = strawberry.field(description="The province or regency whose APBD pays.")
    month: str = strawberry.field(description="The month booked, YYYY-MM.")
    dry_run: bool = strawberry.field(description="True when nothing was (or will be) written.")
    workers: int = strawberry.field(default=0, description="Workers the payer funds for the month.")
    booked: int = strawberry.field(default=0, description="Months booked now (dry run: to be booked).")
    already_booked: int = strawberry.field(default=0, description="Booked by an earlier run: nothing to do.")
    already_paid: int = strawberry.field(
        default=0, description="The month was already paid by another payment (the enrolment's first month…)."
    )
    refused: int = strawberry.field(default=0, description="Workers the ledger's rules refused.")
    amount: Decimal = strawberry.field(default=Decimal(0), description="The month's cost in rupiah.")
    reasons: list[RefusalReason] = strawberry.field(
        default_factory=list, description="Refusals counted by reason.", directives=demand.bounded(20)
    )
    errors: list[ApbdRefusal] = strawberry.field(
        default_factory=list, description="The first 100 refusals.", directives=demand.bounded(100)
    )
    job: JobNode | None = strawberry.field(
        default=None, description="The job booking the month when the payer funds more than a page (null: done here)."
    )

    @classmethod
    def from_outcome(cls, o: ApbdMonth) -> BookApbdMonthPayload:
        return cls(
            payer=o.payer_region_code,
            month=f"{o.month:%Y-%m}",
            dry_run=not o.written,
            workers=o.workers,
            booked=o.booked,
            already_booked=o.already_booked,
            already_paid=o.already_paid,
            refused=o.refused,
            amount=o.amount,
            reasons=[RefusalReason(code=user_error_code(k), count=v) for k, v in o.reasons.most_common(20)],
            errors=[
                ApbdRefusal(
                    participant_id=strawberry.ID(to_base64("Participant", r.participant_id)),
                    code=r.code,
                    message=r.message,
                )
                for r in o.refusals[:100]
            ],
        )


UploadArgument = Annotated[Upload, strawberry.argument(description="The file (.csv UTF-8 or .xlsx); see docs/import.")]
DryRunArgument = Annotated[bool | None, strawberry.argument(description="Validate and count only; write nothing.")]


@strawberry.type
class ParticipantBulkMutation:
    @strawberry.federation.field(
        description="Import a participant file (CSV or XLSX; docs/import/participants.md) as a GraphQL multipart "
        "upload, with the rules of registerParticipant: the good rows are registered, the bad ones reported with "
        "their row. Idempotent by NIK (a registered NIK is unchanged). Over a page (100) of rows it runs as a job "
        "and returns it at once.",
        **needs(Scope.PARTICIPANTS_WRITE),
    )
    async def import_participants(
        self, info: Info, file: UploadArgument, dry_run: DryRunArgument = False
    ) -> ImportParticipantsPayload:
        payload = await _import(info, file, PARTICIPANT_IMPORT_KIND, bool(dry_run))
        return ImportParticipantsPayload(**vars(payload))

    @strawberry.federation.field(
        description="Import a contribution file (CSV or XLSX; docs/import/contributions.md) as a GraphQL multipart "
        "upload, with the rules of recordContributions: the good rows are recorded, the bad ones reported with "
        "their row. Idempotent by reference. Over a page (100) of rows it runs as a job and returns it at once.",
        **needs(Scope.PARTICIPANTS_WRITE),
    )
    async def import_contributions(
        self, info: Info, file: UploadArgument, dry_run: DryRunArgument = False
    ) -> ImportContributionsPayload:
        payload = await _import(info, file, CONTRIBUTION_IMPORT_KIND, bool(dry_run))
        return ImportContributionsPayload(**vars(payload))

    @strawberry.federation.field(
        description="Book one month for every worker a regional budget (APBD) funds, priced from the contribution "
        "rules, through the ledger's rules (Inpres 4/2022). The payer is checked before any row is read: it must "
        "be a province or regency of your own region. Idempotent by reference (APBD-<payer>-<YYYYMM>-<id>): a "
        "second run books nothing. Over a page (100) of candidate workers it runs as a job and returns it at once.",
        **needs(Scope.PARTICIPANTS_WRITE),
    )
    async def book_apbd_month(
        self,
        info: Info,
        payer: Annotated[
            str, strawberry.argument(description="Whose budget pays: a province or regency code of your region.")
        ],
        month: Annotated[str, strawberry.argument(description="The month to book, YYYY-MM.")],
        dry_run: Annotated[
            bool | None, strawberry.argument(description="Count and price only; write nothing.")
        ] = False,
    ) -> BookApbdMonthPayload:
        sessions = info.context.sessions
        assert sessions is not None
        caller = info.context.caller
        first = _parse_month(month)
        payer_code = await checked_budget(sessions, caller, payer)  # before any participant row is read
        async with sessions() as session:
            try:
                await check_apbd_month(session, caller, payer_code, first)
            except Invalid as exc:
                raise BadInput(exc.problems[0].message, field="month") from None
            candidates = await candidate_count(session, RegionCode.parse(payer_code), first)
        if candidates > SYNCHRONOUS_ROWS:
            params = apbd_month_params(payer_code, first, dry_run=bool(dry_run))
            job = await _start_job(info, APBD_MONTH_KIND, params, candidates, payer_code)
            return BookApbdMonthPayload(
                payer=payer_code, month=f"{first:%Y-%m}", dry_run=bool(dry_run), job=JobNode.from_row(job)
            )
        async with sessions() as session:
            outcome = await book_apbd_month(session, caller, payer_code, first, dry_run=bool(dry_run))
            if outcome.written:
                await session.commit()
            else:
                await session.rollback()
        return BookApbdMonthPayload.from_outcome(outcome)


def _parse_month(raw: str) -> dt.date:
    match = _MONTH.match(raw.strip())
    try:
        if match is None:
            raise ValueError
        return dt.date(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise BadInput(f"month {raw[:20]!r} is not a month as YYYY-MM", field="month") from None


async def _import(info: Info, file: Upload, kind: str, dry_run: bool) -> RowImportPayload:
    upload: Any = file
    stream = getattr(upload, "file", None)
    if stream is None:
        raise BadInput("file must be an uploaded file (GraphQL multipart request)", field="file")
    filename = str(upload.filename or "upload")
    sessions = info.context.sessions
    assert sessions is not None
    try:
        found = survey(cast(IO[bytes], stream), filename, IMPORT_KINDS[kind], max_rows=MAX_UPLOAD_ROWS)
        if found.errors:
            return _refused(found, dry_run)
        if found.rows > SYNCHRONOUS_ROWS:
            directory, queue = info.context.job_files, info.context.jobs
            if directory is None or queue is None:
                raise WriteError(
                    f"the file has more than {SYNCHRONOUS_ROWS} rows and this server runs no jobs",
                    ErrorCode.SERVICE_UNAVAILABLE,
                )
            job = await start_import(
                sessions, queue, info.context.caller, cast(IO[bytes], stream), filename, kind, directory,
                rows=found.rows, dry_run=dry_run,
            )  # fmt: skip
            return RowImportPayload(
                read=found.rows, imported=0, unchanged=0, rejected=0, written=False, dry_run=dry_run,
                sha256=found.sha256, error_count=0, errors=[], notes=found.notes[:10], job=JobNode.from_row(job),
            )  # fmt: skip
        run = import_participants if kind == PARTICIPANT_IMPORT_KIND else import_contributions
        options = RowImportOptions(dry_run=dry_run, skip_invalid=True, max_rows=SYNCHRONOUS_ROWS)
        async with sessions() as session:
            result = await run(session, info.context.caller, cast(IO[bytes], stream), filename, options)
            if result.written:
                await session.commit()
            else:
                await session.rollback()
    finally:
        stream.close()  # the spooled upload: its temporary file goes now, not when collected
    return _payload(result)


def _errors(errors: list[RowError]) -> list[ImportRowError]:
    return [ImportRowError(row=e.row, column=e.column, value=e.value, code=e.code, message=e.message) for e in errors]


def _refused(found: Survey, dry_run: bool) -> RowImportPayload:
    return RowImportPayload(
        read=min(found.rows, MAX_UPLOAD_ROWS), imported=0, unchanged=0, rejected=0, written=False, dry_run=dry_run,
        sha256=found.sha256, error_count=len(found.errors), errors=_errors(found.errors), notes=found.notes[:10],
    )  # fmt: skip


def _payload(r: ImportResult) -> RowImportPayload:
    c = r.counts
    return RowImportPayload(
        read=c.read, imported=c.imported, unchanged=c.unchanged, rejected=c.rejected, written=r.written,
        dry_run=r.dry_run, sha256=r.sha256, error_count=r.error_count, errors=_errors(r.errors), notes=r.notes[:10],
    )  # fmt: skip


async def _start_job(info: Info, kind: str, params: dict[str, Any], total: int, payer: str | None) -> Job:
    """Create the job, commit it, and hand it to the queue (the worker, or this process)."""
    queue, sessions = info.context.jobs, info.context.sessions
    if queue is None or sessions is None:
        raise WriteError(
            f"more than {SYNCHRONOUS_ROWS} rows and this server runs no jobs", ErrorCode.SERVICE_UNAVAILABLE
        )
    async with sessions() as session, session.begin():
        job = await create_job(session, info.context.caller, kind, params, total=total, payer_region_code=payer)
    await queue.enqueue(job.id)
    return job
