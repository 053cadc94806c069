"""Small-count suppression: a caller with stats:read alone cannot read, or recompute, a count below 5.

The attack: take every table such a caller can ask for about one month (each region's coverage, each
region's sub-regions), write down every additive relation the figures obey (a region's participants are the
sum of its segments, of its sub-regions, ...), substitute every published number, and solve. A withheld
count that the system pins down to one value would be recovered; none may be.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import monev_viewer
from auth.principal import Principal, PrincipalKind
from auth.scopes import Scope
from domain.monev import cells
from domain.monev.periods import Month
from domain.monev.suppression import DEFAULT_THRESHOLD, Family, family_of
from domain.monev.tables import Published, region_months, sub_region_months
from domain.participants.rules import Program
from domain.regions.rules import RegionCode
from tests.monev.conftest import load, random_data

NOW = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
PARENTS = ["52", "52.01", "52.71", "52.01.01", "52.01.02", "52.71.01", "52.71.02"]


def ministry(region: str | None = None) -> Any:
    principal = Principal(
        "kemnaker",
        PrincipalKind.CLIENT,
        scopes=frozenset({Scope.STATS_READ}),
        region=RegionCode(region) if region else None,
    )
    return monev_viewer(principal)


async def _everything_published(engine: AsyncEngine, viewer: Any, month: Month) -> dict[str, Published]:
    """Every region's row, from every query that shows it; the same row must look the same everywhere."""
    seen: dict[str, Published] = {}

    def note(p: Published) -> None:
        if p.code in seen:
            assert seen[p.code].counts == p.counts, f"{p.code} is published two ways"
        seen[p.code] = p

    async with engine.connect() as conn:
        for parent in PARENTS:
            code = RegionCode(parent)
            if viewer.sees(parent):
                for p in await region_months(conn, viewer, code, [month]):
                    note(p)
            for p in await sub_region_months(conn, viewer, code, [month]):
                note(p)
    return seen


def _relations(published: dict[str, Published]) -> list[tuple[str, tuple[str, ...]]]:
    """(total, parts) of area-qualified cell names: row groups of each area, sub-regions of each parent."""
    relations = []
    for code in published:
        relations += [(f"{code}|{t}", tuple(f"{code}|{p}" for p in parts)) for t, parts in cells.ROW_GROUPS]
    for parent in published:
        children = [c for c in published if RegionCode(c).parent == parent]
        if children:
            relations += [(f"{parent}|{c}", tuple(f"{k}|{c}" for k in children)) for c in cells.COUNT_CELLS]
    return relations


def recoverable(published: dict[str, Published]) -> set[str]:
    """Withheld cells that the published numbers and the additive relations determine exactly."""
    value = {f"{code}|{c}": v for code, p in published.items() for c, v in p.counts.items()}
    unknown = sorted(k for k, v in value.items() if v is None)
    index = {k: i for i, k in enumerate(unknown)}
    rows: list[dict[int, Fraction]] = []
    for total, parts in _relations(published):
        row: dict[int, Fraction] = {}
        for name, sign in ((total, Fraction(1)), *((p, Fraction(-1)) for p in parts)):
            if value[name] is None:
                row[index[name]] = row.get(index[name], Fraction(0)) + sign
        if any(row.values()):
            rows.append({k: v for k, v in row.items() if v})
    # Reduced row echelon form: a cell is determined iff a pivot row has no other unknown in it.
    pivots: dict[int, dict[int, Fraction]] = {}
    for row in rows:
        for col, prow in pivots.items():
            if col in row:
                factor = row[col]
                for k, v in prow.items():
                    row[k] = row.get(k, Fraction(0)) - factor * v
                row = {k: v for k, v in row.items() if v}
        if not row:
            continue
        col = min(row)
        lead = row[col]
        row = {k: v / lead for k, v in row.items()}
        for other in pivots.values():
            if col in other:
                factor = other[col]
                for k, v in row.items():
                    other[k] = other.get(k, Fraction(0)) - factor * v
                for k in [k for k, v in other.items() if not v]:
                    del other[k]
        pivots[col] = row
    return {unknown[col] for col, row in pivots.items() if list(row) == [col]}


@pytest.mark.parametrize("seed", [11, 23, 37])
async def test_no_withheld_count_can_be_recomputed(monev_engine: AsyncEngine, seed: int) -> None:
    data = random_data(seed, NOW)
    await load(monev_engine, data)
    month = Month(2025, 12)
    published = await _everything_published(monev_engine, ministry(), month)
    hidden = {f"{code}|{c}" for code, p in published.items() for c, v in p.counts.items() if v is None}
    assert hidden, "the random data should have small counts to withhold"
    shown = [v for p in published.values() for v in p.counts.values() if v is not None]
    assert shown, "and large ones to show"
    assert all(v >= DEFAULT_THRESHOLD for v in shown)
    assert recoverable(published) == set()


async def test_the_attack_works_without_secondary_suppression(monev_engine: AsyncEngine) -> None:
    """The solver is not toothless: with primary suppression alone it recovers cells."""
    data = random_data(11, NOW)
    await load(monev_engine, data)
    published = await _everything_published(monev_engine, ministry(), Month(2025, 12))
    # Undo the secondary suppression: show every hidden count of 5 or more again (the recount gives them).
    full = await _everything_published(
        monev_engine, monev_viewer(Principal("a", PrincipalKind.USER, scopes=frozenset(Scope))), Month(2025, 12)
    )
    primary_only = {}
    for code, p in published.items():
        counts = {
            c: (full[code].counts[c] if v is None and (full[code].counts[c] or 0) >= DEFAULT_THRESHOLD else v)
            for c, v in p.counts.items()
        }
        primary_only[code] = Published(p.code, p.name, p.month, counts, p.amounts, p.denominator)
    assert recoverable(primary_only), "primary suppression alone should leave cells recoverable on this data"


async def test_rows_readers_see_every_count(monev_engine: AsyncEngine) -> None:
    await load(monev_engine, random_data(23, NOW))
    analyst = monev_viewer(
        Principal("a", PrincipalKind.USER, scopes=frozenset({Scope.STATS_READ, Scope.PARTICIPANTS_READ}))
    )
    async with monev_engine.connect() as conn:
        [p] = await region_months(conn, analyst, RegionCode("52.71.01.1005"), [Month(2025, 12)])
    for cell, value in p.counts.items():
        # participants:read shows participant counts in full; claims and beneficiaries stay protected
        assert (value is not None) or family_of(cell) is not Family.PARTICIPANTS
    for program in Program:
        # an amount is shown exactly when its count is
        assert (p.amounts[cells.claims_paid_amount(program)] is None) == (p.counts[cells.claims_paid(program)] is None)


async def test_a_regional_ministry_cannot_recompute_either(monev_engine: AsyncEngine) -> None:
    """A client bound to Kota Mataram sees only its own tables; the same attack on them recovers nothing."""
    await load(monev_engine, random_data(37, NOW))
    published = await _everything_published(monev_engine, ministry("52.71"), Month(2025, 12))
    assert set(published) >= {"52.71", "52.71.01", "52.71.02"}
    assert all(code == "52.71" or code.startswith("52.71.") for code in published)
    assert any(v is None for p in published.values() for v in p.counts.values())
    assert recoverable(published) == set()


async def test_the_threshold_is_a_setting(monev_engine: AsyncEngine) -> None:
    await load(monev_engine, random_data(41, NOW))
    principal = Principal("kemnaker", PrincipalKind.CLIENT, scopes=frozenset({Scope.STATS_READ}))
    async with monev_engine.connect() as conn:
        rows = await sub_region_months(conn, monev_viewer(principal, threshold=12), RegionCode("52"), [Month(2025, 12)])
    shown = [v for p in rows for v in p.counts.values() if v is not None]
    assert shown
    assert min(shown) >= 12
