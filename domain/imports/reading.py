"""Opening a registry file as a stream of rows, whatever shape the office's spreadsheet gave it.

What is handled (and why each is refused or accepted):

* **The file's real type**, from its first bytes, not its name: an XLSX is a zip (``PK``); a CSV is text
  without NUL bytes. A name that says one and content that is the other is refused (``WRONG_FILE_TYPE``):
  the office exported the wrong thing. Old binary ``.xls`` files are refused with a hint to save as XLSX.
* **CSV text**: a UTF-8 byte-order mark is dropped; UTF-8 is tried first and Windows-1252 (Latin-1) is the
  fallback, with a note in the report; Windows line endings are fine; the delimiter is taken from the header
  line (``;`` is what Excel writes with Indonesian regional settings, ``,`` elsewhere, tab for ``.txt``).
* **XLSX**: openpyxl in read-only streaming mode with cached values (``data_only``): a formula is never
  evaluated here, its last value as the spreadsheet saved it is read (none when it was never calculated).
* **Size**: rows are read one at a time, never the whole file; a single line longer than
  :data:`MAX_LINE_CHARS` (a file that is not a table, or one huge cell) is refused instead of being loaded.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from domain.codes import UserErrorCode
from domain.imports.codes import ImportCode

#: The longest CSV line accepted (characters); a longer one is not a registry row.
MAX_LINE_CHARS = 1 << 20
_SAMPLE_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t", "|")
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (BIFF in an OLE container)
_ZIP_MAGIC = b"PK\x03\x04"


class FileRefused(Exception):
    """The file as a whole cannot be imported; nothing of it is written. The message says how to fix it."""

    def __init__(self, code: UserErrorCode, message: str, row: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.row = row


@dataclass
class Table:
    """A file opened for reading: its header cells and an iterator of (row number, cells) after the header."""

    kind: str
    header: list[Any]
    rows: Iterator[tuple[int, tuple[Any, ...]]]
    size: int
    sha256: str
    notes: list[str] = field(default_factory=list)
    #: Bytes of the file consumed so far (None when the format does not say, as for XLSX).
    position: Callable[[], int | None] = lambda: None


def _digest_and_size(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 else ""


def open_table(stream: IO[bytes], filename: str, *, max_bytes: int | None = None) -> Table:
    """Open `stream` (seekable bytes, named `filename`) as a table; raises :class:`FileRefused`."""
    suffix = _suffix(filename)
    if suffix not in _TEXT_SUFFIXES + _XLSX_SUFFIXES + (".xls",):
        raise FileRefused(
            ImportCode.UNSUPPORTED_FILE_TYPE,
            f"{filename!r} is not a CSV or XLSX file; save the list as .csv (UTF-8) or .xlsx",
        )
    sha256, size = _digest_and_size(stream)
    if max_bytes is not None and size > max_bytes:
        raise FileRefused(ImportCode.FILE_TOO_LARGE, f"the file has {size:,} bytes; at most {max_bytes:,} are accepted")
    head = stream.read(_SAMPLE_BYTES)
    stream.seek(0)
    if not head:
        raise FileRefused(ImportCode.EMPTY_FILE, f"{filename!r} is empty; export the list again with its header row")
    if head.startswith(_OLE_MAGIC):
        raise FileRefused(
            ImportCode.UNSUPPORTED_FILE_TYPE,
            f"{filename!r} is an old Excel 97-2003 workbook (.xls); open it and save it as .xlsx or .csv (UTF-8)",
        )
    if head.startswith(_ZIP_MAGIC):
        if suffix not in _XLSX_SUFFIXES:
            raise FileRefused(
                ImportCode.WRONG_FILE_TYPE,
                f"{filename!r} is named as a text file but is a zip archive (an Excel workbook?); "
                "name it .xlsx or export it as CSV",
            )
        return _open_xlsx(stream, filename, sha256, size)
    if suffix in _XLSX_SUFFIXES or suffix == ".xls":
        raise FileRefused(
            ImportCode.WRONG_FILE_TYPE,
            f"{filename!r} is named as an Excel workbook but is not one (no XLSX content); "
            "if it is a CSV export, name it .csv",
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(ImportCode.UNSUPPORTED_ENCODING, "the file is UTF-16 text; save it as CSV UTF-8")
    if b"\x00" in head:
        raise FileRefused(
            ImportCode.WRONG_FILE_TYPE,
            f"{filename!r} is not a text file (it contains NUL bytes); export the list as CSV (UTF-8) or XLSX",
        )
    return _open_csv(stream, filename, head, sha256, size)


# -- CSV ------------------------------------------------------------------------------------------------------
def _encoding(head: bytes) -> tuple[str, list[str]]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", []
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(ImportCode.UNSUPPORTED_ENCODING, "the file is UTF-16 text; save it as CSV UTF-8")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252", [
            "the file is not UTF-8; it was read as Windows-1252 (Latin-1). Save it as 'CSV UTF-8' to be sure "
            "names with accents come through as written"
        ]
    return "utf-8", []


def _delimiter(first_line: str) -> str:
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _bounded_lines(text: io.TextIOWrapper) -> Iterator[str]:
    """The file's lines, refusing one longer than MAX_LINE_CHARS instead of reading it into memory whole."""
    line_no = 0
    while True:
        try:
            line = text.readline(MAX_LINE_CHARS + 1)
        except UnicodeDecodeError as exc:
            raise FileRefused(
                ImportCode.UNSUPPORTED_ENCODING,
                f"the file stops being UTF-8 near line {line_no + 1} (byte 0x{exc.object[exc.start]:02x}); "
                "save the whole file as 'CSV UTF-8'",
                line_no + 1,
            ) from None
        if not line:
            return
        line_no += 1
        if len(line) > MAX_LINE_CHARS:
            raise FileRefused(
                ImportCode.LINE_TOO_LONG,
                f"line {line_no} is longer than {MAX_LINE_CHARS:,} characters; this is not a registry list "
                "(check the delimiter and quotes)",
                line_no,
            )
        yield line


def _open_csv(stream: IO[bytes], filename: str, head: bytes, sha256: str, size: int) -> Table:
    encoding, notes = _encoding(head)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    lines = _bounded_lines(text)
    first = next(lines, None)
    if first is None or not first.strip():
        raise FileRefused(
            ImportCode.EMPTY_FILE, f"{filename!r} has no header row; the first line must name the columns"
        )
    delimiter = _delimiter(first)
    if delimiter != ",":
        notes.append(f"columns are separated by {'tab' if delimiter == chr(9) else repr(delimiter)}")

    def chained() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(chained(), delimiter=delimiter, strict=False)
    header = next(reader)

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 1
        try:
            for cells in reader:
                number += 1
                if cells and any(c.strip() for c in cells):
                    yield number, tuple(cells)
        except csv.Error as exc:
            raise FileRefused(
                ImportCode.MALFORMED_CSV, f"row {number + 1} cannot be read as CSV: {exc}", number + 1
            ) from None
        finally:
            # The stream is the caller's: leave it open. A generator dropped unfinished may be finalised
            # after the caller closed the stream, when there is nothing left to detach from.
            if not stream.closed:
                text.detach()

    def position() -> int | None:
        return None if stream.closed else stream.tell()

    return Table("csv", list(header), rows(), size, sha256, notes, position)


# -- XLSX -----------------------------------------------------------------------------------------------------
def _open_xlsx(stream: IO[bytes], filename: str, sha256: str, size: int) -> Table:
    import openpyxl  # imported when needed: the CSV path (and the API process) does not pay for it

    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True, keep_links=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileRefused(
            ImportCode.WRONG_FILE_TYPE,
            f"{filename!r} is a zip archive but not a readable Excel workbook ({type(exc).__name__}); "
            "open it in a spreadsheet and save it as .xlsx again",
        ) from None
    sheet = book.worksheets[0] if book.worksheets else None
    if sheet is None:
        raise FileRefused(ImportCode.EMPTY_FILE, f"{filename!r} has no worksheet")
    cells = sheet.iter_rows(values_only=True)
    header = next(cells, None)
    if header is None or not any(c is not None and str(c).strip() for c in header):
        book.close()
        raise FileRefused(ImportCode.EMPTY_FILE, f"the first sheet of {filename!r} has no header row in row 1")

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            for number, values in enumerate(cells, start=2):
                if any(v is not None and (not isinstance(v, str) or v.strip()) for v in values):
                    yield number, values
        finally:
            book.close()

    notes = [f"read the first worksheet, {sheet.title!r}"] if len(book.worksheets) > 1 else []
    return Table("xlsx", list(header), rows(), size, sha256, notes)
