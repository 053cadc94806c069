"""Months as the ledger counts them: a month number (year * 12 + month - 1) and its first and last day."""

from __future__ import annotations

import datetime as dt


def month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_start(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


def month_end(month: int) -> dt.date:
    return month_start(month + 1) - dt.timedelta(days=1)
