"""Day arithmetic the database does for us, the same on SQLite and PostgreSQL.

``local_day(ts)`` is the number of the WITA calendar day a UTC timestamp falls on, counted from
2000-01-01 (a Saturday), so weekdays and working-day deadlines become integer arithmetic in SQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, case
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class local_day(FunctionElement[int]):
    """Day number (WITA, UTC+8) of a UTC timestamp column; day 0 is Saturday 2000-01-01."""

    type = Integer()
    inherit_cache = True
    name = "local_day"


@compiles(local_day, "postgresql")
def _local_day_pg(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(CAST(({arg} AT TIME ZONE 'UTC') + INTERVAL '8 hours' AS DATE) - DATE '2000-01-01')"


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(julianday(date({arg}, '+8 hours')) - julianday('2000-01-01') AS INTEGER)"


#: Days from a weekday (0 = Monday) to the third working day after it (weekends are not working days).
THIRD_WORKING_DAY = {0: 3, 1: 3, 2: 5, 3: 5, 4: 5, 5: 4, 6: 3}


def third_working_day_after(day: ColumnElement[int]) -> ColumnElement[int]:
    """The day number three working days after `day` (public holidays are not taken into account)."""
    weekday = (day + 5) % 7  # 2000-01-01, day 0, was a Saturday (weekday 5)
    offset = case(*((weekday == w, d) for w, d in THIRD_WORKING_DAY.items()), else_=3)
    return day + offset
