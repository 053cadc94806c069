"""Region tables: the Kemendagri hierarchy, its yearly Monev figures, and the placement columns of placed rows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from domain.db import Base
from domain.regions.rules import RegionLevel


class Region(Base):
    """One Kemendagri region. Names and codes come from the official list; Monev figures are per year."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[RegionLevel] = mapped_column(Enum(RegionLevel, native_enum=False, length=10), index=True)
    is_city: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    province_code: Mapped[str] = mapped_column(String(2), index=True)
    regency_code: Mapped[str | None] = mapped_column(String(5), index=True)
    district_code: Mapped[str | None] = mapped_column(String(8), index=True)

    __table_args__ = (
        CheckConstraint(
            "(level = 'PROVINCE' AND parent_code IS NULL) OR (level <> 'PROVINCE' AND parent_code IS NOT NULL)",
            name="parent_matches_level",
        ),
    )


class RegionYearFigure(Base):
    """Monev denominators of one region for one year: BPS employed population and the UCJ target."""

    __tablename__ = "region_year_figures"

    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    employed_population: Mapped[int | None] = mapped_column(Integer)
    #: Target share of the employed population actively covered, 0..1 (e.g. 0.62).
    ucj_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("employed_population IS NULL OR employed_population >= 0", name="population_non_negative"),
        CheckConstraint("ucj_target IS NULL OR (ucj_target >= 0 AND ucj_target <= 1)", name="target_is_share"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
    )


class PlacedMixin:
    """Columns for a row that belongs to a place: its region and that region's ancestors, all indexed.

    Filled from one code by :func:`placement`; scoping reads whichever column matches the level of the
    caller's region, so it is always an indexed equality.
    """

    @declared_attr
    def region_code(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("regions.code"), index=True)

    province_code: Mapped[str] = mapped_column(String(2), index=True)
    regency_code: Mapped[str | None] = mapped_column(String(5), index=True)
    district_code: Mapped[str | None] = mapped_column(String(8), index=True)
