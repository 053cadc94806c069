"""NIK (Nomor Induk Kependudukan): parsing, validation and masking.

Layout ``PPKKCC DDMMYY SSSS``: the district where the NIK was first issued, the birth date (day + 40 for
women), and a serial. A NIK never changes, so it is the join key between registries; the family-card number
(KK) changes when a family moves or splits and is never a key.

Parsing checks the shape; :func:`check_consistency` checks a parsed NIK against the sex and birth date a
person gave; whether the district exists is a database question, answered by
:func:`domain.writes.validation.nik_district_exists` at the places that write rows.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class Sex(enum.StrEnum):
    M = "M"
    F = "F"


class InvalidNIK(ValueError):
    """A NIK that cannot be right. The message says what is wrong and how to fix it."""


@dataclass(frozen=True, slots=True)
class NIK:
    value: str
    district_code: str  # dotted, e.g. "52.71.01"
    birth_date: dt.date
    sex: Sex
    serial: str

    @property
    def province_code(self) -> str:
        return self.value[:2]


def _shown(raw: str) -> str:
    # Error messages never echo a whole NIK: it is personal data and ends up in logs.
    return mask_identifier(raw) if len(raw) == 16 and raw.isdigit() else f"{raw[:6]}…"


def parse_nik(raw: str, *, today: dt.date | None = None) -> NIK:
    """Parse and check a NIK's shape: 16 digits, a real date, sex from the day, serial not 0000.

    The two-digit year is read as the latest year that is not in the future (a NIK holder is born).
    """
    value = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(value, str) or not value.isdigit() or not value.isascii():
        raise InvalidNIK(f"NIK {_shown(str(raw))} must contain digits only")
    if len(value) != 16:
        raise InvalidNIK(f"NIK {_shown(value)} has {len(value)} digits; a NIK has 16")
    prov, kab, kec = value[0:2], value[2:4], value[4:6]
    if prov == "00" or kab == "00" or kec == "00":
        raise InvalidNIK(f"NIK {_shown(value)} starts with {value[:6]}, which is not a district code")
    day, month, yy, serial = int(value[6:8]), int(value[8:10]), int(value[10:12]), value[12:16]
    sex = Sex.M
    if 41 <= day <= 71:
        sex, day = Sex.F, day - 40
    elif not 1 <= day <= 31:
        raise InvalidNIK(
            f"NIK {_shown(value)} has day {value[6:8]}; the day is 01-31 for men and 41-71 (day + 40) for women"
        )
    if not 1 <= month <= 12:
        raise InvalidNIK(f"NIK {_shown(value)} has month {value[8:10]}; the month is 01-12")
    if serial == "0000":
        raise InvalidNIK(f"NIK {_shown(value)} has serial 0000; the last four digits start at 0001")
    today = today or dt.date.today()
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        birth = dt.date(year, month, day)
    except ValueError:
        raise InvalidNIK(f"NIK {_shown(value)} encodes {day:02d}-{month:02d}-{year}, which is not a date") from None
    if birth > today:
        try:
            birth = birth.replace(year=year - 100)
        except ValueError:  # 29 Feb 2000 in the future is 29 Feb 1900, which did not exist
            raise InvalidNIK(
                f"NIK {_shown(value)} encodes {day:02d}-{month:02d}-{year - 100}, which is not a date"
            ) from None
    return NIK(value=value, district_code=f"{prov}.{kab}.{kec}", birth_date=birth, sex=sex, serial=serial)


def check_consistency(nik: NIK, *, sex: Sex | None = None, birth_date: dt.date | None = None) -> list[str]:
    """Problems between a NIK and the sex and birth date given for the same person (empty when none)."""
    problems: list[str] = []
    if sex is not None and sex != nik.sex:
        problems.append(f"the NIK encodes sex {nik.sex.value} but sex {sex.value} was given")
    if birth_date is not None and birth_date != nik.birth_date:
        problems.append(
            f"the NIK encodes birth date {nik.birth_date.isoformat()} but {birth_date.isoformat()} was given"
        )
    return problems


def build_nik(district_code: str, birth_date: dt.date, sex: Sex, serial: int) -> str:
    """Compose a NIK from its parts (for generated data and tests)."""
    if not 1 <= serial <= 9999:
        raise ValueError("serial must be 1..9999")
    day = birth_date.day + (40 if sex is Sex.F else 0)
    return f"{district_code.replace('.', '')}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"


def mask_identifier(value: str) -> str:
    """Mask a 16-digit identifier (NIK, family card): keep the regency part and the last two digits.

    ``5271011203900001`` → ``5271**********01`` (the API contract's form). The birth date and district
    digits are what make a NIK personal; the regency says no more than the row's region already does.
    """
    if len(value) <= 6:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 6) + value[-2:]


class stars(FunctionElement[str]):
    """``count`` asterisks as a SQL expression: ``repeat('*', n)``; SQLite, which has no ``repeat``, another way."""

    type = String()
    inherit_cache = True
    name = "repeat"


@compiles(stars)
def _stars(element: stars, compiler: Any, **kw: Any) -> str:
    return f"repeat('*', {compiler.process(element.clauses, **kw)})"


@compiles(stars, "sqlite")
def _stars_sqlite(element: stars, compiler: Any, **kw: Any) -> str:
    return f"replace(hex(zeroblob({compiler.process(element.clauses, **kw)})), '00', '*')"


def mask_identifier_sql(value: ColumnElement[str]) -> ColumnElement[str]:
    """:func:`mask_identifier` as a SQL expression, for reads whose JSON the database builds.

    The same form, character for character (``tests/auth/test_policy_sql.py`` compares the two, on PostgreSQL
    and SQLite); NULL stays NULL. Used by the JSON statements (schema.compiled.sql_json).
    """
    length = func.length(value)
    return case(
        (length <= 6, stars(length)),
        else_=func.substr(value, 1, 4).concat(stars(length - 6)).concat(func.substr(value, length - 1)),
    )
