"""What an import found wrong: one entry per bad cell or row, counts, and the report CSV written beside the file.

A report names rows as a spreadsheet shows them (the header is row 1, the first data row is row 2), so the
person who fixes the file finds the cell. Values written to the report CSV are made formula-safe: a cell
starting with ``=``, ``+``, ``-`` or ``@`` would run as a formula when the report is opened in a spreadsheet.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from domain.codes import UserErrorCode, require_code

#: How many problems an import keeps in memory to show (the report CSV has them all).
KEPT_ERRORS = 100
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
REPORT_COLUMNS = ("row", "column", "value", "code", "message")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: the file row (header = 1; 0 = the file as a whole), the column as the file names it."""

    row: int
    column: str | None
    value: str | None
    #: A member of a family's catalogue (domain/error_catalogue.py); the report writes its string.
    code: UserErrorCode
    message: str

    def __post_init__(self) -> None:
        require_code(self.code)


@dataclass
class ImportCounts:
    #: Data rows read from the file (blank rows not counted).
    read: int = 0
    #: New records written (or, in a dry run, that would be written).
    imported: int = 0
    #: Existing records whose values changed.
    updated: int = 0
    #: Rows identical to what the database already holds.
    unchanged: int = 0
    #: Rows refused (each has at least one entry in the report).
    rejected: int = 0
    #: Records linked to a participant by NIK after the import.
    linked: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "linked": self.linked,
        }


def formula_safe(text: str) -> str:
    """`text` as a spreadsheet shows it without running it (a leading ``'`` marks it as text)."""
    return "'" + text if _FORMULA_START.match(text) else text


class ErrorSink:
    """Collects an import's problems: all of them streamed to `out` (when given), the first few kept."""

    def __init__(self, out: TextIO | None = None, keep: int = KEPT_ERRORS) -> None:
        self.kept: list[RowError] = []
        self.total = 0
        self._keep = keep
        self._writer = csv.writer(out) if out is not None else None
        if self._writer is not None:
            self._writer.writerow(REPORT_COLUMNS)

    def add(self, error: RowError) -> None:
        self.total += 1
        if len(self.kept) < self._keep:
            self.kept.append(error)
        if self._writer is not None:
            self._writer.writerow(
                [
                    error.row,
                    error.column or "",
                    formula_safe(error.value or ""),
                    error.code,
                    formula_safe(error.message),
                ]
            )

    def extend(self, errors: Iterable[RowError]) -> None:
        for e in errors:
            self.add(e)


def report_path(source: Path) -> Path:
    """Where the report of importing `source` goes: beside it, ``<name>.report.csv``."""
    return source.with_name(source.stem + ".report.csv")


@dataclass
class ImportResult:
    """The outcome of one import: counts, the first problems, and whether anything was written."""

    counts: ImportCounts
    errors: list[RowError]
    error_count: int
    written: bool
    dry_run: bool
    mode: str
    sha256: str
    notes: list[str] = field(default_factory=list)
    #: Seconds spent per phase (reading and checking, the set-based checks, the write), for benchmarks.
    seconds: dict[str, float] = field(default_factory=dict)


class ImportModeOptions(Protocol):
    """What every kind of import's options say about how it runs."""

    @property
    def dry_run(self) -> bool: ...

    @property
    def mode(self) -> str: ...


def result_of(
    counts: ImportCounts,
    sink: ErrorSink,
    options: ImportModeOptions,
    sha256: str,
    notes: list[str],
    *,
    written: bool,
) -> ImportResult:
    """The result every kind of import reports: counts, the problems kept, and how it ran."""
    return ImportResult(
        counts=counts,
        errors=list(sink.kept),
        error_count=sink.total,
        written=written,
        dry_run=options.dry_run,
        mode=options.mode,
        sha256=sha256,
        notes=notes,
    )
