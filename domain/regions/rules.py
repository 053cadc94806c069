"""Region rules: Kemendagri code parsing, levels, and the placement columns that scope rows by place.

Codes are dotted: province ``52``, regency/city ``52.71``, district ``52.71.01``, village ``52.71.01.1001``.
Every row that belongs to a place stores its own code and the codes of its ancestors (province, regency,
district) in indexed columns, so "this region and everything below it" is one indexed equality filter.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


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


def placement(code: str) -> dict[str, str | None]:
    """The placement columns for a row located at `code`."""
    rc = RegionCode.parse(code)
    return {
        "region_code": rc.code,
        "province_code": rc.province,
        "regency_code": rc.regency,
        "district_code": rc.district,
    }


#: Which placement column holds codes of each level (village level is the row's own region code). Every
#: level → column question in the code base is answered from this table (``domain.regions.models``).
PLACEMENT_COLUMNS: dict[RegionLevel, str] = {
    RegionLevel.PROVINCE: "province_code",
    RegionLevel.REGENCY: "regency_code",
    RegionLevel.DISTRICT: "district_code",
    RegionLevel.VILLAGE: "region_code",
}


def placement_column_for(level: RegionLevel) -> str:
    """The name of the placement column that holds codes of `level` (see :data:`PLACEMENT_COLUMNS`)."""
    return PLACEMENT_COLUMNS[level]


def within(region: RegionCode | None, code: str) -> bool:
    """The one region rule: a caller bound to `region` sees `code` when it is that region or lies below it.

    ``None`` is national: everything is within. The SQL form of the same rule is
    ``domain.regions.models.placed_within``; reads (``auth.policy``) and writes (``Caller.sees``) both use
    these two, so the API, the console and the write functions cannot disagree about a row.
    """
    return region is None or region.contains(code)
