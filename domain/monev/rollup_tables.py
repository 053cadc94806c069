"""The Monev rollups: per-area, per-month sums kept up to date by database triggers (domain.monev.rollup_sql).

Months are numbered ``year * 12 + month - 1`` (WITA months, like ``Contribution.first_month``). The stock
tables hold *changes*, not levels: a participant registered in month r and paid through month h adds +1
registered at r, +1 active at r and -1 active at h + 1, so a month's figure is the sum of every row up to and
including it. A write then touches a handful of rows however long the history is, and a province-month is a
sum over a few thousand pre-summed rows instead of a scan of every participant.

Every change is kept per area at three levels: the district (the finest a regency's table of sub-regions
needs), the regency and the province, so that a province's month sums the province's own rows (a few
thousand) rather than every district's. For the extreme poor the levels are also a matter of correctness:
they count *distinct* NIKs and a NIK may appear in two districts, so a province's figure is not the sum of
its districts'. Every table is placed (``PlacedMixin``) so reads go through ``auth.policy.visible`` like any
other placed table; the ``region_code`` of a row is the area it sums, ``level`` that area's level.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from domain.db import Base
from domain.regions.models import PlacedMixin


class _Area(PlacedMixin):
    """The area a rollup row sums, as placement columns (``region_code`` = that area, part of the key)."""

    @declared_attr
    def region_code(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("regions.code"), primary_key=True)

    #: Month number, year * 12 + month - 1 (WITA).
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The level of the area summed: PROVINCE, REGENCY or DISTRICT (each change is kept at all three).
    level: Mapped[str] = mapped_column(String(10), index=True)


class ParticipantMonth(_Area, Base):
    """Changes of registered and active participants per district, month, segment and funding source."""

    __tablename__ = "monev_participant_months"
    __table_args__ = (PrimaryKeyConstraint("region_code", "month", "segment", "funding_source"),)

    segment: Mapped[str] = mapped_column(String(10), primary_key=True)
    funding_source: Mapped[str] = mapped_column(String(10), primary_key=True)
    registered: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[int] = mapped_column(Integer, default=0)


class ProgramMonth(_Area, Base):
    """Changes of active participants holding a programme per district and month."""

    __tablename__ = "monev_program_months"
    __table_args__ = (PrimaryKeyConstraint("region_code", "month", "program"),)

    program: Mapped[str] = mapped_column(String(3), primary_key=True)
    active: Mapped[int] = mapped_column(Integer, default=0)


class BudgetMonth(_Area, Base):
    """Changes of the amount paid for each month by each payer, per area.

    A payment of n months for months f..l counts amount / n in each: it adds that share at f and takes it off
    at l + 1. Shares are kept to 10 decimals of a rupiah (the figure is shown rounded to the rupiah).
    """

    __tablename__ = "monev_budget_months"
    __table_args__ = (PrimaryKeyConstraint("region_code", "month", "payer"),)

    payer: Mapped[str] = mapped_column(String(10), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(28, 10), default=Decimal(0))


class PoorMonth(_Area, Base):
    """Changes of extreme-poor NIKs (total, enrolled, active) per area and month, at every level to districts."""

    __tablename__ = "monev_poor_months"
    __table_args__ = (PrimaryKeyConstraint("region_code", "month"),)

    total: Mapped[int] = mapped_column(Integer, default=0)
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(Base):
    """One row: whether the rollups are being kept (false during a bulk load or after a failed rebuild).

    The triggers do nothing while it is false, and readers then fall back to the base tables, so a figure is
    never read from rollups that are not complete.
    """

    __tablename__ = "monev_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    maintained: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


ROLLUP_TABLES = (ParticipantMonth, ProgramMonth, BudgetMonth, PoorMonth)
