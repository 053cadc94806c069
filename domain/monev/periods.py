"""Months, reporting periods and the bounds every Monev question must stay within.

A Monev month runs from 00:00 WITA (UTC+8, NTB's time) on its first day to 00:00 WITA on the next month's
first day: a claim paid at 20:00 UTC on 30 June was paid on 1 July in Mataram and counts for July.
Participant figures are stocks at the end of a month ("active" = contributions paid through its last day, and
alive and not retired on it); claim figures are flows within it.

The current month has not ended: its figures are month-to-date, up to today (:func:`figures_as_of`), and every
answer that shows it says so (:func:`is_complete`; docs/adr/0011-regulations-exactly.md §6). A range asked to
end after today ends today (:func:`check_range`): "the claims of 2026" can be asked in December 2026.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from domain import clock

#: The local time of the reporting offices (WITA); month boundaries are taken there (domain.clock).
REPORTING_TZ = clock.REPORTING_TZ
#: Nothing before this is asked about: BPJS Ketenagakerjaan took over in 2014, Monev data starts in 2015.
EARLIEST = dt.date(2015, 1, 1)
#: Longest range one trend or claim-statistics question may span.
MAX_RANGE_MONTHS = 120


class PeriodError(ValueError):
    """A date or period the Monev questions refuse; ``field`` names the argument to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def number(self) -> int:
        """``year * 12 + month - 1``: how the contribution ledger numbers months."""
        return self.year * 12 + self.month - 1

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def starts(self) -> dt.datetime:
        """00:00 WITA on the first day, as an aware datetime."""
        return dt.datetime(self.year, self.month, 1, tzinfo=REPORTING_TZ)

    @property
    def ends(self) -> dt.datetime:
        """00:00 WITA on the first day of the next month (exclusive)."""
        return self.next().starts

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def until(self, last: Month) -> list[Month]:
        """This month through `last`, inclusive."""
        months, m = [], self
        while m <= last:
            months.append(m)
            m = m.next()
        return months


def today() -> dt.date:
    return clock.today()  # looked up at call time: a test that moves domain.clock moves Monev's months too


def check_as_of(as_of: dt.date, field: str = "asOf", *, now: dt.date | None = None) -> Month:
    """The month `as_of` falls in, refusing the future and anything before 2015."""
    current = now or today()
    if as_of > current:
        raise PeriodError(
            f"{field} {as_of.isoformat()} is in the future; ask about {current.isoformat()} or earlier", field
        )
    if as_of < EARLIEST:
        raise PeriodError(
            f"{field} {as_of.isoformat()} is before {EARLIEST.isoformat()}; Monev data starts in 2015", field
        )
    return Month.of(as_of)


def is_complete(month: Month, *, now: dt.date | None = None) -> bool:
    """Whether the month has ended (today is after its last day); if not, its figures are month-to-date."""
    return month.last_day < (now or today())


def figures_as_of(month: Month, *, now: dt.date | None = None) -> dt.date:
    """The day a month's figures run to: its last day, or today for the current month."""
    return min(month.last_day, now or today())


def check_range(start: dt.date, end: dt.date, *, now: dt.date | None = None) -> list[Month]:
    """The months from `start` through `end`: not reversed, at most ten years; an `end` after today is taken as
    today (the current month, month-to-date), a `start` after today is refused."""
    first = check_as_of(start, "from", now=now)
    last = check_as_of(min(end, now or today()), "to", now=now)
    if start > end:
        raise PeriodError(f"from {start.isoformat()} is after to {end.isoformat()}; swap them", "from")
    months = first.until(last)
    if len(months) > MAX_RANGE_MONTHS:
        raise PeriodError(
            f"the range spans {len(months)} months; at most {MAX_RANGE_MONTHS} (ten years) per question", "to"
        )
    return months


_SEMESTER = re.compile(r"^(\d{4})-([12])$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.ASCII)


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: a semester (Inpres 2/2021) or a quarter (Inpres 4/2022)."""

    label: str
    months: tuple[Month, ...]

    @property
    def last(self) -> Month:
        return self.months[-1]


def parse_semester(text: str, *, now: dt.date | None = None) -> Period:
    match = _SEMESTER.match(text.strip())
    if not match:
        raise PeriodError(
            f"{text!r} is not a semester; write YYYY-1 (January-June) or YYYY-2 (July-December)", "semester"
        )
    year, half = int(match[1]), int(match[2])
    first = Month(year, 1 if half == 1 else 7)
    return _period(f"{year} semester {half}", first, 6, "semester", now)


def parse_quarter(text: str, *, now: dt.date | None = None) -> Period:
    match = _QUARTER.match(text.strip().upper())
    if not match:
        raise PeriodError(f"{text!r} is not a quarter; write YYYY-Qn, e.g. 2026-Q3", "quarter")
    year, quarter = int(match[1]), int(match[2])
    return _period(f"{year} Q{quarter}", Month(year, 3 * quarter - 2), 3, "quarter", now)


def _period(label: str, first: Month, length: int, field: str, now: dt.date | None) -> Period:
    check_as_of(first.first_day, field, now=now)
    current = Month.of(now or today())
    months = tuple(m for m in first.until(first.plus(length - 1)) if m <= current)
    return Period(label, months)
