"""Reading one cell as the value a column needs, from CSV text or an XLSX cell (numbers, dates, booleans).

Each reader returns the value or raises :class:`CellProblem` with a code and a message that says what to
change in the file. Nothing is guessed: a NIK that a spreadsheet turned into a number is reported, never
padded or re-expanded, because its lost digits cannot be known.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from domain.codes import UserErrorCode
from domain.imports.codes import ImportCode
from domain.writes.codes import WriteCode

_SCIENTIFIC = re.compile(r"^\s*\d+([.,]\d+)?[eE][+-]?\d+\s*$")
_DIGITS = re.compile(r"^\d+$", re.ASCII)
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.ASCII)
_TRUE = frozenset({"ya", "y", "yes", "true", "1", "benar", "iya"})
_FALSE = frozenset({"tidak", "no", "n", "false", "0", "bukan", "tdk"})


class CellProblem(ValueError):
    def __init__(self, code: UserErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def shown(value: Any) -> str:
    """A cell as the report quotes it."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e15:
        return f"{value:.5E}"  # how the spreadsheet displays a long number
    return str(value)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def identifier(value: Any, label: str, digits: int, *, invalid: UserErrorCode, as_number: UserErrorCode) -> str:
    """A digit string such as a NIK or KK number, refused when a spreadsheet stored it as a number.

    `invalid` is the code of a value too short or not text, `as_number` that of one a spreadsheet made a number.
    """
    if isinstance(value, str) and len(value) == digits and value.isdigit() and value.isascii():
        return value  # the common case, as text and complete
    if isinstance(value, bool):
        raise CellProblem(invalid, f"{label} must be {digits} digits; a true/false cell was given")
    if isinstance(value, (int, float)):
        raise CellProblem(
            as_number,
            f"the {label} cell holds a number ({shown(value)}), not text: a spreadsheet keeps 15 significant "
            f"digits, so a {digits}-digit {label} may have lost its last digit. Format the column as Text, "
            f"re-enter or re-export the {label}s, and import again (numbers are never padded or guessed)",
        )
    raw = text(value)
    if _SCIENTIFIC.match(raw):
        raise CellProblem(
            as_number,
            f"{label} {raw!r} is in scientific notation: a spreadsheet turned it into a number and dropped "
            f"digits. Format the column as Text and re-export from the source (it is never reconstructed)",
        )
    if _DIGITS.match(raw) and len(raw) < digits:
        raise CellProblem(
            invalid,
            f"{label} has {len(raw)} digits; a {label} has {digits}. If a spreadsheet dropped leading digits, "
            "re-export the column as Text (it is never padded)",
        )
    return raw


def nik(value: Any) -> str:
    """A NIK cell: 16 digits, as text."""
    return identifier(value, "NIK", 16, invalid=WriteCode.INVALID_NIK, as_number=ImportCode.NIK_STORED_AS_NUMBER)


def date(value: Any, label: str) -> dt.date:
    """A date from an XLSX date cell, ``YYYY-MM-DD`` or ``DD/MM/YYYY`` (day first, as written in Indonesia)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise CellProblem(ImportCode.INVALID_DATE, f"{label} {raw!r} is a number; format the column as a date")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    m = _DMY.match(raw)
    if m:
        try:
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            pass
    raise CellProblem(ImportCode.INVALID_DATE, f"{label} {raw!r} is not a date; write it as YYYY-MM-DD or DD/MM/YYYY")


def integer(value: Any, label: str) -> int:
    if isinstance(value, bool):
        raise CellProblem(ImportCode.INVALID_NUMBER, f"{label} must be a whole number; a true/false cell was given")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raw = text(value)
    if _DIGITS.match(raw):
        return int(raw)
    raise CellProblem(ImportCode.INVALID_NUMBER, f"{label} {shown(value)!r} is not a whole number")


def boolean(value: Any, label: str) -> bool:
    """Ya/tidak, yes/no, true/false, 1/0 (an XLSX boolean or number too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raw = text(value).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise CellProblem(ImportCode.INVALID_BOOLEAN, f"{label} {shown(value)!r} is not yes or no; write ya or tidak")
