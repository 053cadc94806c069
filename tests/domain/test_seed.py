"""The demo seed: deterministic, loads exactly what it generates, and every row obeys the domain rules.

Runs on SQLite and, when ``JAMSOS_TEST_POSTGRES_URL`` is set, on PostgreSQL too (its tables are dropped,
recreated and dropped again afterwards).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demo import COLUMNS, SIZES, TABLES, SeedError, generate, load_regions, seed
from demo.regions import sample_ratio
from domain.beneficiaries.models import SOURCE_MAX_DECILE, BeneficiarySource
from domain.claims.benefits import JKM_SCHOLARSHIP_MIN_MONTHS, SCHOLARSHIP_MAX_CHILDREN
from domain.claims.models import TRANSITIONS, ClaimStatus
from domain.db import Base, make_engine
from domain.models import Participant, Region, RegionYearFigure
from domain.nik import Sex, check_consistency, parse_nik
from domain.participants.rules import Program, Segment, program_problems
from domain.regions.rules import RegionLevel
from tests.databases import POSTGRES_URL, Databases

AS_OF = dt.date(2026, 6, 30)
SEED = 42
JKM_DEATH = Decimal(42_000_000)

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Seeded:
    engine: AsyncEngine
    counts: dict[str, int]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def seeded(request: pytest.FixtureRequest, databases: Databases) -> AsyncIterator[Seeded]:
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("JAMSOS_TEST_POSTGRES_URL is not set")
    url = await asyncio.to_thread(databases.empty, request.param, "seed")  # runs its own event loop
    eng = make_engine(url, null_pool=True)
    async with eng.begin() as conn:
        if request.param == "postgres":
            # The name-search index is a trigram index; migration 0005 creates the extension the same way.
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    counts = await seed(eng, "tiny", SEED, as_of=AS_OF)
    yield Seeded(eng, counts)
    if request.param == "postgres":
        async with eng.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
    await eng.dispose()


async def rows(engine: AsyncEngine, table: str) -> Rows:
    t = Base.metadata.tables[table]
    order = [t.c.id] if "id" in t.c else list(t.primary_key.columns)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(t).order_by(*order))).mappings()]


def _norm(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None, "UTCDateTime values come back aware"
        return value.astimezone(dt.UTC).isoformat()
    return value


def digest(table: str, tuples: Iterable[Iterable[Any]]) -> str:
    h = hashlib.sha256(table.encode())
    for row in tuples:
        h.update(repr(tuple(_norm(v) for v in row)).encode())
    return h.hexdigest()


def generated(seed_value: int = SEED) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for batch in generate("tiny", seed_value, as_of=AS_OF, chunk_size=64):
        for table, batch_rows in batch.items():
            out[table].extend(batch_rows)
    return out


def _key(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:2] if table == "participant_programs" else row[:1]


async def test_counts_match_the_size(seeded: Seeded) -> None:
    engine = seeded.engine
    counts = seeded.counts
    spec = SIZES["tiny"]
    assert counts["participants"] == spec.participants
    assert counts["poverty_beneficiaries"] == spec.beneficiaries
    assert counts["claims"] == spec.claims
    assert counts["employers"] == spec.employers
    for table in TABLES:
        assert len(await rows(engine, table)) == counts[table]


async def test_same_seed_same_rows_and_the_database_holds_them(seeded: Seeded) -> None:
    engine = seeded.engine
    first, second, other = generated(), generated(), generated(SEED + 1)
    for table in TABLES:
        assert digest(table, first[table]) == digest(table, second[table]), table
        in_db = [tuple(r[c] for c in COLUMNS[table]) for r in await rows(engine, table)]
        expected = sorted(first[table], key=lambda r: _key(table, r))
        assert digest(table, in_db) == digest(table, expected), f"{table} differs from the generated rows"
    assert digest("participants", other["participants"]) != digest("participants", first["participants"])


async def test_niks_are_valid_consistent_and_issued_in_existing_districts(seeded: Seeded) -> None:
    engine = seeded.engine
    async with engine.connect() as conn:
        districts = set((await conn.execute(select(Region.code).where(Region.level == RegionLevel.DISTRICT))).scalars())
    people = [*await rows(engine, "participants"), *await rows(engine, "poverty_beneficiaries")]
    for person in people:
        nik = parse_nik(person["nik"])
        assert check_consistency(nik, sex=Sex(person["sex"]), birth_date=person["birth_date"]) == []
        assert nik.district_code in districts
        assert nik.district_code.startswith("52.")
        assert person["region_code"].startswith("52.")
        assert person["region_code"].count(".") == 3
    participants = {p["id"]: p["nik"] for p in people if "membership_number" in p}
    claimant = {c["id"]: participants[c["participant_id"]] for c in await rows(engine, "claims")}
    others: dict[str, set[int]] = defaultdict(set)
    for b in await rows(engine, "claim_benefits"):
        if b["relationship"] == "SELF":
            assert b["recipient_nik"] == claimant[b["claim_id"]]
        elif b["recipient_nik"]:
            assert parse_nik(b["recipient_nik"]).district_code in districts
            others[b["recipient_nik"]].add(b["claim_id"])
    # Heirs and children are people of their own: each belongs to one claim, and is nobody else.
    assert others
    assert all(len(claim_ids) == 1 for claim_ids in others.values())
    assert not set(others) & {p["nik"] for p in people}


async def test_niks_unique_except_the_intended_matches(seeded: Seeded) -> None:
    engine = seeded.engine
    participants = {p["nik"]: p for p in await rows(engine, "participants")}
    beneficiaries = await rows(engine, "poverty_beneficiaries")
    assert len(participants) == SIZES["tiny"].participants
    assert len({b["nik"] for b in beneficiaries}) == len(beneficiaries)
    matched = [b for b in beneficiaries if b["nik"] in participants]
    assert {b["id"] for b in matched} == {b["id"] for b in beneficiaries if b["participant_id"] is not None}
    assert len(matched) == round(0.3 * len(beneficiaries))
    for b in matched:
        p = participants[b["nik"]]
        assert (b["participant_id"], b["full_name"], b["birth_date"], b["sex"]) == (
            p["id"], p["full_name"], p["birth_date"], p["sex"]
        )  # fmt: skip


async def test_segments_programmes_and_statuses(seeded: Seeded) -> None:
    engine = seeded.engine
    participants = await rows(engine, "participants")
    held: dict[int, set[Program]] = defaultdict(set)
    for e in await rows(engine, "participant_programs"):
        held[e["participant_id"]].add(Program(e["program"]))
    by_id = {p["id"]: p for p in participants}
    for e in await rows(engine, "participant_programs"):
        assert e["segment"] == by_id[e["participant_id"]]["segment"]
    employers = {e["id"] for e in await rows(engine, "employers")}
    month_end = dt.date(2026, 6, 30)
    for p in participants:
        segment = Segment(p["segment"])
        assert program_problems(segment, held[p["id"]]) == [], p["id"]
        if segment is Segment.PU:
            assert p["employer_id"] in employers
            assert p["funding_source"] == "EMPLOYER"
            assert p["monthly_wage"] >= Decimal(2_600_000)
        if p["status"] == "ACTIVE":
            assert p["paid_through"] == month_end
        if p["status"] == "INACTIVE":
            assert p["paid_through"] < AS_OF.replace(day=1)  # lapsed
        assert p["registered_at"].tzinfo is not None
        assert p["membership_number"].isdigit()
        assert len(p["membership_number"]) == 11
    mix = Counter(p["segment"] for p in participants)
    assert set(mix) == set(Segment)
    assert mix["PU"] > 60
    assert mix["BPU"] > 60
    assert {p["funding_source"] for p in participants if p["segment"] == "BPU"} >= {"SELF", "APBD"}
    assert {p["status"] for p in participants} == {"ACTIVE", "INACTIVE", "DECEASED", "RETIRED"}
    assert len({p["membership_number"] for p in participants}) == len(participants)


async def test_claims_follow_the_rules(seeded: Seeded) -> None:
    engine = seeded.engine
    claims = await rows(engine, "claims")
    participants = {p["id"]: p for p in await rows(engine, "participants")}
    held: dict[int, set[str]] = defaultdict(set)
    for e in await rows(engine, "participant_programs"):
        held[e["participant_id"]].add(e["program"])
    benefits: dict[int, Rows] = defaultdict(list)
    for b in await rows(engine, "claim_benefits"):
        benefits[b["claim_id"]].append(b)
    events: dict[int, Rows] = defaultdict(list)
    for e in await rows(engine, "claim_events"):
        events[e["claim_id"]].append(e)

    assert {c["status"] for c in claims} == set(ClaimStatus)
    assert {c["program"] for c in claims} == set(Program)
    for c in claims:
        p = participants[c["participant_id"]]
        assert c["program"] in held[p["id"]]
        for col in ("region_code", "province_code", "regency_code", "district_code"):
            assert c[col] == p[col]
        lines = benefits[c["id"]]
        assert lines, f"claim {c['claim_number']} has no benefit lines"
        total = sum(b["amount"] for b in lines)
        status = ClaimStatus(c["status"])
        approved = status in (ClaimStatus.APPROVED, ClaimStatus.PAID)
        assert c["amount_approved"] == (total if approved else None)
        assert (c["paid_at"] is not None) == (status is ClaimStatus.PAID)
        assert (c["rejection_reason"] is not None) == (status is ClaimStatus.REJECTED)
        if c["verified_by"] and c["approved_by"]:
            assert c["verified_by"] != c["approved_by"]
        assert bool(c["approved_by"]) == approved
        history = events[c["id"]]
        assert history[0]["status"] == "SUBMITTED"
        assert history[0]["at"] == c["submitted_at"]
        assert history[-1]["status"] == c["status"]
        for before, after in pairwise(history):
            assert ClaimStatus(after["status"]) in TRANSITIONS[ClaimStatus(before["status"])]
            assert after["at"] > before["at"]
        assert all(e["actor"] for e in history)
        assert history[-1]["at"] < dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
        if status is ClaimStatus.PAID:
            assert c["paid_at"] == history[-1]["at"]
        scholarships = [b for b in lines if b["kind"] == "SCHOLARSHIP"]
        assert len(scholarships) <= SCHOLARSHIP_MAX_CHILDREN
        assert all(b["education_level"] and b["relationship"] == "CHILD" for b in scholarships)
        if c["program"] == "JKM":
            assert p["status"] == "DECEASED"
            death = [b for b in lines if b["kind"] in ("LUMP_SUM", "PERIODIC", "FUNERAL")]
            assert sum(b["amount"] for b in death) == JKM_DEATH
            assert {b["relationship"] for b in death} <= {"SPOUSE", "CHILD"}
            assert len({b["recipient_nik"] for b in death}) == 1
            if not scholarships:
                assert total == JKM_DEATH
            else:
                assert p["contribution_months"] >= JKM_SCHOLARSHIP_MIN_MONTHS
        if c["program"] == "JKK" and any(b["kind"] == "DEATH" for b in lines):
            death_line = next(b for b in lines if b["kind"] == "DEATH")
            assert death_line["amount"] == 48 * p["monthly_wage"]
    numbers = [c["claim_number"] for c in claims]
    assert len(set(numbers)) == len(numbers)


async def test_beneficiaries(seeded: Seeded) -> None:
    engine = seeded.engine
    beneficiaries = await rows(engine, "poverty_beneficiaries")
    assert {b["source"] for b in beneficiaries} == set(BeneficiarySource)
    for b in beneficiaries:
        assert 1 <= b["decile"] <= SOURCE_MAX_DECILE[BeneficiarySource(b["source"])]
        kk = b["family_card_number"]
        assert kk.isdigit()
        assert len(kk) == 16
        assert kk.startswith(b["district_code"].replace(".", ""))
        assert b["snapshot_date"] <= AS_OF
    extreme = [b for b in beneficiaries if b["extreme_poor"]]
    assert extreme
    assert sum(b["decile"] == 1 for b in extreme) > len(extreme) / 2


async def test_regions_and_figures(seeded: Seeded) -> None:
    engine = seeded.engine
    async with engine.connect() as conn:
        by_level = select(Region.level, func.count()).where(Region.province_code == "52").group_by(Region.level)
        levels = dict((await conn.execute(by_level)).all())
        total = (await conn.execute(select(func.count()).select_from(Region))).scalar_one()
        mataram = (await conn.execute(select(Region.is_city).where(Region.regency_code == "52.71"))).scalars().all()
        lombok_barat = (
            (await conn.execute(select(Region.is_city).where(Region.regency_code == "52.01"))).scalars().all()
        )
        f = RegionYearFigure
        figures = (await conn.execute(select(f.region_code, f.year, f.employed_population, f.ucj_target))).all()
        orphans = (
            await conn.execute(
                text("SELECT count(*) FROM regions r LEFT JOIN regions p ON p.code = r.parent_code "
                     "WHERE r.parent_code IS NOT NULL AND p.code IS NULL")
            )
        ).scalar_one()  # fmt: skip
    assert levels == {
        RegionLevel.PROVINCE: 1,
        RegionLevel.REGENCY: 10,
        RegionLevel.DISTRICT: 117,
        RegionLevel.VILLAGE: 1166,
    }
    assert total > 90_000  # the whole of Indonesia
    assert orphans == 0
    assert mataram
    assert all(mataram)  # the kota, its districts and its kelurahan
    assert lombok_barat
    assert not any(lombok_barat)
    years = sorted({f.year for f in figures})
    assert years == list(range(2021, max(years) + 1))
    assert max(years) >= dt.date.today().year  # every year through the current one
    assert len(figures) == 11 * len(years)
    for year in years:
        province = next(f for f in figures if f.region_code == "52" and f.year == year)
        parts = [f.employed_population or 0 for f in figures if f.region_code != "52" and f.year == year]
        assert sum(parts) == province.employed_population
    target_2025 = next(f.ucj_target for f in figures if f.region_code == "52" and f.year == 2025)
    assert target_2025 == Decimal("0.62")  # NTB's target for 2025


async def test_denominators_are_scaled_to_the_sample(seeded: Seeded) -> None:
    """The tiny sample's employed population is NTB's divided by the sample ratio, so its rates look real."""
    f = RegionYearFigure
    async with seeded.engine.connect() as conn:
        employed = (
            await conn.execute(select(f.employed_population).where(f.region_code == "52", f.year == 2025))
        ).scalar_one()
        active = (
            await conn.execute(select(func.count()).select_from(Participant).where(Participant.status == "ACTIVE"))
        ).scalar_one()
    assert employed == round(2_930_000 / sample_ratio(SIZES["tiny"].participants))
    assert 0.2 < active / employed < 0.45  # NTB reported about 32 % in 2025


async def test_seeding_twice_does_not_duplicate(seeded: Seeded) -> None:
    engine = seeded.engine
    with pytest.raises(SeedError, match="already has"):
        await seed(engine, "tiny", SEED, as_of=AS_OF)
    skipped = await seed(engine, "tiny", SEED, as_of=AS_OF, if_exists="skip")
    assert set(skipped.values()) == {0}
    assert await load_regions(engine) == 0
    assert len(await rows(engine, "participants")) == SIZES["tiny"].participants


async def test_later_inserts_get_fresh_ids(seeded: Seeded) -> None:
    """The generator numbers rows itself; the id sequences were moved past them (PostgreSQL)."""
    employers = Base.metadata.tables["employers"]
    row = {
        "registration_number": "NPP-TEST-0001",
        "name": "PT Uji Coba",
        "jkk_risk_class": 1,
        "version": 1,
        "region_code": "52.71",
        "province_code": "52",
        "regency_code": "52.71",
        "district_code": None,
    }
    async with seeded.engine.connect() as conn:
        result = await conn.execute(employers.insert().values(row))
        assert result.inserted_primary_key is not None
        assert result.inserted_primary_key[0] == SIZES["tiny"].employers + 1
        await conn.rollback()  # the other tests of this module count the seeded rows


def test_the_demo_ledger_recounts_to_every_participants_figures() -> None:
    """The demo writes the payments behind each participant's figures, at the rule table's price."""
    from domain.participants.months import month_number

    data = generated()
    p_cols, c_cols = COLUMNS["participants"], COLUMNS["contributions"]
    payments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in data["contributions"]:
        c = dict(zip(c_cols, row, strict=True))
        payments[c["participant_id"]].append(c)
        assert c["last_month"] - c["first_month"] + 1 == c["months"] > 0
        if c["price_rule"] is not None:
            assert c["amount"] > 0
        if c["payer"] == "APBD":
            assert c["payer_region_code"]
    current = month_number(AS_OF)
    for row in data["participants"]:
        p = dict(zip(p_cols, row, strict=True))
        mine = payments.get(p["id"], [])
        assert p["contribution_months"] == sum(c["months"] for c in mine)
        assert p["paid_through"] == max((c["period_to"] for c in mine), default=None)
        recent = sum(max(0, min(c["last_month"], current) - max(c["first_month"], current - 23) + 1) for c in mine)
        assert p["recent_contribution_months"] == recent
        last = max((c["last_month"] for c in mine), default=None)
        if p["status"] in ("ACTIVE", "INACTIVE"):
            assert (p["status"] == "ACTIVE") == (last is not None and last >= current)
        assert (p["died_on"] is not None) == (p["status"] == "DECEASED")


@pytest.mark.parametrize("seed_value", [SEED, 7, 2026])
def test_the_demo_ledger_costs_what_the_rule_table_says(seed_value: int) -> None:
    """Property over the seed (issue 22 item 7): every seeded payment the contribution table prices costs, in
    each of its months, that month's price for the programmes held then (the segment's package or the wage
    rates), paid by the participant's funder; the rest are the months the table does not price (before its
    first rule, JAKON per project, PMI per placement), recorded as opening balances of 0."""
    from demo.demo import held_in
    from domain.participants.contributions import NoPrice, monthly_price
    from domain.participants.months import month_start

    data = generated(seed_value)
    people = {r[0]: dict(zip(COLUMNS["participants"], r, strict=True)) for r in data["participants"]}
    risk = {r[0]: r[COLUMNS["employers"].index("jkk_risk_class")] for r in data["employers"]}
    held: dict[int, dict[Program, dt.date]] = defaultdict(dict)
    for pid, program, _segment, since in data["participant_programs"]:
        held[pid][Program(program)] = since
    priced = unpriced = 0
    apbd_total = Decimal(0)
    for row in data["contributions"]:
        c = dict(zip(COLUMNS["contributions"], row, strict=True))
        p = people[c["participant_id"]]
        assert c["payer"] == p["funding_source"]  # the right payer
        registered = p["registered_at"].date()
        employer_risk = risk.get(p["employer_id"])
        for month in range(c["first_month"], c["last_month"] + 1):
            programs = held_in(held[p["id"]], registered, month)
            assert c["programs"] == " ".join(
                sorted(x.value for x in held_in(held[p["id"]], registered, c["first_month"]))
            )
            try:
                price = monthly_price(
                    Segment(p["segment"]),
                    programs,
                    month_start(month),
                    wage=p["monthly_wage"],
                    risk_class=employer_risk,
                ).amount
            except NoPrice:
                assert c["amount"] == 0, c
                assert c["price_rule"] is None, c
                assert c["reference"].startswith("DEMO-OPENING-")
                unpriced += 1
                continue
            assert c["price_rule"] is not None, c
            assert c["amount"] == price * c["months"], (c, month, price)
            priced += 1
        if c["payer"] == "APBD" and p["segment"] == "BPU":
            apbd_total += c["amount"]
            assert c["amount"] > 0  # a regional budget pays from 2021: every month of its BPU package is priced
    assert priced > unpriced > 0
    assert apbd_total > 0
