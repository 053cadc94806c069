"""Registry-list mutations: importBeneficiaries (a file over the GraphQL multipart request spec) and
enrollBeneficiaries (Inpres 4/2022 enrolment of a whole filtered list).

Both call the domain (:mod:`domain.beneficiaries.imports`, :mod:`domain.beneficiaries.batch_enrolment`) the
same way the command line and the console do; this module only turns arguments into the domain's options,
narrows the list to the caller's region through :mod:`auth.policy`, and shapes the answer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import IO, Annotated, Any, cast

import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.file_uploads import Upload
from strawberry.relay import to_base64

from auth.policy import narrow_region_filter, visible
from auth.scopes import Scope
from domain.beneficiaries.batch_enrolment import (
    ENROL_KIND,
    ListFilter,
    enroll_beneficiaries,
    enrolment_params,
    list_condition,
)
from domain.beneficiaries.imports import ImportOptions, import_beneficiaries
from domain.beneficiaries.models import PovertyBeneficiary
from domain.codes import ErrorCode
from domain.imports.report import KEPT_ERRORS, ImportResult
from domain.jobs.models import Job
from domain.jobs.runner import create_job
from domain.participants.models import FundingSource
from domain.participants.rules import Program
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller
from schema.core import demand
from schema.core.bounds import JOB_COSTS_SIZE, MAX_PAGE_SIZE
from schema.core.context import Info
from schema.core.enums import BeneficiarySourceEnum, FundingSourceEnum, ProgramEnum, UserErrorCodeEnum, domain_value
from schema.core.errors import BadInput
from schema.core.permissions import needs
from schema.core.uploads import MAX_UPLOAD_ROWS, ImportRowError, RefusalReason
from schema.core.writes import WriteError
from schema.jobs.types import JobNode, PayerCost
from schema.participants.mutations import checked_budget
from schema.regions.filters import region_filter

#: Up to this many matched beneficiaries (a page) enrollBeneficiaries answers in the request; over it, a job.
SYNCHRONOUS_ROWS = MAX_PAGE_SIZE


@strawberry.type(description="What importing a beneficiary list did (or, in a dry run, would do).")
class ImportBeneficiariesPayload:
    imported: int = strawberry.field(description="New records (per NIK, source and snapshot date).")
    updated: int = strawberry.field(description="Existing records whose values changed.")
    unchanged: int = strawberry.field(description="Rows identical to what is stored.")
    rejected: int = strawberry.field(description="Rows refused; each has at least one entry in errors.")
    linked: int = strawberry.field(description="Records matched to a participant by NIK.")
    read: int = strawberry.field(description="Data rows read from the file.")
    written: bool = strawberry.field(
        description="True when the import was stored. False for a dry run, a refused file, or refused rows "
        "without skipInvalid (all-or-nothing)."
    )
    dry_run: bool = strawberry.field(description="True when nothing was meant to be written.")
    sha256: str = strawberry.field(description="SHA-256 of the uploaded file, as the audit trail records it.")
    error_count: int = strawberry.field(description="All problems found; errors lists the first 100.")
    errors: list[ImportRowError] = strawberry.field(
        description="The first 100 problems, in the order found.", directives=demand.bounded(KEPT_ERRORS)
    )
    notes: list[str] = strawberry.field(
        description="How the file was read (encoding, delimiter, ignored columns).", directives=demand.bounded(10)
    )

    @classmethod
    def from_result(cls, r: ImportResult) -> ImportBeneficiariesPayload:
        c = r.counts
        return cls(
            imported=c.imported,
            updated=c.updated,
            unchanged=c.unchanged,
            rejected=c.rejected,
            linked=c.linked,
            read=c.read,
            written=r.written,
            dry_run=r.dry_run,
            sha256=r.sha256,
            error_count=r.error_count,
            errors=[
                ImportRowError(row=e.row, column=e.column, value=e.value, code=e.code, message=e.message)
                for e in r.errors
            ],
            notes=r.notes[:10],
        )


@strawberry.input(description="Which beneficiaries to enrol; all given conditions apply.")
class EnrollBeneficiariesFilter:
    region_code: str | None = strawberry.field(default=None, description="This region and everything below it.")
    extreme_poor: bool = strawberry.field(default=True, description="Only the registry's extreme-poor (default).")
    enrolled: bool = strawberry.field(
        default=False, description="Only those (not) yet linked to a participant (default: not yet)."
    )
    source: BeneficiarySourceEnum | None = strawberry.field(default=None, description="Only this registry.")


@strawberry.type(description="One beneficiary the batch could not enrol, and why.")
class EnrolmentRefusal:
    beneficiary_id: strawberry.ID = strawberry.field(description="Global id of the beneficiary.")
    code: UserErrorCodeEnum = strawberry.field(description="Why, e.g. NOT_EXTREME_POOR, FUNDING_NOT_ALLOWED.")
    message: str = strawberry.field(description="The reason in words.")


@strawberry.type(
    description="What enrolling a list did (or, in a dry run, would do). Over a page of matched beneficiaries "
    "the counts are the job's: the payload carries the job, and its counts grow as it runs."
)
class EnrollBeneficiariesPayload:
    matched: int = strawberry.field(description="Beneficiaries the filter selected.")
    dry_run: bool = strawberry.field(description="True when nothing was (or will be) written.")
    created: int = strawberry.field(default=0, description="New BPU participants created.")
    linked: int = strawberry.field(
        default=0, description="Beneficiaries linked to, or funding taken over for, a participant."
    )
    unchanged: int = strawberry.field(default=0, description="Already enrolled: nothing to do.")
    refused: int = strawberry.field(default=0, description="Beneficiaries the enrolment rules refused.")
    monthly_cost: Decimal = strawberry.field(
        default=Decimal(0),
        description="What the funder pays per month, in rupiah, for everyone this call enrolled (package price each).",
    )
    costs: list[PayerCost] = strawberry.field(
        default_factory=list,
        description="The monthly cost per paying budget (one payer; per regency for a national dry run without one).",
        directives=demand.bounded(JOB_COSTS_SIZE),
    )
    more: bool = strawberry.field(
        default=False,
        description="Always false: a list longer than a page runs as one job (see job).",
        deprecation_reason="A list longer than a page runs as one job; follow `job`.",
    )
    reasons: list[RefusalReason] = strawberry.field(
        default_factory=list, description="Refusals counted by reason.", directives=demand.bounded(20)
    )
    errors: list[EnrolmentRefusal] = strawberry.field(
        default_factory=list, description="The first 100 refusals.", directives=demand.bounded(100)
    )
    job: JobNode | None = strawberry.field(
        default=None, description="The job enrolling the list when it is longer than a page (null: done here)."
    )


@strawberry.type
class BeneficiaryMutation:
    @strawberry.federation.field(
        description="Import a P3KE/DTKS/DTSEN list (CSV or XLSX) as a GraphQL multipart upload. Rows outside "
        "your region are refused; all-or-nothing unless skipInvalid; nothing is written in a dry run.",
        **needs(Scope.BENEFICIARIES_WRITE),
    )
    async def import_beneficiaries(
        self,
        info: Info,
        file: Annotated[Upload, strawberry.argument(description="The list (.csv UTF-8 or .xlsx); see docs/import.")],
        dry_run: Annotated[bool | None, strawberry.argument(description="Validate and count only.")] = False,
        skip_invalid: Annotated[
            bool | None, strawberry.argument(description="Import the good rows and refuse the bad ones.")
        ] = False,
        registry: Annotated[
            BeneficiarySourceEnum | None,
            strawberry.argument(description="The source registry, for a file without a source column."),
        ] = None,
        snapshot_date: Annotated[
            dt.date | None, strawberry.argument(description="Snapshot date, for a file without that column.")
        ] = None,
    ) -> ImportBeneficiariesPayload:
        upload: Any = file
        stream = getattr(upload, "file", None)
        if stream is None:
            raise BadInput("file must be an uploaded file (GraphQL multipart request)", field="file")
        options = ImportOptions(
            dry_run=bool(dry_run),
            skip_invalid=bool(skip_invalid),
            source=domain_value(registry),
            snapshot_date=snapshot_date,
            max_rows=MAX_UPLOAD_ROWS,
        )
        sessions = info.context.sessions
        assert sessions is not None
        try:
            async with sessions() as session:
                result = await import_beneficiaries(
                    session, info.context.caller, cast(IO[bytes], stream), str(upload.filename or "upload"), options
                )
                if result.written:
                    await session.commit()
                else:
                    await session.rollback()
        finally:
            stream.close()  # the spooled upload: its temporary file goes now, not when collected
        return ImportBeneficiariesPayload.from_result(result)

    @strawberry.federation.field(
        description="Enrol a filtered list of your region's beneficiaries (Inpres 4/2022), set-based, with the rules "
        "of enrollBeneficiary and one audit event per person changed. Up to a page (100) of matched rows it answers "
        "at once; over that it runs as a job and returns it at once (follow it with job(id)). Idempotent; dryRun "
        "writes nothing. The payer is checked before any row is read.",
        **needs(Scope.BENEFICIARIES_WRITE),
    )
    async def enroll_beneficiaries(
        self,
        info: Info,
        filter: Annotated[EnrollBeneficiariesFilter, strawberry.argument(description="Who to enrol.")],
        funding: Annotated[
            FundingSourceEnum | None, strawberry.argument(description="Who pays (default APBD).")
        ] = None,
        programs: Annotated[
            list[ProgramEnum] | None, strawberry.argument(description="Programmes (default JKK and JKM).")
        ] = None,
        dry_run: Annotated[bool | None, strawberry.argument(description="Count only; write nothing.")] = False,
        payer: Annotated[
            str | None,
            strawberry.argument(
                description="Whose budget (APBD) pays: a province or regency code of your own region. Default: "
                "your own region's, when you are bound to a province or regency; a national administrator names "
                "one (a dry run without one gives the cost per regency)."
            ),
        ] = None,
    ) -> EnrollBeneficiariesPayload:
        principal, reader, caller = info.context.principal, info.context.reader, info.context.caller
        paying: FundingSource = domain_value(funding) or FundingSource.APBD
        sessions = info.context.sessions
        assert sessions is not None
        payer_code = await _checked_payer(sessions, caller, paying, payer, dry_run=bool(dry_run))
        B = PovertyBeneficiary
        narrowed: str | None = None
        region_clause = None
        if filter.region_code is not None:
            region_clause = await region_filter(reader, principal, B, filter.region_code)  # checks the code
            within = narrow_region_filter(principal, RegionCode.parse(filter.region_code))
            if within is None:  # a region outside the caller's own: nothing of it exists for them
                return EnrollBeneficiariesPayload(matched=0, dry_run=bool(dry_run))
            narrowed = within.code
        elif payer_code is not None:
            narrowed = payer_code  # a regency's budget enrols the regency's list
        wanted_filter = ListFilter(
            region_code=narrowed,
            extreme_poor=filter.extreme_poor,
            enrolled=filter.enrolled,
            source=domain_value(filter.source),
        )
        stmt = select(B.id).where(visible(principal, B), list_condition(caller, wanted_filter))
        if region_clause is not None:
            stmt = stmt.where(region_clause)
        ids = list(await reader.all(stmt.order_by(B.id).limit(SYNCHRONOUS_ROWS + 1)))
        wanted = None if programs is None else {domain_value(p) for p in programs}
        if len(ids) > SYNCHRONOUS_ROWS:
            total = await reader.one(select(func.count()).select_from(stmt.subquery()))
            job = await _start_job(info, wanted_filter, wanted, paying, payer_code, bool(dry_run), int(total))
            return EnrollBeneficiariesPayload(matched=int(total), dry_run=bool(dry_run), job=JobNode.from_row(job))
        async with sessions() as session:
            outcome = await enroll_beneficiaries(
                session, caller, ids, programs=wanted, funding=paying, payer=payer_code
            )
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
        return EnrollBeneficiariesPayload(
            matched=len(ids),
            created=outcome.created,
            linked=outcome.linked,
            unchanged=outcome.unchanged,
            refused=outcome.refused,
            monthly_cost=outcome.monthly_cost,
            costs=[PayerCost(payer=k, monthly_cost=v) for k, v in sorted(outcome.costs.items())],
            dry_run=bool(dry_run),
            reasons=[RefusalReason(code=k, count=v) for k, v in outcome.reasons.most_common(20)],
            errors=[
                EnrolmentRefusal(
                    beneficiary_id=strawberry.ID(to_base64("PovertyBeneficiary", r.beneficiary_id)),
                    code=r.code,
                    message=r.message,
                )
                for r in outcome.refusals
            ],
        )


async def _checked_payer(
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
    funding: FundingSource,
    raw: str | None,
    *,
    dry_run: bool,
) -> str | None:
    """The budget the call commits, checked before any beneficiary is read; None for a non-APBD funder, or a
    national dry run that names none (its cost is then given per regency)."""
    if funding is not FundingSource.APBD:
        if raw is not None:
            raise BadInput("only an APBD (regional budget) enrolment names a payer", field="payer")
        return None
    if raw is None and dry_run and caller.within is None:
        return None
    return await checked_budget(sessions, caller, raw)


async def _start_job(
    info: Info,
    wanted: ListFilter,
    programs: set[Program] | None,
    funding: FundingSource,
    payer: str | None,
    dry_run: bool,
    total: int,
) -> Job:
    """Create the enrolment job, commit it, and hand it to the queue (the worker, or this process)."""
    queue, sessions = info.context.jobs, info.context.sessions
    if queue is None or sessions is None:
        raise WriteError(
            f"more than {SYNCHRONOUS_ROWS} beneficiaries match and this server runs no jobs; narrow the filter",
            ErrorCode.SERVICE_UNAVAILABLE,
        )
    params = enrolment_params(wanted, programs=programs, funding=funding, payer=payer, dry_run=dry_run)
    async with sessions() as session, session.begin():
        job = await create_job(session, info.context.caller, ENROL_KIND, params, total=total, payer_region_code=payer)
    await queue.enqueue(job.id)
    return job
