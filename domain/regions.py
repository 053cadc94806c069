"""Regions: the Kemendagri administrative hierarchy, code parsing and the columns that scope rows by place.

Codes are dotted: province ``52``, regency/city ``52.71``, district ``52.71.01``, village ``52.71.01.1001``.
Every row that belongs to a place stores its own code and the codes of its ancestors (province, regency,
district) in indexed columns, so "this region and everything below it" is one indexed equality filter.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from domain.db import Base


class RegionLevel(enum.StrEnum):
    PROVINCE = "PROVINCE"
    REGENCY = "REGENCY"
    DISTRICT = "DISTRICT"
    VILLAGE = "VILLAGE"


_LEVELS = (RegionLevel.PROVINCE, RegionLevel.REGENCY, RegionLevel.DISTRICT, RegionLevel.VILLAGE)
# ASCII: without it \d also matches other scripts' digits (e.g. Arabic-Indic).
_CODE_RE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$", re.ASCII)


class InvalidRegionCode(ValueError):
    """A string that is not a Kemendagri region code."""


@dataclass(frozen=True, slots=True)
class RegionCode:
    """A parsed Kemendagri code. Knows its level and its ancestors; says nothing about existence."""

    code: str

    @classmethod
    def parse(cls, raw: str) -> RegionCode:
        code = raw.strip()
        if not _CODE_RE.match(code):
            raise InvalidRegionCode(
                f"{raw!r} is not a region code; use the dotted Kemendagri form: province '52', "
                "regency '52.71', district '52.71.01' or village '52.71.01.1001'"
            )
        return cls(code)

    @property
    def parts(self) -> list[str]:
        return self.code.split(".")

    @property
    def level(self) -> RegionLevel:
        return _LEVELS[len(self.parts) - 1]

    @property
    def parent(self) -> str | None:
        parts = self.parts
        return ".".join(parts[:-1]) if len(parts) > 1 else None

    @property
    def province(self) -> str:
        return self.parts[0]

    @property
    def regency(self) -> str | None:
        return ".".join(self.parts[:2]) if len(self.parts) >= 2 else None

    @property
    def district(self) -> str | None:
        return ".".join(self.parts[:3]) if len(self.parts) >= 3 else None

    @property
    def ancestors(self) -> list[str]:
        """Codes above this one, province first."""
        parts = self.parts
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    @property
    def is_city(self) -> bool:
        """A regency part 71-99 is a kota (city); 01-69 a kabupaten. Villages: 1xxx kelurahan (urban)."""
        parts = self.parts
        if len(parts) < 2:
            return False
        return int(parts[1]) >= 71

    def contains(self, other: str) -> bool:
        """True when `other` is this region or lies below it."""
        return other == self.code or other.startswith(self.code + ".")

    @property
    def digits(self) -> str:
        return self.code.replace(".", "")


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


def placement(code: str) -> dict[str, str | None]:
    """The placement columns for a row located at `code`."""
    rc = RegionCode.parse(code)
    return {
        "region_code": rc.code,
        "province_code": rc.province,
        "regency_code": rc.regency,
        "district_code": rc.district,
    }


def placement_column_for(level: RegionLevel) -> str:
    """Which placement column holds codes of `level` (village level is the row's own region code)."""
    return {
        RegionLevel.PROVINCE: "province_code",
        RegionLevel.REGENCY: "regency_code",
        RegionLevel.DISTRICT: "district_code",
        RegionLevel.VILLAGE: "region_code",
    }[level]


__all__ = [
    "InvalidRegionCode",
    "PlacedMixin",
    "Region",
    "RegionCode",
    "RegionLevel",
    "RegionYearFigure",
    "placement",
    "placement_column_for",
]
