"""Importing participants and contribution payments from a file, through the same write functions as the API.

Unlike the beneficiary list (a registry snapshot, written set-based), these rows are writes with rules of
their own that the domain already enforces one write at a time: a participant row goes through
:func:`domain.participants.writes.register_participant` (NIK, village in the importer's region, segment and
programmes, funder, wage, employer) and payments through the ledger's
:func:`domain.participants.ledger.record_contributions` (so ``paid_through``, the contribution months and
ACTIVE/INACTIVE stay derived from the ledger). Each row or chunk runs in a savepoint; every problem is
reported with its row and column. All-or-nothing, ``skip_invalid`` and ``dry_run`` work as for beneficiaries:
the work is done in the caller's transaction and ``result.written`` tells the caller whether to commit.

Idempotency: a participant whose NIK is already registered is counted unchanged (corrections go through
``updateParticipant`` with a reason, not an import); a payment whose reference is already recorded for the
same participant, months and amount is unchanged (the ledger's own rule).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any, TextIO

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.codes import UserErrorCode
from domain.imports import cells
from domain.imports.cells import CellProblem
from domain.imports.codes import ImportCode
from domain.imports.headers import Column, HeaderMatch, match_header
from domain.imports.reading import FileRefused, open_table
from domain.imports.report import ErrorSink, ImportCounts, ImportResult, RowError, result_of
from domain.nik import Sex
from domain.participants.ledger import MAX_BATCH, ContributionItem, record_contributions
from domain.participants.models import FundingSource, Participant
from domain.participants.rules import Program, Segment
from domain.participants.writes import Registration, register_participant
from domain.regions.codes import RegionErrorCode
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Conflict, Invalid, NotFound, Problem
from domain.writes.placement import OutOfRegion
from domain.writes.transactions import open_write_transaction


@dataclass(frozen=True)
class RowImportOptions:
    dry_run: bool = False
    skip_invalid: bool = False
    max_bytes: int | None = None
    max_rows: int | None = None

    @property
    def mode(self) -> str:
        return "dry-run" if self.dry_run else ("skip-invalid" if self.skip_invalid else "all-or-nothing")


PARTICIPANT_COLUMNS: tuple[Column, ...] = (
    Column("nik", ("nik", "no_nik", "nik_ktp")),
    Column("full_name", ("nama", "nama_lengkap", "name")),
    Column("birth_date", ("tanggal_lahir", "tgl_lahir", "date_of_birth")),
    Column("sex", ("jenis_kelamin", "jk", "gender")),
    Column("segment", ("segmen", "kepesertaan")),
    Column("funding_source", ("sumber_dana", "pembayar_iuran", "funding")),
    Column("region_code", ("kode_wilayah", "kode_desa", "village_code")),
    Column("programs", ("program", "programs")),
    Column("employer_registration_number", ("npp", "nomor_pendaftaran_perusahaan", "employer"), required=False),
    Column("monthly_wage", ("upah", "upah_bulanan", "wage"), required=False),
)
CONTRIBUTION_COLUMNS: tuple[Column, ...] = (
    Column("membership_number", ("kpj", "no_kpj", "nomor_kpj"), required=False),
    Column("nik", ("nik", "no_nik"), required=False),
    Column("months", ("jumlah_bulan", "bulan", "months")),
    Column("amount", ("jumlah", "nominal", "iuran", "amount")),
    Column("payer", ("pembayar", "sumber_dana", "payer")),
    Column("reference", ("referensi", "no_referensi", "nomor_bukti", "reference")),
    Column("from_month", ("bulan_mulai", "mulai", "from_month"), required=False),
    Column("payer_region_code", ("kode_wilayah_pembayar", "payer_region_code"), required=False),
)
#: Problem fields of the write functions -> the import's fields.
_FIELDS = {
    "fullName": "full_name",
    "birthDate": "birth_date",
    "regionCode": "region_code",
    "fundingSource": "funding_source",
    "employerRegistrationNumber": "employer_registration_number",
    "monthlyWage": "monthly_wage",
    "payerRegionCode": "payer_region_code",
    "fromMonth": "from_month",
}
_SEX = {"l": Sex.M, "m": Sex.M, "laki-laki": Sex.M, "p": Sex.F, "f": Sex.F, "perempuan": Sex.F}
_INPUT = re.compile(r"^input\[(\d+)\]\.?(.*)$")


class _Rows:
    """Reads a row's cells by field, collecting problems with the file's own column names."""

    def __init__(self, header: HeaderMatch) -> None:
        self.pos = header.positions
        self.names = {f: header.column_name(f) for f in self.pos}

    def column(self, field: str | None) -> str | None:
        return self.names.get(_FIELDS.get(field or "", field or ""), field)

    def get(self, values: tuple[Any, ...], field: str) -> Any:
        i = self.pos.get(field)
        return values[i] if i is not None and i < len(values) else None


def _enum(value: Any, kind: type[Any], label: str, code: UserErrorCode) -> Any:
    try:
        return kind(cells.text(value).upper())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise CellProblem(code, f"{label} {cells.shown(value)!r} is not one of {allowed}") from None


def _decimal(value: Any, label: str) -> Decimal:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    raw = cells.text(value).replace(".", "").replace(",", ".") if "," in cells.text(value) else cells.text(value)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise CellProblem(
            ImportCode.INVALID_NUMBER, f"{label} {cells.shown(value)!r} is not an amount in rupiah"
        ) from None


Converter = Callable[[_Rows, int, tuple[Any, ...], list[RowError]], Any]
Writer = Callable[[AsyncSession, Caller, list[tuple[int, Any]], _Rows, ErrorSink, ImportCounts], Awaitable[None]]


def _participant_row(rows: _Rows, number: int, values: tuple[Any, ...], problems: list[RowError]) -> Any:
    def cell(field: str, convert: Callable[[Any], Any]) -> Any:
        value = rows.get(values, field)
        if cells.is_blank(value):
            if field in ("employer_registration_number", "monthly_wage"):
                return None
            problems.append(RowError(number, rows.column(field), "", WriteCode.REQUIRED, f"{field} is empty"))
            return None
        try:
            return convert(value)
        except CellProblem as exc:
            problems.append(RowError(number, rows.column(field), cells.shown(value), exc.code, str(exc)))
            return None

    def sex(v: Any) -> Sex:
        found = _SEX.get(cells.text(v).lower())
        if found is None:
            raise CellProblem(ImportCode.INVALID_SEX, f"sex {cells.shown(v)!r} is not L/P (or M/F)")
        return found

    def programs(v: Any) -> set[Program]:
        return {
            _enum(p, Program, "programme", ImportCode.INVALID_PROGRAMME)
            for p in re.split(r"[,;+ ]+", cells.text(v))
            if p
        }

    data = {
        "nik": cell("nik", lambda v: cells.nik(v)),
        "full_name": cell("full_name", cells.text),
        "birth_date": cell("birth_date", lambda v: cells.date(v, "birth_date")),
        "sex": cell("sex", sex),
        "segment": cell("segment", lambda v: _enum(v, Segment, "segment", ImportCode.INVALID_SEGMENT)),
        "funding_source": cell(
            "funding_source", lambda v: _enum(v, FundingSource, "funding_source", ImportCode.INVALID_FUNDING_SOURCE)
        ),
        "region_code": cell("region_code", cells.text),
        "programs": cell("programs", programs),
        "employer_registration_number": cell("employer_registration_number", cells.text),
        "monthly_wage": cell("monthly_wage", lambda v: _decimal(v, "monthly_wage")),
    }
    if problems:
        return None
    return Registration(**data)


async def _write_participants(
    session: AsyncSession,
    caller: Caller,
    chunk: list[tuple[int, Any]],
    rows: _Rows,
    sink: ErrorSink,
    counts: ImportCounts,
) -> None:
    niks = [r.nik for _, r in chunk]
    existing = set((await session.scalars(select(Participant.nik).where(Participant.nik.in_(niks)))).all())
    for number, registration in chunk:
        if registration.nik in existing:
            counts.unchanged += 1  # already registered: a correction is updateParticipant's, with a reason
            continue
        try:
            async with session.begin_nested():
                await register_participant(session, caller, registration)
        except Invalid as exc:
            counts.rejected += 1
            for p in exc.problems:
                sink.add(RowError(number, rows.column(p.field), None, p.code, p.message))
            continue
        except (OutOfRegion, NotFound, Conflict) as exc:
            counts.rejected += 1
            code = RegionErrorCode.OUT_OF_REGION if isinstance(exc, OutOfRegion) else WriteCode.CONFLICT
            sink.add(RowError(number, rows.column("region_code"), registration.region_code, code, str(exc)))
            continue
        existing.add(registration.nik)
        counts.imported += 1


def _contribution_row(rows: _Rows, number: int, values: tuple[Any, ...], problems: list[RowError]) -> Any:
    def cell(field: str, convert: Callable[[Any], Any], required: bool = True) -> Any:
        value = rows.get(values, field)
        if cells.is_blank(value):
            if required:
                problems.append(RowError(number, rows.column(field), "", WriteCode.REQUIRED, f"{field} is empty"))
            return None
        try:
            return convert(value)
        except CellProblem as exc:
            problems.append(RowError(number, rows.column(field), cells.shown(value), exc.code, str(exc)))
            return None

    kpj = cell("membership_number", cells.text, required=False)
    nik = cell("nik", lambda v: cells.nik(v), required=False)
    if kpj is None and nik is None and not problems:
        problems.append(RowError(number, None, None, WriteCode.REQUIRED, "give the participant's KPJ or NIK"))
    data = {
        "who": (kpj, nik),
        "months": cell("months", lambda v: cells.integer(v, "months")),
        "amount": cell("amount", lambda v: _decimal(v, "amount")),
        "payer": cell("payer", lambda v: _enum(v, FundingSource, "payer", ImportCode.INVALID_PAYER)),
        "reference": cell("reference", cells.text),
        "from_month": cell("from_month", lambda v: cells.date(v, "from_month"), required=False),
        "payer_region_code": cell("payer_region_code", cells.text, required=False),
    }
    return None if problems else data


async def _write_contributions(
    session: AsyncSession,
    caller: Caller,
    chunk: list[tuple[int, Any]],
    rows: _Rows,
    sink: ErrorSink,
    counts: ImportCounts,
) -> None:
    kpjs = [d["who"][0] for _, d in chunk if d["who"][0]]
    niks = [d["who"][1] for _, d in chunk if d["who"][1]]
    found = (
        await session.execute(
            select(Participant.id, Participant.membership_number, Participant.nik, Participant.region_code).where(
                or_(Participant.membership_number.in_(kpjs), Participant.nik.in_(niks))
            )
        )
    ).all()
    by_kpj = {r.membership_number: r for r in found if caller.sees(r.region_code)}
    by_nik = {r.nik: r for r in found if caller.sees(r.region_code)}
    items: list[tuple[int, ContributionItem]] = []
    for number, d in chunk:
        kpj, nik = d["who"]
        holder = by_kpj.get(kpj) if kpj else by_nik.get(nik)
        if holder is None:
            counts.rejected += 1
            column = rows.column("membership_number" if kpj else "nik")
            sink.add(
                RowError(
                    number, column, kpj or nik, WriteCode.NOT_FOUND, "no participant with this KPJ/NIK in your region"
                )
            )
            continue
        item = ContributionItem(
            participant_id=holder.id,
            months=d["months"],
            amount=d["amount"],
            payer=d["payer"],
            reference=d["reference"],
            payer_region_code=d["payer_region_code"],
            from_month=d["from_month"],
        )
        items.append((number, item))
    while items:
        try:
            async with session.begin_nested():
                recorded = await record_contributions(session, caller, [item for _, item in items])
        except Invalid as exc:
            bad = _rows_of(exc.problems, items, rows, sink)
            counts.rejected += len(bad)
            items = [(n, item) for n, item in items if n not in bad]
            continue  # again without the refused rows, so the others' problems are found too
        except NotFound as exc:
            counts.rejected += len(items)
            for number, _ in items:
                sink.add(RowError(number, None, None, WriteCode.NOT_FOUND, str(exc)))
            return
        counts.imported += sum(1 for r in recorded if r.created)
        counts.unchanged += sum(1 for r in recorded if not r.created)
        return


def _rows_of(
    problems: list[Problem], items: list[tuple[int, ContributionItem]], rows: _Rows, sink: ErrorSink
) -> set[int]:
    bad: set[int] = set()
    for p in problems:
        m = _INPUT.match(p.field or "")
        number = items[int(m.group(1))][0] if m and int(m.group(1)) < len(items) else 0
        field = m.group(2) if m else p.field
        bad.add(number)
        sink.add(RowError(number, rows.column(field), None, p.code, p.message))
    if 0 in bad:  # a problem of the call as a whole: nothing of the chunk can be written
        bad |= {n for n, _ in items}
    return bad


async def _run(
    session: AsyncSession,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    options: RowImportOptions,
    columns: tuple[Column, ...],
    convert: Converter,
    write: Writer,
    chunk_size: int,
    report: TextIO | None,
) -> ImportResult:
    sink, counts = ErrorSink(report), ImportCounts()
    sha256, notes = "", []
    try:
        table = open_table(stream, filename, max_bytes=options.max_bytes)
        sha256, notes = table.sha256, table.notes
        header, header_problems = match_header(table.header, columns)
        if header_problems:
            sink.extend(header_problems)
            return result_of(counts, sink, options, sha256, notes, written=False)
        rows = _Rows(header)
        await open_write_transaction(session)
        chunk: list[tuple[int, Any]] = []
        for number, values in _limited(table.rows, counts, options.max_rows):
            problems: list[RowError] = []
            item = convert(rows, number, values, problems)
            if problems or item is None:
                counts.rejected += 1
                sink.extend(problems)
                continue
            chunk.append((number, item))
            if len(chunk) >= chunk_size:
                await write(session, caller, chunk, rows, sink, counts)
                chunk = []
        if chunk:
            await write(session, caller, chunk, rows, sink, counts)
    except FileRefused as exc:
        sink.add(RowError(exc.row, None, None, exc.code, str(exc)))
        return result_of(counts, sink, options, sha256, notes, written=False)
    if counts.read == 0:
        sink.add(RowError(0, None, None, ImportCode.NO_ROWS, f"{filename!r} has a header but no data rows"))
    written = counts.read > 0 and not options.dry_run and (options.skip_invalid or sink.total == 0)
    return result_of(counts, sink, options, sha256, notes, written=written)


def _limited(
    rows: Iterator[tuple[int, tuple[Any, ...]]], counts: ImportCounts, limit: int | None
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for number, values in rows:
        counts.read += 1
        if limit is not None and counts.read > limit:
            raise FileRefused(ImportCode.TOO_MANY_ROWS, f"the file has more than {limit:,} rows", number)
        yield number, values


async def import_participants(
    session: AsyncSession,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    options: RowImportOptions | None = None,
    *,
    report: TextIO | None = None,
) -> ImportResult:
    """Register each row's participant (see the module docstring); the caller commits when ``written``."""
    return await _run(
        session, caller, stream, filename, options or RowImportOptions(), PARTICIPANT_COLUMNS,
        _participant_row, _write_participants, 500, report,
    )  # fmt: skip


async def import_contributions(
    session: AsyncSession,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    options: RowImportOptions | None = None,
    *,
    report: TextIO | None = None,
) -> ImportResult:
    """Record each row's payment in the ledger (see the module docstring); the caller commits when ``written``."""
    return await _run(
        session, caller, stream, filename, options or RowImportOptions(), CONTRIBUTION_COLUMNS,
        _contribution_row, _write_contributions, MAX_BATCH, report,
    )  # fmt: skip
