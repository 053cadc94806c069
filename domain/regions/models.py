"""Region tables: the Kemendagri hierarchy, its yearly Monev figures, and the placement columns of placed rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    bindparam,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, Mapped, declared_attr, mapped_column

from domain.db import Base
from domain.read_fields import read_field
from domain.regions.rules import RegionCode, RegionLevel, placement_column_for


class Region(Base):
    """One Kemendagri region. Names and codes come from the official list; Monev figures are per year.

    The columns the API serves say so beside them (``info=read_field(...)``, domain.read_fields): the
    GraphQL field's name and description; the region's Relay id is its code.
    """

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(
        String(13), primary_key=True, info=read_field("code", "Dotted Kemendagri code, e.g. '52.71.01.1001'.")
    )
    name: Mapped[str] = mapped_column(String(200), info=read_field("name", "Official name, e.g. 'Kota Mataram'."))
    level: Mapped[RegionLevel] = mapped_column(
        Enum(RegionLevel, native_enum=False, length=10), index=True, info=read_field("level", "Level in the hierarchy.")
    )
    is_city: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        info=read_field("isCity", "True for a kota (regency part 71-99) and the districts and villages inside one."),
    )
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


#: A model whose rows are scoped by place: a :class:`PlacedMixin` table, or :class:`Region` itself.
PlacedModel = type[PlacedMixin] | type[Region]

#: The key of the bound parameter in every region-scoping predicate. Tests find the scoping predicate in a
#: statement by it (tests/schema/test_chokepoint.py), so nothing else may bind a parameter of this name.
SCOPE_PARAMETER = "region_scope"


#: Execution option naming the placed tables a statement reads only through the link of a row it has already
#: scoped, as a property of that row — a beneficiary's enrolment (whether the participant it became is
#: registered and paid) — never listing or counting their own rows. Declared where the statement is built,
#: so the chokepoint test tells a deliberate link from a forgotten scope.
THROUGH_LINK = "region_scope_through_link"


def is_placed(model: object) -> bool:
    """Whether rows of `model` belong to a place and are therefore scoped by region."""
    return isinstance(model, type) and (issubclass(model, PlacedMixin) or model is Region)


def placement_column(model: PlacedModel, level: RegionLevel) -> InstrumentedAttribute[Any]:
    """The column of `model` that holds the code of a row's region at `level`.

    Placed rows keep their village in ``region_code``; a region row is its own code at its level, so the
    village column of :class:`Region` is ``code``.
    """
    if model is Region and level is RegionLevel.VILLAGE:
        return Region.code
    column: InstrumentedAttribute[Any] = getattr(model, placement_column_for(level))
    return column


def placed_within(model: PlacedModel, region: RegionCode | None) -> ColumnElement[bool]:
    """SQL twin of :func:`domain.regions.rules.within`: rows of `model` in `region` and below (None: all).

    One indexed equality on the placement column of the region's level, so scoping never costs a scan.
    """
    if region is None:
        return true()
    value = bindparam(SCOPE_PARAMETER, region.code, type_=String(), unique=True)
    clause: ColumnElement[bool] = placement_column(model, region.level) == value
    return clause
