"""Every Monev figure equals a brute-force recount of the rows, over random data sets, on every backend.

The oracle below reads the rows into Python and counts them with its own reading of the definitions
(month boundaries in WITA, "active" = paid through the month's last day and alive and not retired on it,
working days without weekends), so
a wrong GROUP BY, join or boundary in domain.monev shows up as a mismatch.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import monev_viewer
from auth.principal import Principal, PrincipalKind
from auth.scopes import Scope
from domain.monev import cells
from domain.monev.periods import Month
from domain.monev.tables import Published, region_months, sub_region_months
from domain.regions.rules import RegionCode
from tests.monev.conftest import WITA, Data, load, random_data

SEEDS = [11, 23, 37, 41, 53]
NOW = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)


def _within(area: str, code: str) -> bool:
    return code == area or code.startswith(area + ".")


def _bounds(m: Month) -> tuple[dt.datetime, dt.datetime, dt.date]:
    start = dt.datetime(m.year, m.month, 1, tzinfo=WITA)
    nxt = dt.datetime(m.year + m.month // 12, m.month % 12 + 1, 1, tzinfo=WITA)
    return start, nxt, dt.date(m.year, m.month, calendar.monthrange(m.year, m.month)[1])


def _working_days_between(first: dt.date, last: dt.date) -> int:
    """Mon-Fri days after `first` up to and including `last`."""
    days, d = 0, first
    while d < last:
        d += dt.timedelta(days=1)
        days += d.weekday() < 5
    return days


def recount(data: Data, area: str, m: Month, visible: str | None) -> tuple[dict[str, int], dict[str, Decimal]]:
    start, end, last = _bounds(m)

    def seen(row: dict[str, Any]) -> bool:
        return _within(area, row["region_code"]) and (visible is None or _within(visible, row["region_code"]))

    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    people = {p["id"]: p for p in data.participants}

    def registered(p: dict[str, Any]) -> bool:
        return bool(p["registered_at"] < end)

    def active(p: dict[str, Any]) -> bool:
        paid = p["paid_through"] is not None and p["paid_through"] >= last
        gone = any(p[k] is not None and p[k] <= last for k in ("died_on", "retired_on"))
        return registered(p) and paid and not gone

    for p in data.participants:
        if not seen(p) or not registered(p):
            continue
        counts[cells.PARTICIPANTS] += 1
        counts[f"segment:{p['segment']}:total"] += 1
        if active(p):
            counts[cells.ACTIVE] += 1
            counts[f"segment:{p['segment']}:active"] += 1
            counts[f"funding:{p['funding_source']}:active"] += 1
    for pp in data.programs:
        p = people[pp["participant_id"]]
        if seen(p) and active(p) and pp["since"] <= last:
            counts[f"program:{pp['program']}:active"] += 1
    total, enrolled, act = set(), set(), set()
    for b in data.beneficiaries:
        if not seen(b) or not b["extreme_poor"] or b["snapshot_date"] > last:
            continue
        total.add(b["nik"])
        p = people.get(b["participant_id"])
        if p is not None and registered(p):
            enrolled.add(b["nik"])
            if active(p):
                act.add(b["nik"])
    counts[cells.POOR_TOTAL], counts[cells.POOR_ENROLLED], counts[cells.POOR_ACTIVE] = (
        len(total),
        len(enrolled),
        len(act),
    )
    number = m.year * 12 + m.month - 1
    for k in data.contributions:
        if seen(people[k["participant_id"]]) and k["first_month"] <= number <= k["last_month"]:
            amounts[f"funding:{k['payer']}:amount"] += k["amount"] / k["months"]
    verified = {e["claim_id"]: e["at"] for e in data.events if e["status"] == "VERIFIED"}
    for c in data.claims:
        if not seen(c):
            continue
        if start <= c["submitted_at"] < end:
            counts[f"claims:{c['program']}:submitted"] += 1
        if c["status"] == "PAID" and start <= c["paid_at"] < end:
            counts[f"claims:{c['program']}:paid"] += 1
            amounts[f"claims:{c['program']}:paidAmount"] += c["amount_approved"] or 0
            for b in data.benefits:
                if b["claim_id"] == c["id"] and b["kind"] == "SCHOLARSHIP":
                    amounts[f"claims:{c['program']}:scholarship"] += b["amount"]
            if c["program"] == "JKM":
                at = verified.get(c["id"])
                on_time = (
                    at is not None
                    and _working_days_between(at.astimezone(WITA).date(), c["paid_at"].astimezone(WITA).date()) <= 3
                )
                counts[cells.JKM_WITHIN if on_time else cells.JKM_LATE] += 1
    return {k: v for k, v in counts.items() if v}, dict(amounts)


def _assert_matches(published: Published, data: Data, visible: str | None) -> None:
    counts, amounts = recount(data, published.code, published.month, visible)
    got = {k: v for k, v in published.counts.items() if v}
    assert got == counts, (published.code, published.month)
    for name, value in published.amounts.items():
        assert value == amounts.get(name, Decimal(0)).quantize(Decimal(1)), (published.code, published.month, name)


def _months(rng: random.Random) -> list[Month]:
    picked = {Month(2021, 11), Month.of(NOW.date())}
    while len(picked) < 6:
        picked.add(Month(rng.randint(2021, 2026), rng.randint(1, 12)))
    return sorted(m for m in picked if Month(2021, 11) <= m <= Month.of(NOW.date()))


def _viewer(region: str | None) -> Any:
    scopes = frozenset(Scope)  # reads the rows: nothing suppressed, the figures are the plain counts
    return monev_viewer(
        Principal("t", PrincipalKind.USER, scopes=scopes, region=RegionCode(region) if region else None)
    )


@pytest.mark.parametrize("seed", SEEDS)
async def test_every_figure_equals_a_recount(monev_engine: AsyncEngine, seed: int) -> None:
    data = random_data(seed, NOW)
    await load(monev_engine, data)
    months = _months(random.Random(seed))
    national = _viewer(None)
    async with monev_engine.connect() as conn:
        for code in ("52", "52.01", "52.71.02", "52.71.01.1005", "52.02"):
            for p in await region_months(conn, national, RegionCode(code), months):
                _assert_matches(p, data, None)
        for parent in ("52", "52.71", "52.01.02"):
            rows = await sub_region_months(conn, national, RegionCode(parent), months)
            children = {p.code for p in rows}
            assert len(rows) == len(children) * len(months)
            for p in rows:
                _assert_matches(p, data, None)
        assert "52.72" in {p.code for p in await sub_region_months(conn, national, RegionCode("52"), months[:1])}


@pytest.mark.parametrize("seed", SEEDS[:2])
async def test_a_regional_caller_counts_only_its_rows(monev_engine: AsyncEngine, seed: int) -> None:
    data = random_data(seed, NOW)
    await load(monev_engine, data)
    months = _months(random.Random(seed))
    bound = _viewer("52.71")
    async with monev_engine.connect() as conn:
        rows = await sub_region_months(conn, bound, RegionCode("52"), months)
        assert {p.code for p in rows} == {"52.71"}
        for p in rows:
            _assert_matches(p, data, "52.71")
        for p in await sub_region_months(conn, bound, RegionCode("52.71"), months):
            _assert_matches(p, data, "52.71")
