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
from sqlalchemy import select
from strawberry.file_uploads import Upload
from strawberry.relay import to_base64

from auth.policy import visible
from auth.scopes import Scope
from domain.beneficiaries.batch_enrolment import enroll_beneficiaries
from domain.beneficiaries.imports import ImportOptions, import_beneficiaries
from domain.beneficiaries.models import PovertyBeneficiary
from domain.imports.report import KEPT_ERRORS, ImportResult
from domain.participants.models import FundingSource
from schema import demand
from schema.context import Info
from schema.enums import BeneficiarySourceEnum, FundingSourceEnum, ProgramEnum, UserErrorCodeEnum, domain_value
from schema.errors import BadInput
from schema.filters import region_filter
from schema.permissions import needs

#: Rows one upload may hold; larger lists go through ``jamsos import`` (same code, no request to time out).
MAX_UPLOAD_ROWS = 200_000
#: Beneficiaries one enrollBeneficiaries call works through (each is a savepoint and an audit event).
MAX_ENROLMENT_BATCH = 5_000


@strawberry.type(description="A problem with one row (or, with row 0, the whole file) of an imported list.")
class ImportRowError:
    row: int = strawberry.field(description="Row in the file as a spreadsheet numbers it (header = 1; 0 = file).")
    column: str | None = strawberry.field(description="The column as the file names it, if one is at fault.")
    value: str | None = strawberry.field(description="The value found (NIKs masked without pii:read).")
    code: UserErrorCodeEnum = strawberry.field(
        description="Stable code, e.g. INVALID_NIK, DUPLICATE_ROW, OUT_OF_REGION."
    )
    message: str = strawberry.field(description="What is wrong and how to fix it in the file.")


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


@strawberry.type(description="A count of refusals with one reason.")
class RefusalReason:
    code: UserErrorCodeEnum = strawberry.field(description="The refusal code.")
    count: int = strawberry.field(description="How many beneficiaries were refused for it.")


@strawberry.type(description="What enrolling a list did (or, in a dry run, would do).")
class EnrollBeneficiariesPayload:
    matched: int = strawberry.field(description="Beneficiaries the filter selected (at most 5,000 a call).")
    created: int = strawberry.field(description="New BPU participants created.")
    linked: int = strawberry.field(description="Beneficiaries linked to, or funding taken over for, a participant.")
    unchanged: int = strawberry.field(description="Already enrolled: nothing to do.")
    refused: int = strawberry.field(description="Beneficiaries the enrolment rules refused.")
    monthly_cost: Decimal = strawberry.field(
        description="What the funder pays per month, in rupiah, for everyone this call enrolled (package price each)."
    )
    more: bool = strawberry.field(description="True when more beneficiaries match than one call takes: call again.")
    dry_run: bool = strawberry.field(description="True when nothing was written.")
    reasons: list[RefusalReason] = strawberry.field(
        description="Refusals counted by reason.", directives=demand.bounded(20)
    )
    errors: list[EnrolmentRefusal] = strawberry.field(
        description="The first 100 refusals.", directives=demand.bounded(100)
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
        description="Enrol a filtered list of your region's beneficiaries (Inpres 4/2022) through the same rules "
        "as enrollBeneficiary, one audit event per person. Idempotent; dryRun writes nothing.",
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
    ) -> EnrollBeneficiariesPayload:
        principal, reader = info.context.principal, info.context.reader
        B = PovertyBeneficiary
        stmt = select(B.id).where(visible(principal, B), B.extreme_poor.is_(filter.extreme_poor))
        stmt = stmt.where(B.participant_id.is_not(None) if filter.enrolled else B.participant_id.is_(None))
        if filter.region_code is not None:
            stmt = stmt.where(await region_filter(reader, principal, B, filter.region_code))
        if filter.source is not None:
            stmt = stmt.where(B.source == domain_value(filter.source))
        ids = list(await reader.all(stmt.order_by(B.id).limit(MAX_ENROLMENT_BATCH + 1)))
        more = len(ids) > MAX_ENROLMENT_BATCH
        ids = ids[:MAX_ENROLMENT_BATCH]
        payer: FundingSource = domain_value(funding) or FundingSource.APBD
        wanted = None if programs is None else {domain_value(p) for p in programs}
        sessions = info.context.sessions
        assert sessions is not None
        async with sessions() as session:
            outcome = await enroll_beneficiaries(session, info.context.caller, ids, programs=wanted, funding=payer)
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
            more=more,
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
