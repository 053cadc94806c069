"""Matching a file's header to the columns an import knows, by any of their names, case-insensitively.

Registry lists come from offices that name their columns in Indonesian (``nama``, ``kode_wilayah``,
``desil``) or in English (``full_name``, ``region_code``, ``decile``), with spaces, dots or capitals as the
spreadsheet had them. A header cell is normalised (case, spaces, punctuation, invisible marks) before it is
looked up, so ``Kode Wilayah``, ``KODE_WILAYAH`` and ``kode-wilayah`` are the same column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from domain.imports.codes import ImportCode
from domain.imports.report import RowError

_SEPARATORS = re.compile(r"[\s\-./]+")
_STRIP = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True, slots=True)
class Column:
    """A column an import reads: its field name, the header names it answers to, whether it must be there."""

    field: str
    names: tuple[str, ...]
    required: bool = True
    description: str = ""


def normalise(header: object) -> str:
    """The lookup form of a header cell: ``" Kode Wilayah "`` → ``kode_wilayah``."""
    text = unicodedata.normalize("NFKC", "" if header is None else str(header))
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))  # BOM, zero-width marks
    text = _SEPARATORS.sub("_", text.strip().lower())
    return _STRIP.sub("", text).strip("_")


@dataclass(frozen=True)
class HeaderMatch:
    """Which file column (by position) holds each field, and the columns nobody reads."""

    positions: dict[str, int]
    headers: list[str]
    ignored: list[str]

    def column_name(self, field: str) -> str:
        return self.headers[self.positions[field]]


def match_header(
    cells: list[object], columns: tuple[Column, ...], *, optional: frozenset[str] = frozenset()
) -> tuple[HeaderMatch, list[RowError]]:
    """Map header `cells` to `columns`. Problems (row 1): a required column missing, a column given twice.

    Fields in `optional` are not required even when their column says so (a value given another way, such as a
    command-line option for the whole file).
    """
    lookup = {normalise(name): col.field for col in columns for name in (col.field, *col.names)}
    headers = ["" if c is None else str(c).strip() for c in cells]
    positions: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[RowError] = []
    for i, raw in enumerate(headers):
        field = lookup.get(normalise(raw))
        if field is None:
            if raw:
                ignored.append(raw)
            continue
        if field in positions:
            problems.append(
                RowError(
                    1,
                    raw,
                    raw,
                    ImportCode.DUPLICATE_COLUMN,
                    f"columns {headers[positions[field]]!r} and {raw!r} both mean {field}; keep one of them",
                )
            )
            continue
        positions[field] = i
    missing = [c for c in columns if c.required and c.field not in positions and c.field not in optional]
    if missing:
        found = ", ".join(repr(h) for h in headers if h) or "nothing"
        for col in missing:
            names = ", ".join(dict.fromkeys((col.names[0], col.field)))
            problems.append(
                RowError(
                    1,
                    None,
                    None,
                    ImportCode.MISSING_COLUMN,
                    f"the header has no column for {col.field} (name it {names}); the header row has {found}",
                )
            )
    return HeaderMatch(positions, headers, ignored), problems
