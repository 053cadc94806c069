"""Reading files: streamed (memory does not grow with the file), and the sniffing of type, encoding, delimiter."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import openpyxl
import pytest

from domain.imports.headers import normalise
from domain.imports.reading import FileRefused, open_table

ROW = "5203015403867001,Baiq Nurul Hidayati,1986-03-14,P,5203011000007919,52.03.01.2001,1,ya,P3KE,2026-09-30\n"


def test_a_large_csv_is_streamed_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("nik,nama,tgl,jk,kk,kode,desil,ekstrem,sumber,tanggal\n")
        for _ in range(120_000):  # about 12.5 MB
            f.write(ROW)
    assert path.stat().st_size > 12_000_000
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            table = open_table(stream, path.name)
            rows = sum(1 for _ in table.rows)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rows == 120_000
    assert peak < 4_000_000  # a few buffers, never the file (12.5 MB)


def test_a_large_xlsx_is_streamed_not_loaded(tmp_path: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["nik", "nama"])
    for i in range(20_000):
        sheet.append([f"52030154038{i:05d}", "Baiq Nurul Hidayati"])
    path = tmp_path / "big.xlsx"
    book.save(path)
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            table = open_table(stream, path.name)
            rows = sum(1 for _ in table.rows)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rows == 20_000
    assert peak < 8_000_000  # openpyxl's read-only mode parses the sheet as a stream


@pytest.mark.parametrize(
    ("content", "delimiter_note"),
    [
        (b"nik;nama\r\n1;2\r\n", "';'"),
        (b"nik\tnama\n1\t2\n", "tab"),
        (b"nik,nama\n1,2\n", None),
        (b'"nik;x",nama\n1,2\n', None),  # a delimiter inside quotes does not count
    ],
)
def test_the_delimiter_comes_from_the_header_line(content: bytes, delimiter_note: str | None) -> None:
    table = open_table(io.BytesIO(content), "list.csv")
    assert [c for _, c in table.rows] == [("1", "2")]
    notes = " ".join(table.notes)
    assert (delimiter_note in notes) if delimiter_note else "separated" not in notes


def test_utf16_is_refused_with_a_hint() -> None:
    with pytest.raises(FileRefused) as refused:
        open_table(io.BytesIO("nik,nama\n".encode("utf-16")), "list.csv")
    assert refused.value.code == "UNSUPPORTED_ENCODING"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (" Kode Wilayah ", "kode_wilayah"),
        ("KODE-WILAYAH", "kode_wilayah"),
        ("\ufeffnik", "nik"),
        ("Tgl. Lahir", "tgl_lahir"),
    ],
)
def test_header_names_are_normalised(header: str, expected: str) -> None:
    assert normalise(header) == expected
