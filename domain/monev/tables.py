"""Monev tables as a caller may see them: figures, denominators and small-count suppression put together.

The API (schema/stats/), the Inpres reports (domain/monev/reports.py) and the console dashboard all read
through :func:`region_months` and :func:`sub_region_months`, so a figure is computed, scoped and suppressed
the same way wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.monev import cells
from domain.monev.figures import AreaMonth, Denominator, Table, Visible, area_figures, child_level, denominators
from domain.monev.periods import Month
from domain.monev.suppression import Family, Group, Key, suppress
from domain.regions.models import Region
from domain.regions.rules import RegionCode


@dataclass(frozen=True)
class Viewer:
    """Who is asking, as the Monev tables need it (built by ``auth.policy.monev_viewer``)."""

    #: SQL condition on a placed table: the caller's rows.
    visible: Visible
    #: Whether the caller may see everything in a region (the region and all below it).
    sees: Callable[[str], bool]
    #: The caller's region; None = national.
    region: RegionCode | None
    #: Families whose counts are suppressed for this caller (they may read aggregates, not those rows).
    protected: frozenset[Family]
    threshold: int


@dataclass(frozen=True)
class Published:
    """One region's figures for one month, as the caller may see them: hidden counts are None."""

    code: str
    name: str
    month: Month
    counts: dict[str, int | None]
    amounts: dict[str, Decimal | None]
    denominator: Denominator

    @property
    def suppressed(self) -> bool:
        return any(v is None for v in self.counts.values())

    def count(self, cell: str) -> int | None:
        return self.counts[cell]

    @property
    def coverage_rate(self) -> float | None:
        """UCJ: active participants / employed population (None when either is unknown or withheld)."""
        active, employed = self.counts[cells.ACTIVE], self.denominator.employed_population
        if active is None or not employed:
            return None
        return active / employed

    @property
    def gap_to_target(self) -> float | None:
        """Target minus coverage rate, as a share (positive = still below target)."""
        rate, target = self.coverage_rate, self.denominator.target
        return None if rate is None or target is None else float(target) - rate

    @property
    def enrollment_rate(self) -> float | None:
        total, enrolled = self.counts[cells.POOR_TOTAL], self.counts[cells.POOR_ENROLLED]
        if total is None or enrolled is None or total == 0:
            return None
        return enrolled / total

    @property
    def jkm_within_target_share(self) -> float | None:
        within, late = self.counts[cells.JKM_WITHIN], self.counts[cells.JKM_LATE]
        if within is None or late is None or within + late == 0:
            return None
        return within / (within + late)


async def _names(conn: AsyncConnection, viewer: Viewer, codes: Sequence[str]) -> dict[str, str]:
    stmt = select(Region.code, Region.name).where(Region.code.in_(list(codes)), viewer.visible(Region))
    return {r.code: r.name for r in (await conn.execute(stmt)).all()}


async def region_exists(conn: AsyncConnection, viewer: Viewer, code: str) -> bool:
    """Whether `code` is a region the viewer may see (a region outside theirs does not exist for them)."""
    stmt = select(Region.code).where(Region.code == code, viewer.visible(Region))
    return (await conn.execute(stmt)).first() is not None


async def visible_children(conn: AsyncConnection, viewer: Viewer, parent: RegionCode) -> list[str]:
    """The sub-regions of `parent` the viewer sees in full, by code (all of them, with or without data)."""
    if child_level(parent) is None:
        return []
    stmt = select(Region.code).where(Region.parent_code == parent.code, viewer.visible(Region)).order_by(Region.code)
    return [r.code for r in (await conn.execute(stmt)).all() if viewer.sees(r.code)]


def _row_groups(area: str, month: str) -> list[Group]:
    return [((area, month, total), tuple((area, month, p) for p in parts)) for total, parts in cells.ROW_GROUPS]


def _values(table: Table, areas: Sequence[str], months: Sequence[Month]) -> dict[Key, int]:
    values: dict[Key, int] = {}
    for area in areas:
        for m in months:
            figures = table.get((area, m.key)) or AreaMonth()
            for cell, value in figures.counts.items():
                values[(area, m.key, cell)] = value
    return values


class _Patterns:
    """Suppressed cells down one path of the hierarchy, top first (see domain.monev.suppression)."""

    def __init__(self, conn: AsyncConnection, viewer: Viewer, months: Sequence[Month]) -> None:
        self.conn, self.viewer, self.months = conn, viewer, months
        self.hidden: set[Key] = set()
        self.tables: Table = {}

    def _fixed(self, area: str) -> dict[Key, bool]:
        return {
            (area, m.key, cell): (area, m.key, cell) in self.hidden for m in self.months for cell in cells.COUNT_CELLS
        }

    async def root(self, code: RegionCode) -> None:
        table = await area_figures(self.conn, code, self.months, self.viewer.visible, whole=self.viewer.sees(code.code))
        self.tables.update(table)
        values = _values(table, [code.code], self.months)
        groups = [g for m in self.months for g in _row_groups(code.code, m.key)]
        self.hidden |= suppress(values, groups, threshold=self.viewer.threshold, protected=self.viewer.protected)

    async def children(self, parent: RegionCode, children: Sequence[str]) -> None:
        """Suppress the table of `children` under `parent`, whose own pattern is already fixed."""
        table = await area_figures(
            self.conn, parent, self.months, self.viewer.visible, by_child=True, whole=self.viewer.sees(parent.code)
        )
        self.tables.update(table)
        if not children:
            return
        values = _values(table, children, self.months)
        fixed = self._fixed(parent.code)
        if len(children) == 1:
            # A lone sub-region equals its parent: it takes the parent's pattern.
            only = children[0]
            fixed = {(only, m, c): state for (_, m, c), state in fixed.items()}
            self.hidden |= {k for k, state in fixed.items() if state}
            return
        values.update(_values(self.tables, [parent.code], self.months))
        groups: list[Group] = []
        for m in self.months:
            for cell in cells.COUNT_CELLS:
                groups.append(((parent.code, m.key, cell), tuple((c, m.key, cell) for c in children)))
            for child in children:
                groups.extend(_row_groups(child, m.key))
        self.hidden |= suppress(
            values, groups, threshold=self.viewer.threshold, protected=self.viewer.protected, fixed=fixed
        )


def _root_for(viewer: Viewer, code: RegionCode) -> RegionCode:
    """Where suppression starts for this viewer: their own region, or the province (national callers)."""
    if viewer.region is not None and viewer.region.contains(code.code):
        return viewer.region
    return RegionCode(code.province)


def _path(root: RegionCode, target: RegionCode) -> list[RegionCode]:
    """root, ..., target (target lies within root)."""
    chain = [RegionCode(a) for a in target.ancestors if root.contains(a)]
    return [*chain, target]


async def _publish(
    conn: AsyncConnection,
    viewer: Viewer,
    tables: Table,
    hidden: set[Key],
    codes: Sequence[str],
    months: Sequence[Month],
) -> dict[tuple[str, str], Published]:
    names = await _names(conn, viewer, codes)
    dens = await denominators(conn, codes, sorted({m.year for m in months}))
    result: dict[tuple[str, str], Published] = {}
    for code in codes:
        for m in months:
            figures = tables.get((code, m.key)) or AreaMonth()
            counts: dict[str, int | None] = {
                c: None if (code, m.key, c) in hidden else v for c, v in figures.counts.items()
            }
            amounts = {
                a: None if counts[follows] is None else figures.amounts[a]
                for a, follows in cells.AMOUNT_FOLLOWS.items()
            }
            den = dens.get((code, m.year), Denominator(None, None))
            result[(code, m.key)] = Published(code, names.get(code, code), m, counts, amounts, den)
    return result


async def region_months(
    conn: AsyncConnection, viewer: Viewer, region: RegionCode, months: Sequence[Month]
) -> list[Published]:
    """`region`'s figures for each month (the caller must see the whole region; the caller checks that)."""
    if not viewer.protected:
        table = await area_figures(conn, region, months, viewer.visible, whole=viewer.sees(region.code))
        published = await _publish(conn, viewer, table, set(), [region.code], months)
        return [published[(region.code, m.key)] for m in months]
    patterns = _Patterns(conn, viewer, months)
    path = _path(_root_for(viewer, region), region)
    await patterns.root(path[0])
    for parent in path[:-1]:
        await patterns.children(parent, await visible_children(conn, viewer, parent))
    published = await _publish(conn, viewer, patterns.tables, patterns.hidden, [region.code], months)
    return [published[(region.code, m.key)] for m in months]


async def sub_region_months(
    conn: AsyncConnection, viewer: Viewer, parent: RegionCode, months: Sequence[Month]
) -> list[Published]:
    """One row per visible sub-region of `parent` and month (sub-regions without data appear with zeros)."""
    children = await visible_children(conn, viewer, parent)
    if not children:
        return []
    if not viewer.sees(parent.code):
        # `parent` is an ancestor of the caller's region: its only visible sub-region is the caller's own.
        rows = [p for code in children for p in await region_months(conn, viewer, RegionCode(code), months)]
        return sorted(rows, key=lambda p: (p.month, p.code))
    if not viewer.protected:
        table = await area_figures(conn, parent, months, viewer.visible, by_child=True, whole=viewer.sees(parent.code))
        published = await _publish(conn, viewer, table, set(), children, months)
    else:
        patterns = _Patterns(conn, viewer, months)
        path = _path(_root_for(viewer, parent), parent)
        await patterns.root(path[0])
        for above in path:
            await patterns.children(above, await visible_children(conn, viewer, above))
        published = await _publish(conn, viewer, patterns.tables, patterns.hidden, children, months)
    return [published[(c, m.key)] for m in months for c in children]
