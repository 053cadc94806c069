"""Importing participants and contribution payments from a file, with the same rules as the API, set-based.

These rows are writes with rules of their own, the rules of the single writes: participant rows go through
:func:`domain.participants.bulk_registration.register_participants_bulk` (the rules of
``registerParticipant``: NIK, village in the importer's region, segment and programmes, funder, wage,
employer), a chunk of rows at a time, and payments through
:func:`domain.participants.bulk_ledger.record_contributions_bulk` (the ledger's rules, so ``paid_through``,
the contribution months and ACTIVE/INACTIVE stay derived from the ledger), the whole file in one call. Every
problem is reported with its row (the header is row 1) and column. All-or-nothing, ``skip_invalid`` and
``dry_run`` work as for beneficiaries: the work is done in the caller's transaction and ``result.written``
tells the caller whether to commit.

Idempotency: a participant whose NIK is already registered is counted unchanged (corrections go through
``updateParticipant`` with a reason, not an import); a payment whose reference is already recorded for the
same participant, months and amount is unchanged (the ledger's own rule).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Protocol, TextIO

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
from domain.participants.bulk import CHUNK, collector_paused
from domain.participants.bulk_ledger import record_contributions_bulk
from domain.participants.bulk_registration import BulkRegistered, ChunkWriter
from domain.participants.codes import ParticipantCode
from domain.participants.ledger import ContributionItem
from domain.participants.models import FundingSource, Participant
from domain.participants.phone import InvalidPhoneNumber, parse_phone_number
from domain.participants.rules import Program, Segment
from domain.participants.writes import Registration
from domain.regions.codes import RegionErrorCode
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
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
    Column("phone_number", ("no_hp", "phone"), required=False),
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
    "phoneNumber": "phone_number",
    "payerRegionCode": "payer_region_code",
    "fromMonth": "from_month",
}
_SEX = {"l": Sex.M, "m": Sex.M, "laki-laki": Sex.M, "p": Sex.F, "f": Sex.F, "perempuan": Sex.F}
_INPUT = re.compile(r"^input\[(\d+)\]\.?(.*)$")
_INPUT_REF = re.compile(r"input\[(\d+)\]")


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


def _phone_number(value: Any) -> str:
    if not isinstance(value, str):
        raise CellProblem(
            ParticipantCode.INVALID_PHONE_NUMBER,
            "the phone number is stored as a number, which loses its leading 0; format the column as text",
        )
    try:
        return parse_phone_number(value)
    except InvalidPhoneNumber as exc:
        raise CellProblem(ParticipantCode.INVALID_PHONE_NUMBER, str(exc)) from None


Converter = Callable[[_Rows, int, tuple[Any, ...], list[RowError]], Any]
Writer = Callable[
    [AsyncSession, Caller, list[tuple[int, Any]], _Rows, ErrorSink, ImportCounts], Coroutine[Any, Any, None]
]


def _sex(v: Any) -> Sex:
    found = _SEX.get(cells.text(v).lower())
    if found is None:
        raise CellProblem(ImportCode.INVALID_SEX, f"sex {cells.shown(v)!r} is not L/P (or M/F)")
    return found


def _programs(v: Any) -> set[Program]:
    parts = re.split(r"[,;+ ]+", cells.text(v))
    return {_enum(p, Program, "programme", ImportCode.INVALID_PROGRAMME) for p in parts if p}


#: A participant row's fields: converter, and whether a blank cell is allowed (None).
_PARTICIPANT_CELLS: tuple[tuple[str, Callable[[Any], Any], bool], ...] = (
    ("nik", cells.nik, False),
    ("full_name", cells.text, False),
    ("birth_date", lambda v: cells.date(v, "birth_date"), False),
    ("sex", _sex, False),
    ("segment", lambda v: _enum(v, Segment, "segment", ImportCode.INVALID_SEGMENT), False),
    ("funding_source",
     lambda v: _enum(v, FundingSource, "funding_source", ImportCode.INVALID_FUNDING_SOURCE), False),
    ("region_code", cells.text, False),
    ("programs", _programs, False),
    ("employer_registration_number", cells.text, True),
    ("monthly_wage", lambda v: _decimal(v, "monthly_wage"), True),
    ("phone_number", _phone_number, True),
)  # fmt: skip


def _participant_row(rows: _Rows, number: int, values: tuple[Any, ...], problems: list[RowError]) -> Any:
    data: dict[str, Any] = {}
    for field, convert, optional in _PARTICIPANT_CELLS:
        value = rows.get(values, field)
        if cells.is_blank(value):
            if not optional:
                problems.append(RowError(number, rows.column(field), "", WriteCode.REQUIRED, f"{field} is empty"))
            data[field] = None
            continue
        try:
            data[field] = convert(value)
        except CellProblem as exc:
            problems.append(RowError(number, rows.column(field), cells.shown(value), exc.code, str(exc)))
            data[field] = None
    if problems:
        return None
    return Registration(**data)


class _Registrations:
    """The participant import's writer: each chunk's rows go through one
    :class:`~domain.participants.bulk_registration.ChunkWriter` for the whole file, so a chunk's checks and
    events are made while the database writes the chunk before; :meth:`finish` writes the last one."""

    def __init__(self) -> None:
        self.writer: ChunkWriter | None = None

    async def __call__(
        self,
        session: AsyncSession,
        caller: Caller,
        chunk: list[tuple[int, Any]],
        rows: _Rows,
        sink: ErrorSink,
        counts: ImportCounts,
    ) -> None:
        if self.writer is None:
            self.writer = ChunkWriter(session, caller)
        outcome = BulkRegistered()
        with collector_paused():
            await self.writer.add([r for _, r in chunk], 0, outcome)
        for refusal in outcome.refusals:
            number, registration = chunk[refusal.index]
            value = registration.region_code if refusal.code is RegionErrorCode.OUT_OF_REGION else None
            sink.add(RowError(number, rows.column(refusal.field), value, refusal.code, refusal.message))
        counts.rejected += outcome.refused
        counts.imported += outcome.created
        counts.unchanged += outcome.unchanged

    async def finish(
        self, session: AsyncSession, caller: Caller, rows: _Rows, sink: ErrorSink, counts: ImportCounts
    ) -> None:
        if self.writer is not None:
            with collector_paused():
                await self.writer.flush()


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


class _Payments:
    """The contribution import's writer: each chunk's rows are matched to participants of the caller's region
    by KPJ or NIK; the payments of the whole file are then recorded in one set-based call, so a reference
    repeated anywhere in the file is refused as it is within one ``recordContributions`` call."""

    def __init__(self) -> None:
        self.items: list[ContributionItem] = []
        self.numbers: list[int] = []

    async def __call__(
        self,
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
        for number, d in chunk:
            kpj, nik = d["who"]
            holder = by_kpj.get(kpj) if kpj else by_nik.get(nik)
            if holder is None:
                counts.rejected += 1
                column = rows.column("membership_number" if kpj else "nik")
                sink.add(
                    RowError(
                        number,
                        column,
                        kpj or nik,
                        WriteCode.NOT_FOUND,
                        "no participant with this KPJ/NIK in your region",
                    )
                )
                continue
            self.numbers.append(number)
            self.items.append(
                ContributionItem(
                    participant_id=holder.id,
                    months=d["months"],
                    amount=d["amount"],
                    payer=d["payer"],
                    reference=d["reference"],
                    payer_region_code=d["payer_region_code"],
                    from_month=d["from_month"],
                )
            )

    async def finish(
        self,
        session: AsyncSession,
        caller: Caller,
        rows: _Rows,
        sink: ErrorSink,
        counts: ImportCounts,
        book: ReferenceBook | None = None,
    ) -> None:
        earlier: dict[str, int] = {}
        if book is not None:
            earlier = await book.first_rows([item.reference for item in self.items])
        outcome = await record_contributions_bulk(
            session, caller, self.items, earlier={ref: f"row {row}" for ref, row in earlier.items()}
        )
        if book is not None:
            await book.add({ref: self.numbers[i] for ref, i in outcome.references.items() if ref not in earlier})
        for refusal in sorted(outcome.refusals, key=lambda r: r.index):
            m = _INPUT.match(refusal.field or "")
            field = m.group(2) if m else refusal.field
            # Another item named in the message ("also used by input[k]") is named by its row in the file.
            message = _INPUT_REF.sub(lambda ref: f"row {self.numbers[int(ref.group(1))]}", refusal.message)
            sink.add(RowError(self.numbers[refusal.index], rows.column(field), None, refusal.code, message))
        counts.rejected += outcome.refused
        counts.imported += outcome.created
        counts.unchanged += outcome.unchanged


class ReferenceBook(Protocol):
    """The payment references earlier chunks of the same file used (an import job's), by the file row of
    their first use: a reference repeated in a later chunk is ``DUPLICATE_REFERENCE`` as within one chunk."""

    async def first_rows(self, references: Sequence[str]) -> dict[str, int]: ...

    async def add(self, first_rows: dict[str, int]) -> None: ...


Finish = Callable[[AsyncSession, Caller, _Rows, ErrorSink, ImportCounts], Awaitable[None]]


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
    finish: Finish | None = None,
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
        await _read_beside_writes(session, caller, table.rows, rows, options, convert, write, chunk_size, sink, counts)
        if finish is not None:
            await finish(session, caller, rows, sink, counts)
    except FileRefused as exc:
        sink.add(RowError(exc.row, None, None, exc.code, str(exc)))
        return result_of(counts, sink, options, sha256, notes, written=False)
    if counts.read == 0:
        sink.add(RowError(0, None, None, ImportCode.NO_ROWS, f"{filename!r} has a header but no data rows"))
    written = counts.read > 0 and not options.dry_run and (options.skip_invalid or sink.total == 0)
    return result_of(counts, sink, options, sha256, notes, written=written)


#: Rows read and checked between two looks at the chunk being written (each look lets its next statement go).
_ROWS_PER_YIELD = 64


async def _read_beside_writes(
    session: AsyncSession,
    caller: Caller,
    source: Iterator[tuple[int, tuple[Any, ...]]],
    rows: _Rows,
    options: RowImportOptions,
    convert: Converter,
    write: Writer,
    chunk_size: int,
    sink: ErrorSink,
    counts: ImportCounts,
) -> None:
    """Read and check the rows of the next chunk while the database works on the chunk before it.

    The checks are Python's CPU and the chunk's statements the database's: one after the other they add up, side
    by side the import takes about the longer of the two. One chunk is written at a time, in file order, on the
    one session (the checks never touch it); every few rows the reader yields so that the write in flight can
    send its next statement. The report keeps its order: a row's problems are held until the chunk before has
    been written, then reported, so they come after that chunk's refusals exactly as when the two alternated.
    """
    pending: asyncio.Task[None] | None = None
    held: list[RowError] = []

    async def start(chunk: list[tuple[int, Any]]) -> None:
        nonlocal pending
        if pending is not None:
            await pending
        sink.extend(held)
        held.clear()
        pending = asyncio.create_task(write(session, caller, chunk, rows, sink, counts))

    chunk: list[tuple[int, Any]] = []
    try:
        for read, (number, values) in enumerate(_limited(source, counts, options.max_rows), start=1):
            problems: list[RowError] = []
            item = convert(rows, number, values, problems)
            if problems or item is None:
                counts.rejected += 1
                held.extend(problems)
            else:
                chunk.append((number, item))
                if len(chunk) >= chunk_size:
                    await start(chunk)
                    chunk = []
            if read % _ROWS_PER_YIELD == 0 and pending is not None and not pending.done():
                await asyncio.sleep(0)
        if chunk:
            await start(chunk)
        if pending is not None:
            await pending
        sink.extend(held)
    finally:
        # A refused file (or any error) while a chunk is in flight: let it end before the session is given back.
        if pending is not None and not pending.done():
            await asyncio.gather(pending, return_exceptions=True)


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
    registrations = _Registrations()
    return await _run(
        session, caller, stream, filename, options or RowImportOptions(), PARTICIPANT_COLUMNS,
        _participant_row, registrations, CHUNK, report, registrations.finish,
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
    payments = _Payments()
    return await _run(
        session, caller, stream, filename, options or RowImportOptions(), CONTRIBUTION_COLUMNS,
        _contribution_row, payments, CHUNK, report, payments.finish,
    )  # fmt: skip


# --- an upload's first look, and one chunk of a file for a job ----------------------------------------------

#: What a file of each kind is read with: its columns and its row converter.
_KINDS: dict[str, tuple[tuple[Column, ...], Converter]] = {
    "participants": (PARTICIPANT_COLUMNS, _participant_row),
    "contributions": (CONTRIBUTION_COLUMNS, _contribution_row),
}


@dataclass
class Survey:
    """A first look at an uploaded file: how many data rows it has (counted up to the limit and one more),
    and what is wrong with the file as a whole (unreadable, a header without the required columns, too many
    rows), in which case nothing of it is imported."""

    rows: int
    sha256: str
    notes: list[str]
    errors: list[RowError]


@contextmanager
def closing(rows: Iterator[Any]) -> Iterator[None]:
    """Finish a table's row iterator when left early, so it hands the caller's stream back at once."""
    try:
        yield
    finally:
        close = getattr(rows, "close", None)  # a generator's own close(): runs its clean-up now
        if close is not None:
            close()


def survey(stream: IO[bytes], filename: str, kind: str, *, max_rows: int, max_bytes: int | None = None) -> Survey:
    """Read `stream` as a participant or contribution file without converting a row (the stream is left at
    its start): how an upload decides between importing at once and a job."""
    columns, _ = _KINDS[kind]
    sha256, notes, rows = "", [], 0
    try:
        table = open_table(stream, filename, max_bytes=max_bytes)
        sha256, notes = table.sha256, table.notes
        _, header_problems = match_header(table.header, columns)
        if header_problems:
            return Survey(0, sha256, notes, list(header_problems))
        with closing(table.rows):
            for number, _values in table.rows:
                rows += 1
                if rows > max_rows:
                    problem = RowError(number, None, None, ImportCode.TOO_MANY_ROWS,
                                       f"the file has more than {max_rows:,} rows")  # fmt: skip
                    return Survey(rows, sha256, notes, [problem])
    except FileRefused as exc:
        return Survey(rows, sha256, notes, [RowError(exc.row, None, None, exc.code, str(exc))])
    finally:
        stream.seek(0)
    if rows == 0:
        return Survey(0, sha256, notes, [RowError(0, None, None, ImportCode.NO_ROWS,
                                                  f"{filename!r} has a header but no data rows")])  # fmt: skip
    return Survey(rows, sha256, notes, [])


# --- one chunk of a file, for a job ------------------------------------------------------------------------


@dataclass
class RowChunk:
    """What one chunk of a file did: its counts, every problem of its rows, the last file row it took
    (where the next chunk starts after) and whether the file has no rows after it."""

    counts: ImportCounts
    errors: list[RowError]
    last_row: int
    done: bool
    sha256: str


async def import_chunk(
    session: AsyncSession,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    kind: str,
    *,
    after_row: int,
    rows: int = CHUNK,
    references: ReferenceBook | None = None,
) -> RowChunk:
    """Import the next `rows` data rows of a participant or contribution file after file row `after_row`, in
    the caller's transaction, writing the good rows (the partial mode): what a job does per chunk.

    The file is read from the start each time and the rows up to `after_row` are skipped unconverted, so only
    one chunk of rows is held. A chunk done again after a crash writes nothing twice: its NIKs are
    registered (unchanged), its references recorded (unchanged). The rules are one list's, as in the
    synchronous import: a reference repeated in the chunk is ``DUPLICATE_REFERENCE``, and so is one that an
    earlier chunk used, when `references` holds the earlier chunks' references (a job's, in the chunk's
    transaction: a chunk done again after a crash finds only the references of the chunks committed before).
    """
    columns, convert = _KINDS[kind]
    sink, counts = ErrorSink(keep=rows * len(columns) + 1), ImportCounts()
    sha256, last, done = "", after_row, True
    try:
        table = open_table(stream, filename)
        sha256 = table.sha256
        header, header_problems = match_header(table.header, columns)
        if header_problems:
            sink.extend(header_problems)
            return RowChunk(counts, list(sink.kept), last, True, sha256)
        cells_of = _Rows(header)
        await open_write_transaction(session)
        chunk: list[tuple[int, Any]] = []
        with closing(table.rows):
            for number, values in table.rows:
                if number <= after_row:
                    continue
                if counts.read >= rows:
                    done = False
                    break
                counts.read += 1
                last = number
                problems: list[RowError] = []
                item = convert(cells_of, number, values, problems)
                if problems or item is None:
                    counts.rejected += 1
                    sink.extend(problems)
                    continue
                chunk.append((number, item))
        if chunk and kind == "participants":
            registrations = _Registrations()
            await registrations(session, caller, chunk, cells_of, sink, counts)
            await registrations.finish(session, caller, cells_of, sink, counts)
        elif chunk:
            payments = _Payments()
            await payments(session, caller, chunk, cells_of, sink, counts)
            await payments.finish(session, caller, cells_of, sink, counts, references)
    except FileRefused as exc:
        sink.add(RowError(exc.row, None, None, exc.code, str(exc)))
        done = True
    return RowChunk(counts, list(sink.kept), last, done, sha256)
