"""Importing a registry list (P3KE, DTKS, DTSEN) of poverty beneficiaries: validate every row, then upsert.

How it runs, and why it is fast and safe:

1. **Stream and check each row** with the same rules as the API: the NIK (shape, date, serial, an existing
   district, agreement with the birth date and sex when given), the village (exists, is a village, lies in
   the importer's region), the decile within what the source publishes, dates, the name. Region codes are
   checked against the regions the chunk names, read by primary key before the chunk is checked (not the
   whole list of ~90,000). Good rows go into a temporary staging table in
   chunks (``COPY`` on PostgreSQL, ``executemany`` on SQLite); problems go to the report as they are found.
2. **Set-based checks in the database**: the same person twice in the file for one source and snapshot
   (every repeat after the first is refused), and rows whose record for that snapshot lies outside the
   importer's region (refused: it is not theirs to change).
3. **Decide**: any refused row and the default all-or-nothing mode, or a dry run, writes nothing; with
   ``skip_invalid`` the good rows go in.
4. **Upsert by NIK + source + snapshot date** in two statements: rows whose values differ are updated
   (their version moves on), new ones inserted; identical ones are left alone, so importing the same file
   twice changes nothing. A newer snapshot is a new record of the same person: the older ones stay as
   history, and the newest carries the current decile and flag.
5. **Link to participants by NIK** in one ``UPDATE``, and append **one** audit event for the import (file
   name, SHA-256, counts, mode) when anything changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TextIO, TypeVar

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.audit import writes as audit
from domain.beneficiaries.codes import BeneficiaryCode
from domain.beneficiaries.models import MIN_DECILE, SOURCE_MAX_DECILE, BeneficiarySource, PovertyBeneficiary
from domain.codes import UserErrorCode
from domain.db import one_of, read_rows
from domain.imports import cells
from domain.imports.cells import CellProblem
from domain.imports.codes import ImportCode
from domain.imports.headers import Column as FileColumn
from domain.imports.headers import HeaderMatch, match_header
from domain.imports.reading import FileRefused, open_table
from domain.imports.report import ErrorSink, ImportCounts, ImportResult, RowError, result_of
from domain.nik import InvalidNIK, Sex, check_consistency, mask_identifier, parse_nik
from domain.participants.models import Participant
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region, placed_within
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel
from domain.text import clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode

#: The columns of a beneficiary list, by every name an office may give them (docs/import/beneficiaries.md).
COLUMNS: tuple[FileColumn, ...] = (
    FileColumn("nik", ("nik", "no_nik", "nomor_nik", "nik_ktp"), description="National ID, 16 digits, as text"),
    FileColumn("full_name", ("nama", "nama_lengkap", "name"), description="Full name"),
    FileColumn(
        "region_code",
        ("kode_wilayah", "kode_desa", "kode_kelurahan", "village_code"),
        description="Village (desa/kelurahan) code, dotted 52.71.01.1001 or 5271011001",
    ),
    FileColumn("decile", ("desil", "desil_kesejahteraan"), description="Welfare decile as the source gives it"),
    FileColumn(
        "extreme_poor",
        ("miskin_ekstrem", "status_miskin_ekstrem", "kemiskinan_ekstrem"),
        description="Extreme-poor flag: ya/tidak, yes/no, 1/0",
    ),
    FileColumn("source", ("sumber", "sumber_data", "registry"), description="P3KE, DTKS or DTSEN"),
    FileColumn(
        "snapshot_date",
        ("tanggal_data", "tanggal_snapshot", "periode_data", "snapshot"),
        description="Date of the registry snapshot",
    ),
    FileColumn("birth_date", ("tanggal_lahir", "tgl_lahir", "date_of_birth"), required=False),
    FileColumn("sex", ("jenis_kelamin", "jk", "gender"), required=False),
    FileColumn("family_card_number", ("no_kk", "nomor_kk", "kk", "nomor_kartu_keluarga"), required=False),
)
_SEX = {"l": Sex.M, "laki-laki": Sex.M, "laki laki": Sex.M, "m": Sex.M, "male": Sex.M, "pria": Sex.M}
_SEX |= {"p": Sex.F, "perempuan": Sex.F, "f": Sex.F, "female": Sex.F, "wanita": Sex.F}
_SOURCES = {s.value: s for s in BeneficiarySource}
_FORMULA_START = ("=", "+", "@")
CHUNK = 5_000
#: SQLite page cache during an import, in KiB (see _large_cache).
SQLITE_CACHE_KIB = 64 * 1024

Progress = Callable[[int, int | None, int | None], None]
"""Called with (rows read, bytes read, file size) every chunk; bytes are None when unknown (XLSX)."""


@dataclass(frozen=True)
class ImportOptions:
    """How to import. ``source``/``snapshot_date`` fill the column for a file that has none."""

    dry_run: bool = False
    skip_invalid: bool = False
    source: BeneficiarySource | None = None
    snapshot_date: dt.date | None = None
    max_bytes: int | None = None
    max_rows: int | None = None

    @property
    def mode(self) -> str:
        return "dry-run" if self.dry_run else ("skip-invalid" if self.skip_invalid else "all-or-nothing")


_stage_meta = MetaData()
#: Good rows of the file being imported; a temporary table of the importing connection, dropped at the end.
STAGE = Table(
    "import_beneficiary_stage",
    _stage_meta,
    Column("row_no", Integer, primary_key=True),
    Column("nik", String(16), nullable=False),
    Column("family_card_number", String(16)),
    Column("full_name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("region_code", String(13), nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("regency_code", String(5)),
    Column("district_code", String(8)),
    Column("decile", SmallInteger, nullable=False),
    Column("extreme_poor", Boolean, nullable=False),
    Column("source", String(10), nullable=False),
    Column("snapshot_date", Date, nullable=False),
    Column("existing_id", Integer),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",  # PostgreSQL drops it with the transaction; SQLite's is dropped by _drop_stage
)
_STAGED = [c.name for c in STAGE.columns if c.name != "existing_id"]
_COMPARED = ("full_name", "family_card_number", "birth_date", "sex", "region_code", "decile", "extreme_poor")
_PLACEMENT = ("province_code", "regency_code", "district_code")
_PB: Table = PovertyBeneficiary.metadata.tables[PovertyBeneficiary.__tablename__]
_P: Table = Participant.metadata.tables[Participant.__tablename__]


class _Places:
    """The regions the rows name, as the checks need them: village, district (for NIKs) or another level.

    Filled chunk by chunk with the codes the chunk's rows name (:meth:`_RowChecker.codes`), by primary key: a
    file names a few hundred regions, where the whole list is ~90,000 rows (a quarter of a second per import).
    Asking about a code that was not looked up is a bug (the two would disagree), so it raises.
    """

    def __init__(self) -> None:
        self._levels: dict[str, RegionLevel] = {}
        self._asked: set[str] = set()

    async def look_up(self, session: AsyncSession, codes: set[str]) -> None:
        new = sorted(codes - self._asked)
        for i in range(0, len(new), _LOOKUP_PAGE):
            page = new[i : i + _LOOKUP_PAGE]
            rows = await read_rows(session, select(Region.code, Region.level).where(one_of(session, Region.code, page)))
            self._levels.update((code, level) for code, level in rows)
            self._asked.update(page)

    def level(self, code: str) -> RegionLevel | None:
        """The level of the region `code`, or None when there is no such region."""
        if code not in self._asked:
            raise LookupError(f"region {code!r} was not looked up before its row was checked")
        return self._levels.get(code)


#: Codes per look-up query (an IN list on SQLite: under its parameter limit).
_LOOKUP_PAGE = 1_000


def _region_text(raw: Any) -> str:
    """A village-code cell as text; ten bare digits (a spreadsheet dropped the dots) get their dots back."""
    text = cells.text(raw)
    if text.isdigit() and len(text) == 10:
        text = f"{text[:2]}.{text[2:4]}.{text[4:6]}.{text[6:]}"
    return text


class _RowChecker:
    """Checks one data row against the domain rules; returns the staging tuple or the row's problems."""

    def __init__(self, header: HeaderMatch, caller: Caller, places: _Places, options: ImportOptions, today: dt.date):
        self.pos = header.positions
        self.names = {f: header.column_name(f) for f in self.pos}
        self.caller = caller
        self.places = places
        self.options = options
        self.today = today
        self.reveal = caller.sees_personal_data

    def _cell(self, cells_: tuple[Any, ...], field: str) -> Any:
        i = self.pos.get(field)
        return cells_[i] if i is not None and i < len(cells_) else None

    def _problem(self, row: int, field: str, value: Any, code: UserErrorCode, message: str) -> RowError:
        shown = cells.shown(value)
        if field in ("nik", "family_card_number") and not self.reveal and len(shown) == 16 and shown.isdigit():
            shown = mask_identifier(shown)
        return RowError(row, self.names.get(field, field), shown, code, message)

    def check(self, row: int, values: tuple[Any, ...]) -> tuple[Any, ...] | list[RowError]:
        problems: list[RowError] = []

        def need(field: str) -> Any:
            value = self._cell(values, field)
            if cells.is_blank(value):
                problems.append(self._problem(row, field, value, WriteCode.REQUIRED, f"{field} is empty"))
                return None
            return value

        # NIK
        nik = None
        raw_nik = need("nik")
        if raw_nik is not None:
            try:
                nik = parse_nik(cells.nik(raw_nik), today=self.today)
                if self.places.level(nik.district_code) is not RegionLevel.DISTRICT:
                    raise InvalidNIK(
                        f"the NIK was issued in district {nik.district_code}, which is not in the Kemendagri "
                        "list; check the first six digits"
                    )
            except CellProblem as exc:
                problems.append(self._problem(row, "nik", raw_nik, exc.code, str(exc)))
                nik = None
            except InvalidNIK as exc:
                problems.append(self._problem(row, "nik", raw_nik, WriteCode.INVALID_NIK, str(exc)))
                nik = None
        # name
        name = ""
        raw_name = need("full_name")
        if raw_name is not None:
            name = raw_name.strip() if isinstance(raw_name, str) else cells.text(raw_name)
            # Printable ASCII within the length needs none of clean_text's work (NFC, control characters).
            if not (name.isascii() and name.isprintable() and 0 < len(name) <= 200):
                name, name_problems = clean_text(name, "full_name", max_length=200)
                problems += [self._problem(row, "full_name", raw_name, p.code, p.message) for p in name_problems]
            if name.startswith(_FORMULA_START):
                problems.append(
                    self._problem(
                        row,
                        "full_name",
                        raw_name,
                        BeneficiaryCode.FORMULA_LIKE,
                        "a name cannot start with =, + or @ (a formula)",
                    )
                )
        # village
        placement: dict[str, str | None] = {}
        raw_region = need("region_code")
        if raw_region is not None:
            placement = self._village(row, raw_region, problems)
        # source and snapshot
        source = self._source(row, problems)
        snapshot = self._date(row, "snapshot_date", self.options.snapshot_date, problems)
        if snapshot is not None and snapshot > self.today:
            problems.append(
                self._problem(
                    row, "snapshot_date", snapshot, WriteCode.IN_FUTURE, f"snapshot date {snapshot} is in the future"
                )
            )
        # decile and flag
        decile = None
        raw_decile = need("decile")
        if raw_decile is not None:
            try:
                decile = cells.integer(raw_decile, "decile")
            except CellProblem as exc:
                problems.append(self._problem(row, "decile", raw_decile, exc.code, str(exc)))
            else:
                highest = SOURCE_MAX_DECILE[source] if source else 10
                if not MIN_DECILE <= decile <= highest:
                    label = source.value if source else "a registry"
                    problems.append(
                        self._problem(
                            row,
                            "decile",
                            raw_decile,
                            WriteCode.OUT_OF_RANGE,
                            f"{label} publishes deciles 1 to {highest}; {decile} is not one",
                        )
                    )
        extreme = None
        raw_flag = need("extreme_poor")
        if raw_flag is not None:
            try:
                extreme = cells.boolean(raw_flag, "extreme_poor")
            except CellProblem as exc:
                problems.append(self._problem(row, "extreme_poor", raw_flag, exc.code, str(exc)))
        # optional: birth date, sex, family card
        birth = self._date(row, "birth_date", None, problems, required=False)
        sex = self._sex(row, problems)
        if nik is not None:
            for message in check_consistency(nik, sex=sex, birth_date=birth):
                field = "sex" if message.startswith("the NIK encodes sex") else "birth_date"
                if not self.reveal:
                    message = "the NIK does not agree with the sex and birth date given; check them against the card"
                problems.append(
                    self._problem(row, field, self._cell(values, field), BeneficiaryCode.DISAGREES_WITH_NIK, message)
                )
        kk = self._family_card(row, problems)
        if problems or nik is None or source is None or snapshot is None or decile is None or extreme is None:
            return problems
        return (
            row,
            nik.value,
            kk,
            name,
            birth or nik.birth_date,
            (sex or nik.sex).value,
            placement["region_code"],
            placement["province_code"],
            placement["regency_code"],
            placement["district_code"],
            decile,
            extreme,
            source.value,
            snapshot,
        )

    def codes(self, values: tuple[Any, ...]) -> set[str]:
        """The region codes :meth:`check` asks `values`' row about (so they can be looked up first): the
        NIK's district, the village code as written and as parsed. The same steps as the checks, errors aside."""
        found: set[str] = set()
        raw_nik = self._cell(values, "nik")
        if not cells.is_blank(raw_nik):
            with contextlib.suppress(CellProblem, InvalidNIK):
                found.add(parse_nik(cells.nik(raw_nik), today=self.today).district_code)
        raw_region = self._cell(values, "region_code")
        if not cells.is_blank(raw_region):
            text = _region_text(raw_region)
            found.add(text)
            with contextlib.suppress(InvalidRegionCode):
                found.add(RegionCode.parse(text).code)
        return found

    def _village(self, row: int, raw: Any, problems: list[RowError]) -> dict[str, str | None]:
        text = _region_text(raw)
        if self.places.level(text) is RegionLevel.VILLAGE and self.caller.sees(text):  # the common case, unparsed
            return {"region_code": text, "province_code": text[:2], "regency_code": text[:5], "district_code": text[:8]}
        try:
            code = RegionCode.parse(text)
        except InvalidRegionCode as exc:
            problems.append(self._problem(row, "region_code", raw, RegionErrorCode.INVALID_REGION, str(exc)))
            return {}
        if not self.caller.sees(code.code):
            bound = self.caller.within.code if self.caller.within else ""
            problems.append(
                self._problem(
                    row,
                    "region_code",
                    raw,
                    RegionErrorCode.OUT_OF_REGION,
                    f"region {code.code} is outside the region you are bound to ({bound}); its rows are not yours "
                    "to import",
                )
            )
            return {}
        level = self.places.level(code.code)
        if level is not RegionLevel.VILLAGE:
            known = level is not None
            problems.append(
                self._problem(
                    row,
                    "region_code",
                    raw,
                    RegionErrorCode.NOT_A_VILLAGE if known else RegionErrorCode.UNKNOWN_REGION,
                    f"{code.code} is a {code.level.value.lower()}; give the village (desa/kelurahan) code"
                    if known
                    else f"region {code.code} is not in the Kemendagri list",
                )
            )
            return {}
        return {
            "region_code": code.code,
            "province_code": code.province,
            "regency_code": code.regency,
            "district_code": code.district,
        }

    def _source(self, row: int, problems: list[RowError]) -> BeneficiarySource | None:
        raw = self._cell(self._values, "source") if "source" in self.pos else None
        if cells.is_blank(raw):
            if self.options.source is not None:
                return self.options.source
            problems.append(
                self._problem(row, "source", raw, WriteCode.REQUIRED, "source is empty (P3KE, DTKS or DTSEN)")
            )
            return None
        source = _SOURCES.get(cells.text(raw).upper())
        if source is None:
            problems.append(
                self._problem(
                    row, "source", raw, BeneficiaryCode.INVALID_SOURCE, f"source {raw!r} is not P3KE, DTKS or DTSEN"
                )
            )
        return source

    def _date(
        self, row: int, field: str, default: dt.date | None, problems: list[RowError], *, required: bool = True
    ) -> dt.date | None:
        raw = self._cell(self._values, field)
        if cells.is_blank(raw):
            if default is None and required:
                problems.append(self._problem(row, field, raw, WriteCode.REQUIRED, f"{field} is empty"))
            return default
        try:
            value = cells.date(raw, field)
        except CellProblem as exc:
            problems.append(self._problem(row, field, raw, exc.code, str(exc)))
            return None
        if value.year < 1900:
            problems.append(self._problem(row, field, raw, WriteCode.OUT_OF_RANGE, f"{field} {value} is before 1900"))
            return None
        return value

    def _sex(self, row: int, problems: list[RowError]) -> Sex | None:
        raw = self._cell(self._values, "sex")
        if cells.is_blank(raw):
            return None
        sex = _SEX.get(cells.text(raw).lower())
        if sex is None:
            problems.append(self._problem(row, "sex", raw, ImportCode.INVALID_SEX, f"sex {raw!r} is not L/P (or M/F)"))
        return sex

    def _family_card(self, row: int, problems: list[RowError]) -> str | None:
        raw = self._cell(self._values, "family_card_number")
        if cells.is_blank(raw):
            return None
        try:
            value = cells.identifier(
                raw, "KK", 16, invalid=BeneficiaryCode.INVALID_KK, as_number=ImportCode.KK_STORED_AS_NUMBER
            )
        except CellProblem as exc:
            problems.append(self._problem(row, "family_card_number", raw, exc.code, str(exc)))
            return None
        if not (len(value) == 16 and value.isdigit() and value.isascii()):
            problems.append(
                self._problem(
                    row, "family_card_number", raw, BeneficiaryCode.INVALID_KK, "a family-card number has 16 digits"
                )
            )
            return None
        return value

    def __call__(self, row: int, values: tuple[Any, ...]) -> tuple[Any, ...] | list[RowError]:
        self._values = values
        return self.check(row, values)


# -- the database half ----------------------------------------------------------------------------------------
async def _create_stage(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda c: STAGE.drop(c, checkfirst=True))
    await conn.run_sync(lambda c: STAGE.create(c))


async def _drop_stage(conn: AsyncConnection) -> None:
    if conn.dialect.name != "postgresql":  # there it goes with the transaction (ON COMMIT DROP)
        await conn.run_sync(lambda c: STAGE.drop(c, checkfirst=True))


async def _stage_rows(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(STAGE.name, records=rows, columns=_STAGED)
        return
    placeholders = ", ".join("?" for _ in _STAGED)
    # Table and column names are this module's constants, never input.
    sql = f"INSERT INTO {STAGE.name} ({', '.join(_STAGED)}) VALUES ({placeholders})"  # noqa: S608
    await conn.exec_driver_sql(sql, rows)


def _key_match(pb: Table, s: Table) -> Any:
    return and_(pb.c.nik == s.c.nik, pb.c.source == s.c.source, pb.c.snapshot_date == s.c.snapshot_date)


def _differs(pb: Table, s: Table, compared: tuple[str, ...]) -> Any:
    return or_(*(pb.c[name].is_distinct_from(s.c[name]) for name in compared))


async def _duplicates(conn: AsyncConnection, sink: ErrorSink, reveal: bool, column: str) -> int:
    """Rows repeating an earlier row's NIK, source and snapshot: reported and taken out of the stage."""
    s = STAGE
    first = func.min(s.c.row_no).over(partition_by=(s.c.nik, s.c.source, s.c.snapshot_date)).label("first_row")
    ranked = select(s.c.row_no, s.c.nik, s.c.source, s.c.snapshot_date, first).subquery()
    repeats = select(ranked).where(ranked.c.row_no > ranked.c.first_row).order_by(ranked.c.row_no)
    count = 0
    result = await conn.stream(repeats)
    try:
        async for row_no, nik, source, snapshot, first_row in result:
            count += 1
            sink.add(
                RowError(
                    row_no,
                    column,
                    nik if reveal else mask_identifier(nik),
                    BeneficiaryCode.DUPLICATE_ROW,
                    f"row {first_row} already has this NIK for {source} {snapshot}; each person appears once per "
                    "source and snapshot",
                )
            )
    finally:
        await result.close()
    if count:
        await conn.execute(delete(s).where(s.c.row_no.in_(select(repeats.subquery().c.row_no))))
    return count


async def _outside_region(conn: AsyncConnection, caller: Caller, sink: ErrorSink, column_name: str) -> int:
    """Rows whose record for that snapshot exists in a region the importer is not bound to: refused."""
    if caller.within is None:
        return 0
    pb, s = _PB, STAGE
    elsewhere = (
        select(s.c.row_no, s.c.nik)
        .join(pb, pb.c.id == s.c.existing_id)
        .where(not_(placed_within(PovertyBeneficiary, caller.within)))
        .order_by(s.c.row_no)
    )
    rows = (await conn.execute(elsewhere)).all()
    for row_no, nik in rows:
        sink.add(
            RowError(
                row_no,
                column_name,
                nik if caller.sees_personal_data else mask_identifier(nik),
                BeneficiaryCode.NOT_YOURS,
                "this person's record for this source and snapshot belongs to a region outside yours; "
                "it cannot be changed from here",
            )
        )
    if rows:
        await conn.execute(delete(s).where(s.c.row_no.in_([r[0] for r in rows])))
    return len(rows)


async def _classify(conn: AsyncConnection, compared: tuple[str, ...]) -> tuple[int, int, int]:
    """(new, changed, unchanged) staged rows."""
    pb, s = _PB, STAGE
    await conn.execute(update(s).values(existing_id=pb.c.id).where(_key_match(pb, s)))
    total = (await conn.execute(select(func.count()).select_from(s))).scalar_one()
    new = (await conn.execute(select(func.count()).select_from(s).where(s.c.existing_id.is_(None)))).scalar_one()
    changed = (
        await conn.execute(
            select(func.count()).select_from(s.join(pb, pb.c.id == s.c.existing_id)).where(_differs(pb, s, compared))
        )
    ).scalar_one()
    return int(new), int(changed), int(total - new - changed)


async def _would_link(conn: AsyncConnection) -> int:
    pb, s, p = _PB, STAGE, _P
    unlinked = or_(
        s.c.existing_id.is_(None),
        exists().where(pb.c.id == s.c.existing_id, pb.c.participant_id.is_(None)),
    )
    stmt = select(func.count()).select_from(s).where(unlinked, exists().where(p.c.nik == s.c.nik))
    return int((await conn.execute(stmt)).scalar_one())


async def _write(conn: AsyncConnection, compared: tuple[str, ...]) -> tuple[int, int, int]:
    """Update the changed records, insert the new ones, link by NIK: (inserted, updated, linked)."""
    pb, s, p = _PB, STAGE, _P
    changes = {name: s.c[name] for name in (*compared, *_PLACEMENT)}
    updated = await conn.execute(
        update(pb)
        .values(**changes, version=pb.c.version + 1)
        .where(pb.c.id == s.c.existing_id, _differs(pb, s, compared))
    )
    columns = [name for name in _STAGED if name != "row_no"]
    inserted = await conn.execute(
        insert(pb).from_select(
            [*columns, "version"],
            select(*(s.c[name] for name in columns), literal(1)).where(s.c.existing_id.is_(None)).order_by(s.c.nik),
        )
    )
    holder = select(p.c.id).where(p.c.nik == pb.c.nik).scalar_subquery()
    linked = await conn.execute(
        update(pb)
        .values(participant_id=holder, version=pb.c.version + 1)
        .where(
            pb.c.participant_id.is_(None),
            pb.c.nik.in_(select(s.c.nik)),
            exists().where(p.c.nik == pb.c.nik),
        )
    )
    return inserted.rowcount, updated.rowcount, linked.rowcount


_Chunk = tuple[list[tuple[int, tuple[Any, ...]]], set[str]]
"""Up to CHUNK numbered rows as read, and the region codes they name."""


def _chunks(
    rows: Iterator[tuple[int, tuple[Any, ...]]], check: _RowChecker, counts: ImportCounts, limit: int | None
) -> Iterator[_Chunk]:
    chunk: list[tuple[int, tuple[Any, ...]]] = []
    codes: set[str] = set()
    for number, values in rows:
        counts.read += 1
        if limit is not None and counts.read > limit:
            raise FileRefused(
                ImportCode.TOO_MANY_ROWS,
                f"the file has more than {limit:,} rows; split it or use the command line",
                number,
            )
        chunk.append((number, values))
        codes |= check.codes(values)
        if len(chunk) >= CHUNK:
            yield chunk, codes
            chunk, codes = [], set()
    if chunk:
        yield chunk, codes


def _check_chunk(
    chunk: list[tuple[int, tuple[Any, ...]]], check: _RowChecker, sink: ErrorSink, counts: ImportCounts
) -> list[tuple[Any, ...]]:
    """The staging tuples of `chunk`'s good rows; the others' problems go to `sink`."""
    batch: list[tuple[Any, ...]] = []
    for number, values in chunk:
        outcome = check(number, values)
        if isinstance(outcome, list):
            counts.rejected += 1
            sink.extend(outcome)
        else:
            batch.append(outcome)
    return batch


_T = TypeVar("_T")


async def _prefetched(items: Iterator[_T]) -> AsyncIterator[_T]:
    """`items`, the next one read in a worker thread while this one is used."""
    loop = asyncio.get_running_loop()
    pending = loop.run_in_executor(None, next, items, None)
    try:
        while (item := await pending) is not None:
            pending = loop.run_in_executor(None, next, items, None)
            yield item
    finally:
        if not pending.done():
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # retrieved: after a failed write, the reader's own error is secondary


async def _checked(
    chunks: AsyncIterator[_Chunk],
    session: AsyncSession,
    places: _Places,
    check: _RowChecker,
    sink: ErrorSink,
    counts: ImportCounts,
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Each chunk's good rows, checked in a worker thread (while the database stages the chunk before) once
    the regions it names are looked up. A look-up waits for the previous chunk's check: one thread at a time
    uses `places`."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[list[tuple[Any, ...]]] | None = None
    try:
        async for rows, codes in chunks:
            ready = await pending if pending is not None else []
            await places.look_up(session, codes)
            pending = loop.run_in_executor(None, _check_chunk, rows, check, sink, counts)
            if ready:
                yield ready
        if pending is not None:
            ready, pending = await pending, None
            if ready:
                yield ready
    finally:
        if pending is not None and not pending.done():
            await asyncio.wait([pending])


@contextlib.asynccontextmanager
async def _large_cache(conn: AsyncConnection) -> AsyncIterator[None]:
    """On SQLite, a page cache of SQLITE_CACHE_KIB for this import (the default 2 MiB makes every index insert
    of a large import a read from disk), put back afterwards: the connection may go back to a pool."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = int((await conn.exec_driver_sql("PRAGMA cache_size")).scalar_one())
    await conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        await conn.exec_driver_sql(f"PRAGMA cache_size={before}")


async def import_beneficiaries(
    session: AsyncSession,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    options: ImportOptions | None = None,
    *,
    report: TextIO | None = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Import the beneficiary list in `stream` into the caller's transaction (see the module docstring).

    Never raises for bad input: a refused file or bad rows come back in the result (and in `report`, a text
    stream the full problem list is written to as CSV). The caller commits; nothing is written to the tables
    unless ``result.written``.
    """
    async with _large_cache(await session.connection()):
        return await _import(session, caller, stream, filename, options, report=report, progress=progress, today=today)


async def _import(
    session: AsyncSession,
    caller: Caller,
    stream: IO[bytes],
    filename: str,
    options: ImportOptions | None = None,
    *,
    report: TextIO | None = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    options = options or ImportOptions()
    today = today or dt.date.today()
    sink = ErrorSink(report)
    counts = ImportCounts()
    notes: list[str] = []
    sha256 = ""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = seconds.get(phase, 0.0) + now - clock
        clock = now

    conn = await session.connection()
    try:
        table = open_table(stream, filename, max_bytes=options.max_bytes)
        sha256, notes = table.sha256, table.notes
        optional = frozenset(
            f for f, given in (("source", options.source), ("snapshot_date", options.snapshot_date)) if given
        )
        header, header_problems = match_header(table.header, COLUMNS, optional=optional)
        if header.ignored:
            notes.append("columns not read: " + ", ".join(repr(h) for h in header.ignored))
        if header_problems:
            sink.extend(header_problems)
            return result_of(counts, sink, options, sha256, notes, written=False)
        places = _Places()
        check = _RowChecker(header, caller, places, options, today)
        await _create_stage(conn)
        size = table.size if table.kind == "csv" else None
        chunks = _prefetched(_chunks(table.rows, check, counts, options.max_rows))
        async for batch in _checked(chunks, session, places, check, sink, counts):
            await _stage_rows(conn, batch)
            if progress is not None:
                progress(counts.read, table.position(), size)
    except FileRefused as exc:
        sink.add(RowError(exc.row, None, None, exc.code, str(exc)))
        return result_of(counts, sink, options, sha256, notes, written=False)
    if counts.read == 0:
        sink.add(RowError(0, None, None, ImportCode.NO_ROWS, f"{filename!r} has a header but no data rows"))
        return result_of(counts, sink, options, sha256, notes, written=False)
    lap("read_check_stage")
    # A column the file does not have leaves the stored value alone (birth date and sex come from the NIK).
    compared = tuple(c for c in _COMPARED if c != "family_card_number" or c in header.positions)
    nik_column = header.column_name("nik")
    counts.rejected += await _duplicates(conn, sink, caller.sees_personal_data, nik_column)
    new, changed, unchanged = await _classify(conn, compared)
    rejected_elsewhere = await _outside_region(conn, caller, sink, nik_column)
    if rejected_elsewhere:
        counts.rejected += rejected_elsewhere
        new, changed, unchanged = await _classify(conn, compared)
    counts.imported, counts.updated, counts.unchanged = new, changed, unchanged
    lap("set_checks")
    if options.dry_run or (counts.rejected and not options.skip_invalid):
        counts.linked = await _would_link(conn)
        await _drop_stage(conn)
        return result_of(counts, sink, options, sha256, notes, written=False)
    counts.imported, counts.updated, counts.linked = await _write(conn, compared)
    await _drop_stage(conn)
    lap("write")
    if counts.imported or counts.updated or counts.linked:
        await audit.record(
            session,
            actor=caller.actor,
            action="beneficiary.import",
            entity_type="BeneficiaryImport",
            entity_id=sha256[:16],
            changes={
                "file": {"before": None, "after": filename},
                "sha256": {"before": None, "after": sha256},
                "mode": {"before": None, "after": options.mode},
                "counts": {"before": None, "after": counts.as_dict()},
            },
            meta=caller.meta,
        )
    result = result_of(counts, sink, options, sha256, notes, written=True)
    result.seconds = seconds
    return result
