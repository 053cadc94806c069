"""Importing a beneficiary list: what goes in, what is refused, and that a refused import writes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import select

from domain.audit.models import AuditEvent
from domain.error_catalogue import user_error_code
from domain.nik import Sex
from domain.participants.models import Participant
from tests.imports.conftest import HEADER, ImportDB, csv_text, importer, person


async def test_a_clean_list_goes_in_once_and_a_second_import_changes_nothing(imports_db: ImportDB) -> None:
    rows = [person(), person(nama="Lalu Ahmad", sex_=Sex.M, jenis_kelamin="L"), person(village="52.03.01.2002")]
    first = await imports_db.run(csv_text(rows))
    assert first.result.written
    assert first.result.errors == []
    c = first.result.counts
    assert (c.read, c.imported, c.updated, c.unchanged, c.rejected) == (3, 3, 0, 0, 0)
    assert first.beneficiaries_after == first.beneficiaries_before + 3
    assert first.audits_after == first.audits_before + 1  # one event per import, not per row
    stored = (await imports_db.rows(rows[1]["nik"]))[0]
    assert (stored.full_name, stored.sex.value, stored.decile, stored.extreme_poor) == ("Lalu Ahmad", "M", 1, True)
    assert (stored.region_code, stored.regency_code, stored.source.value) == ("52.03.01.2001", "52.03", "P3KE")

    again = await imports_db.run(csv_text(rows))
    c = again.result.counts
    assert (c.imported, c.updated, c.unchanged, c.rejected) == (0, 0, 3, 0)
    assert again.nothing_written  # no rows, and no audit event for an import that changed nothing


async def test_the_audit_event_names_the_file_its_hash_counts_and_mode(imports_db: ImportDB) -> None:
    done = await imports_db.run(csv_text([person(), person()]), filename="p3ke-lotim-2026q3.csv")
    engine = imports_db.engine()
    try:
        async with engine.connect() as conn:
            event = (await conn.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))).one()
    finally:
        await engine.dispose()
    assert event.action == "beneficiary.import"
    assert event.changes["file"]["after"] == "p3ke-lotim-2026q3.csv"
    assert event.changes["sha256"]["after"] == done.result.sha256
    assert len(done.result.sha256) == 64
    assert event.changes["mode"]["after"] == "all-or-nothing"
    assert event.changes["counts"]["after"]["imported"] == 2


async def test_a_corrected_row_updates_and_a_newer_snapshot_keeps_history(imports_db: ImportDB) -> None:
    row = person(desil="2", miskin_ekstrem="tidak")
    assert (await imports_db.run(csv_text([row]))).result.counts.imported == 1
    corrected = await imports_db.run(csv_text([{**row, "desil": "1", "miskin_ekstrem": "ya"}]))
    assert (corrected.result.counts.updated, corrected.result.counts.imported) == (1, 0)
    [stored] = await imports_db.rows(row["nik"])
    assert (stored.decile, stored.extreme_poor, stored.version) == (1, True, 2)

    newer = await imports_db.run(
        csv_text([{**row, "desil": "3", "miskin_ekstrem": "tidak", "tanggal_data": "2026-12-01"}])
    )
    assert newer.result.counts.imported == 1
    history = await imports_db.rows(row["nik"])
    assert [(b.snapshot_date, b.decile, b.extreme_poor) for b in history] == [
        (dt.date(2026, 9, 30), 1, True),
        (dt.date(2026, 12, 1), 3, False),
    ]


async def test_beneficiaries_are_linked_to_participants_by_nik(imports_db: ImportDB) -> None:
    engine = imports_db.engine()
    try:
        async with engine.connect() as conn:
            holder = (await conn.execute(select(Participant).where(Participant.regency_code == "52.03").limit(1))).one()
    finally:
        await engine.dispose()
    row = person(
        nik=holder.nik,
        tanggal_lahir=holder.birth_date.isoformat(),
        jenis_kelamin="L" if holder.sex is Sex.M else "P",
        sumber="DTSEN",
        desil="6",
        tanggal_data="2026-06-30",
    )
    done = await imports_db.run(csv_text([row]))
    assert done.result.errors == []
    assert done.result.counts.linked >= 1
    linked = [b for b in await imports_db.rows(holder.nik) if b.snapshot_date == dt.date(2026, 6, 30)]
    assert linked[0].participant_id == holder.id


async def test_header_names_in_english_any_case_semicolons_bom_and_windows_line_endings(imports_db: ImportDB) -> None:
    header = "NIK,Full_Name,Birth Date,SEX,Family Card Number,Region Code,DECILE,Extreme Poor,Source,Snapshot Date"
    rows = [person(), person()]
    text = "\ufeff" + csv_text(rows, header=header, sep=";", eol="\r\n")
    done = await imports_db.run(text.encode("utf-8"))
    assert done.result.errors == [], done.result.errors
    assert done.result.counts.imported == 2
    assert any("';'" in n for n in done.result.notes)
    [stored] = await imports_db.rows(rows[0]["nik"])
    assert stored.full_name == "Baiq Rahmawati"  # no BOM or \r left in any value


async def test_latin_1_file_is_read_and_said_so(imports_db: ImportDB) -> None:
    row = person(nama="Jos\u00e9 Ram\u00f3n Siahaan")
    done = await imports_db.run(csv_text([row]).encode("latin-1"))
    assert done.result.errors == []
    assert any("Windows-1252" in n for n in done.result.notes)
    [stored] = await imports_db.rows(row["nik"])
    assert stored.full_name == "Jos\u00e9 Ram\u00f3n Siahaan"


async def test_xlsx_with_date_cells_and_numeric_deciles(imports_db: ImportDB) -> None:
    row = person(birth=dt.date(1984, 6, 12))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(
        [
            row["nik"],
            row["nama"],
            dt.datetime(1984, 6, 12),
            "P",
            row["no_kk"],
            row["kode_wilayah"],
            1,
            "Ya",
            "P3KE",
            dt.date(2026, 9, 30),
        ]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    done = await imports_db.run(buffer.getvalue(), filename="list.xlsx")
    assert done.result.errors == [], done.result.errors
    assert done.result.counts.imported == 1


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    for r in rows:
        sheet.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_xlsx_nik_stored_as_a_number_and_a_formula_are_refused(imports_db: ImportDB) -> None:
    good, numeric, formula = person(), person(), person()

    def cells(r: dict[str, Any], **o: Any) -> list[Any]:
        return [o.get(k, r[k]) for k in HEADER.split(",")]

    data = _xlsx(
        [
            cells(good),
            cells(numeric, nik=float(numeric["nik"])),
            cells(formula, nama='=HYPERLINK("http://evil.example","klik")'),
        ]
    )
    done = await imports_db.run(data, filename="list.xlsx")
    assert done.nothing_written
    by_row = {(e.row, e.code) for e in done.result.errors}
    assert (3, "NIK_STORED_AS_NUMBER") in by_row
    # A formula is never evaluated: the cell is read as the value the spreadsheet saved (none here).
    assert (4, "REQUIRED") in by_row
    assert done.result.counts.rejected == 2


async def test_nik_mangled_by_a_spreadsheet_is_reported_never_padded(imports_db: ImportDB) -> None:
    sci, short = person(), person()
    sci["nik"] = "5.20301E+15"
    short["nik"] = short["nik"][1:]
    done = await imports_db.run(csv_text([sci, short]))
    assert done.nothing_written
    assert [(e.row, e.code) for e in done.result.errors] == [(2, "NIK_STORED_AS_NUMBER"), (3, "INVALID_NIK")]
    assert "15 digits" in done.result.errors[1].message
    assert "never padded" in done.result.errors[1].message


async def test_wrong_types_and_wrong_niks_are_reported_by_row_and_column(imports_db: ImportDB) -> None:
    rows = [
        person(desil="tiga"),
        person(tanggal_data="kemarin"),
        person(miskin_ekstrem="mungkin"),
        person(desil="7"),  # P3KE publishes 1-4
        person(nik="5203019999990001"),  # day 99
        person(nik="9999011206840001"),  # no such district
        person(jenis_kelamin="L"),  # the NIK says F
        person(sumber="SIKS"),
        person(nama=""),
        person(tanggal_data="2999-01-01"),
    ]
    done = await imports_db.run(csv_text(rows))
    assert done.nothing_written
    got = [(e.row, e.column, e.code) for e in done.result.errors]
    assert got == [
        (2, "desil", "INVALID_NUMBER"),
        (3, "tanggal_data", "INVALID_DATE"),
        (4, "miskin_ekstrem", "INVALID_BOOLEAN"),
        (5, "desil", "OUT_OF_RANGE"),
        (6, "nik", "INVALID_NIK"),
        (7, "nik", "INVALID_NIK"),
        (8, "jenis_kelamin", "DISAGREES_WITH_NIK"),
        (9, "sumber", "INVALID_SOURCE"),
        (10, "nama", "REQUIRED"),
        (11, "tanggal_data", "IN_FUTURE"),
    ]
    assert done.result.counts.rejected == 10
    # The report CSV has the same rows, with a header.
    lines = done.report.splitlines()
    assert lines[0] == "row,column,value,code,message"
    assert len(lines) == 11


async def test_duplicate_rows_refused_all_or_nothing_and_skipped_with_skip_invalid(imports_db: ImportDB) -> None:
    a, b = person(), person()
    rows = [a, b, a, {**a, "nama": "Baiq R."}]
    refused = await imports_db.run(csv_text(rows))
    assert refused.nothing_written
    assert [(e.row, e.code) for e in refused.result.errors] == [(4, "DUPLICATE_ROW"), (5, "DUPLICATE_ROW")]
    assert "row 2" in refused.result.errors[0].message

    skipped = await imports_db.run(csv_text(rows), skip_invalid=True)
    assert skipped.result.written
    assert (skipped.result.counts.imported, skipped.result.counts.rejected) == (2, 2)
    [stored] = await imports_db.rows(a["nik"])
    assert stored.full_name == a["nama"]  # the first occurrence wins


async def test_a_region_outside_the_importer_is_refused(imports_db: ImportDB) -> None:
    inside, outside = person(), person(district="52.71.01", village="52.71.01.1004")
    done = await imports_db.run(csv_text([inside, outside]), caller=importer("52.03"))
    assert done.nothing_written
    [error] = done.result.errors
    assert (error.row, error.column, error.code) == (3, "kode_wilayah", "OUT_OF_REGION")
    # With --skip-invalid the row in the importer's region goes in and the other still does not.
    done = await imports_db.run(csv_text([inside, outside]), caller=importer("52.03"), skip_invalid=True)
    assert done.result.counts.imported == 1
    assert await imports_db.rows(outside["nik"]) == []


async def test_a_record_held_by_another_region_is_not_changed_from_here(imports_db: ImportDB) -> None:
    row = person(district="52.71.01", village="52.71.01.1004")
    national = await imports_db.run(csv_text([row]), caller=importer(None))  # puts it in 52.71
    assert national.result.written
    assert national.result.counts.imported == 1
    moved = {**row, "kode_wilayah": "52.03.01.2001", "desil": "2"}
    done = await imports_db.run(csv_text([moved]), caller=importer("52.03"))
    assert done.nothing_written
    assert [e.code for e in done.result.errors] == ["NOT_YOURS"]
    [stored] = await imports_db.rows(row["nik"])
    assert (stored.region_code, stored.decile) == ("52.71.01.1004", 1)


async def test_dry_run_counts_but_writes_nothing(imports_db: ImportDB) -> None:
    existing = person()
    assert (await imports_db.run(csv_text([existing]))).result.counts.imported == 1
    rows = [{**existing, "desil": "2"}, person(), person(desil="9")]
    done = await imports_db.run(csv_text(rows), dry_run=True, skip_invalid=True)
    assert done.nothing_written
    assert not done.result.written
    assert done.result.mode == "dry-run"
    c = done.result.counts
    assert (c.imported, c.updated, c.unchanged, c.rejected) == (1, 1, 0, 1)
    [stored] = await imports_db.rows(existing["nik"])
    assert stored.decile == 1


async def test_missing_column_and_duplicate_column(imports_db: ImportDB) -> None:
    no_nik = csv_text([person()]).replace("nik,", "nomor,", 1)
    done = await imports_db.run(no_nik)
    assert done.nothing_written
    assert [(e.row, e.code) for e in done.result.errors] == [(1, "MISSING_COLUMN")]
    assert "nik" in done.result.errors[0].message
    twice = csv_text([person()]).replace("nama,", "full_name,", 1).replace(HEADER.split(",")[-1], "nama", 1)
    done = await imports_db.run(twice)
    assert "DUPLICATE_COLUMN" in done.codes
    assert done.nothing_written


async def test_empty_and_header_only_files(imports_db: ImportDB) -> None:
    empty = await imports_db.run(b"")
    assert empty.codes == ["EMPTY_FILE"]
    assert empty.nothing_written
    blank = await imports_db.run(b"\r\n\r\n")
    assert blank.codes == ["EMPTY_FILE"]
    header_only = await imports_db.run(HEADER + "\n")
    assert header_only.codes == ["NO_ROWS"]
    assert header_only.nothing_written


async def test_a_file_that_is_not_what_its_name_says(imports_db: ImportDB) -> None:
    csv_named_xlsx = await imports_db.run(csv_text([person()]), filename="list.xlsx")
    assert csv_named_xlsx.codes == ["WRONG_FILE_TYPE"]
    xlsx_named_csv = await imports_db.run(_xlsx([]), filename="list.csv")
    assert xlsx_named_csv.codes == ["WRONG_FILE_TYPE"]
    zip_not_xlsx = await imports_db.run(b"PK\x03\x04" + b"\x00" * 200, filename="list.xlsx")
    assert zip_not_xlsx.codes == ["WRONG_FILE_TYPE"]
    binary = await imports_db.run(b"\x89PNG\r\n\x1a\n\x00\x00\x00", filename="list.csv")
    assert binary.codes == ["WRONG_FILE_TYPE"]
    old_excel = await imports_db.run(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, filename="list.xls")
    assert old_excel.codes == ["UNSUPPORTED_FILE_TYPE"]
    pdf = await imports_db.run(b"%PDF-1.7", filename="list.pdf")
    assert pdf.codes == ["UNSUPPORTED_FILE_TYPE"]
    for outcome in (csv_named_xlsx, xlsx_named_csv, zip_not_xlsx, binary, old_excel, pdf):
        assert outcome.nothing_written


async def test_size_limit_and_row_limit_refuse_before_writing(imports_db: ImportDB) -> None:
    text = csv_text([person() for _ in range(5)])
    too_big = await imports_db.run(text, max_bytes=len(text.encode()) - 1)
    assert too_big.codes == ["FILE_TOO_LARGE"]
    assert too_big.nothing_written
    too_many = await imports_db.run(text, max_rows=3)
    assert too_many.codes == ["TOO_MANY_ROWS"]
    assert too_many.nothing_written


async def test_a_line_longer_than_any_row_is_refused_not_loaded(imports_db: ImportDB) -> None:
    huge = HEADER + "\n" + "5" * (2 << 20) + "\n"
    done = await imports_db.run(huge)
    assert done.codes == ["LINE_TOO_LONG"]
    assert done.nothing_written


async def test_invalid_utf8_after_a_utf8_start_is_refused(imports_db: ImportDB) -> None:
    good = csv_text([person() for _ in range(2000)]).encode()  # more than the sample read to guess the encoding
    broken = good + csv_text([person(nama="Ren\u00e9")]).split("\n", 1)[1].encode("latin-1")
    done = await imports_db.run(broken)
    assert done.codes == ["UNSUPPORTED_ENCODING"]
    assert done.nothing_written


async def test_without_pii_read_the_report_masks_niks(imports_db: ImportDB) -> None:
    row = person(jenis_kelamin="L")
    done = await imports_db.run(csv_text([row]), caller=importer("52.03", pii=False))
    [error] = done.result.errors
    assert error.code == "DISAGREES_WITH_NIK"
    assert "encodes" not in error.message  # the NIK's sex and birth date are not revealed
    assert row["nik"] not in done.report


async def test_report_values_are_formula_safe(imports_db: ImportDB) -> None:
    done = await imports_db.run(csv_text([person(nama="=1+2", desil="@SUM(A1)")]))
    assert "'=1+2" in done.report
    assert "'@SUM(A1)" in done.report
    assert ",=1+2" not in done.report


DOCS = Path(__file__).resolve().parents[2] / "docs" / "import"
SAMPLES = {
    name: (DOCS / name).read_bytes() for name in ("beneficiaries.csv", "beneficiaries.xlsx", "beneficiaries-messy.csv")
}


async def test_the_documented_samples(imports_db: ImportDB) -> None:
    for name in ("beneficiaries.csv", "beneficiaries.xlsx"):
        done = await imports_db.run(SAMPLES[name], filename=name, dry_run=True)
        assert done.result.errors == [], (name, done.result.errors)
        assert done.result.counts.read == 5
    messy = await imports_db.run(SAMPLES["beneficiaries-messy.csv"], dry_run=True)
    assert {e.code for e in messy.result.errors} >= {
        "NIK_STORED_AS_NUMBER",
        "INVALID_NIK",
        "DISAGREES_WITH_NIK",
        "FORMULA_LIKE",
        "OUT_OF_RANGE",
        "OUT_OF_REGION",
        "NOT_A_VILLAGE",
        "INVALID_DATE",
        "INVALID_SOURCE",
        "INVALID_BOOLEAN",
        "DUPLICATE_ROW",
    }
    assert messy.result.counts.rejected == 8


async def test_the_report_csv_carries_catalogue_codes_as_the_plain_strings(imports_db: ImportDB) -> None:
    """Read back as text, every code of the report is a catalogue code, the same string the row error carries."""
    messy = await imports_db.run(SAMPLES["beneficiaries-messy.csv"], dry_run=True)
    written = [row["code"] for row in csv.DictReader(io.StringIO(messy.report))]
    assert written == [e.code.value for e in messy.result.errors]
    assert [user_error_code(code) for code in written] == [e.code for e in messy.result.errors]
