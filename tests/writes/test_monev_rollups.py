"""The Monev rollups stay equal to a recount through every write path, and the figures read from them equal the
figures read from the base tables.

The triggers (domain.monev.rollup_sql) keep the rollups; tests/rollup_check.py recounts them. The autouse
fixture of this folder already checks every write test; the tests here drive the paths on purpose: a random
mix of registrations, payments, corrections, moves, enrolments, the ledger's set-based recount and plain SQL,
a move between regions, a write rolled back, two conflicting corrections, and a bulk load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import insert, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from strawberry.relay import from_base64, to_base64

from domain.beneficiaries.models import PovertyBeneficiary
from domain.monev import rollups
from domain.monev.figures import AreaMonth, Table, area_figures
from domain.monev.periods import Month
from domain.participants.ledger import recompute_participant_figures
from domain.participants.models import Participant, ParticipantProgram
from domain.regions.rules import RegionCode
from tests.rollup_check import rollup_drift, rollup_rows
from tests.writes.conftest import first_of_month

UPDATE = """
mutation($id: ID!, $input: UpdateParticipantInput!, $reason: String!) {
  updateParticipant(id: $id, input: $input, reason: $reason) {
    participant { id version region { code } }
    errors { field code message }
  }
}"""
ENROL = """mutation($id: ID!) {
  enrollBeneficiary(beneficiaryId: $id) { participant { id } errors { code } }
}"""
VILLAGES = {
    "verifier": ["52.71.01.1004", "52.71.01.1005", "52.71.02.1001", "52.71.02.1008"],
    "officer_5203": ["52.03.01.2001", "52.03.01.2002"],
}
#: Areas whose figures are compared (rollups against base tables), with whether to group by sub-region.
AREAS = [("52", False), ("52", True), ("52.71", False), ("52.71", True), ("52.03", True), ("52.71.01", False)]


def _months() -> list[Month]:
    now = Month.of(dt.date.today())
    return [now, Month.of(first_of_month(1)), Month.of(first_of_month(7)), Month.of(first_of_month(30))]


def _meaningful(table: Table) -> dict[tuple[str, str], AreaMonth]:
    """Entries that say something: the rollups have rows (of zero sum) where the base tables have none."""
    return {k: v for k, v in table.items() if any(v.counts.values()) or any(a for a in v.amounts.values() if a)}


async def assert_rollups_read_like_base_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await rollups.maintained(conn)
        for code, by_child in AREAS:
            region = RegionCode(code)
            args = (conn, region, _months(), lambda _model: true())
            from_rollups = await area_figures(*args, by_child=by_child, whole=True)
            from_rows = await area_figures(*args, by_child=by_child, whole=False)
            assert _meaningful(from_rollups) == _meaningful(from_rows), (code, by_child)


async def _figures(engine: AsyncEngine, code: str) -> AreaMonth:
    async with engine.connect() as conn:
        table = await area_figures(conn, RegionCode(code), _months()[:1], lambda _m: true(), whole=True)
    return table.get((code, _months()[0].key)) or AreaMonth()


async def _unlinked_beneficiary(engine: AsyncEngine, rng: random.Random) -> int | None:
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                select(PovertyBeneficiary.id).where(
                    PovertyBeneficiary.participant_id.is_(None),
                    PovertyBeneficiary.extreme_poor.is_(True),
                    PovertyBeneficiary.regency_code == "52.03",
                    PovertyBeneficiary.nik.not_in(select(Participant.nik)),
                )
            )
        ).scalars()
        pool = list(ids)
    return rng.choice(pool) if pool else None


@pytest.mark.parametrize("seed", [5, 17])
async def test_a_random_mix_of_writes_keeps_the_rollups_equal_to_a_recount(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Any, seed: int
) -> None:
    rng = random.Random(seed)
    people: list[tuple[str, str, int]] = []  # (global id, caller, version)
    for _ in range(8):
        caller = rng.choice(list(VILLAGES))
        village = rng.choice(VILLAGES[caller])
        segment = "BPU"
        funding = rng.choice(["SELF", "APBD"])
        p = (
            await register(
                new_nik(village[:8]), caller=caller, regionCode=village, segment=segment, fundingSource=funding
            )
        )["participant"]
        people.append((p["id"], caller, p["version"]))
    for step in range(14):
        i = rng.randrange(len(people))
        gid, caller, _ = people[i]
        action = rng.choice(["pay", "pay", "back-pay", "move", "fund", "programs", "enrol", "recount", "sql"])
        if action == "pay":
            await pay(gid, rng.randint(1, 4), caller=caller, check=False)  # may reach too far ahead: refused
        elif action == "back-pay":
            await pay(gid, rng.randint(1, 3), from_month=first_of_month(rng.randint(1, 2)), caller=caller, check=False)
        elif action in ("move", "fund", "programs"):
            async with writes.engine.connect() as conn:
                version = (
                    await conn.execute(select(Participant.version).where(Participant.id == int(from_base64(gid)[1])))
                ).scalar_one()
            change: dict[str, Any] = {
                "move": {"regionCode": rng.choice(VILLAGES[caller])},
                "fund": {"fundingSource": rng.choice(["SELF", "APBD", "CSR"])},
                "programs": {"programs": rng.choice([["JKK", "JKM"], ["JKK", "JKM", "JHT"]])},
            }[action]
            body = await writes.gql(
                UPDATE,
                {"id": gid, "input": {"expectedVersion": version, "reasonCode": "OTHER", **change}, "reason": action},
                staff[caller],
            )
            assert "errors" not in body, body
        elif action == "enrol":
            bid = await _unlinked_beneficiary(writes.engine, rng)
            if bid is not None:
                body = await writes.gql(ENROL, {"id": to_base64("PovertyBeneficiary", bid)}, staff["officer_5203"])
                assert "errors" not in body, body
        elif action == "recount":
            # The ledger's set-based recount over everybody touched so far.
            async with AsyncSession(writes.engine) as session, session.begin():
                ids = [int(from_base64(g)[1]) for g, _, _ in people]
                await recompute_participant_figures(session, ids)
        else:
            # A bulk path in plain SQL: several rows in one statement (PostgreSQL: one statement-level trigger).
            async with writes.engine.begin() as conn:
                ids = [int(from_base64(g)[1]) for g, _, _ in people[:4]]
                await conn.execute(
                    update(Participant)
                    .where(Participant.id.in_(ids))
                    .values(registered_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=rng.randint(40, 900)))
                )
        assert await rollup_drift(writes.engine) == {}, (step, action)
    await assert_rollups_read_like_base_tables(writes.engine)


async def test_a_move_between_regions_moves_the_figures(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Any
) -> None:
    p = (await register(new_nik("52.71.01"), regionCode="52.71.01.1004"))["participant"]
    await pay(p["id"], 3)
    here, there = await _figures(writes.engine, "52.71.01"), await _figures(writes.engine, "52.71.02")
    body = await writes.gql(
        UPDATE,
        {
            "id": p["id"],
            "input": {"expectedVersion": p["version"] + 1, "reasonCode": "OTHER", "regionCode": "52.71.02.1001"},
            "reason": "moved house",
        },
        staff["verifier"],
    )
    assert body["data"]["updateParticipant"]["errors"] == [], body
    here_after, there_after = await _figures(writes.engine, "52.71.01"), await _figures(writes.engine, "52.71.02")
    for cell in ("participants", "active", "segment:BPU:active", "funding:SELF:active"):
        assert here_after.counts[cell] == here.counts[cell] - 1, cell
        assert there_after.counts[cell] == there.counts[cell] + 1, cell
    moved = here.amounts["funding:SELF:amount"] - here_after.amounts["funding:SELF:amount"]  # type: ignore[operator]
    assert moved > 0
    assert there_after.amounts["funding:SELF:amount"] == there.amounts["funding:SELF:amount"] + moved  # type: ignore[operator]
    assert await rollup_drift(writes.engine) == {}


async def test_a_rolled_back_write_leaves_the_rollups_unchanged(writes: Any, register: Any, new_nik: Any) -> None:
    p = (await register(new_nik()))["participant"]
    pid = int(from_base64(p["id"])[1])
    async with writes.engine.connect() as conn:
        before = await conn.run_sync(rollup_rows)
    async with writes.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(
            update(Participant)
            .where(Participant.id == pid)
            .values(paid_through=dt.date.today() + dt.timedelta(days=90))
        )
        during = await conn.run_sync(rollup_rows)
        await transaction.rollback()
    async with writes.engine.connect() as conn:
        after = await conn.run_sync(rollup_rows)
    assert during != before  # the trigger did run inside the transaction
    assert after == before


async def test_two_conflicting_corrections_count_the_participant_once(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Any
) -> None:
    p = (await register(new_nik("52.71.01"), regionCode="52.71.01.1004"))["participant"]
    await pay(p["id"], 2)
    version = p["version"] + 1
    moves = [
        writes.gql(
            UPDATE,
            {
                "id": p["id"],
                "input": {"expectedVersion": version, "reasonCode": "OTHER", "regionCode": v},
                "reason": "m",
            },
            staff[who],
        )
        for v, who in (("52.71.02.1001", "verifier"), ("52.71.02.1008", "supervisor"))
    ]
    results = await asyncio.gather(*moves)
    won = [r for r in results if r.get("data") and r["data"]["updateParticipant"]["participant"]]
    assert len(won) == 1, results
    assert await rollup_drift(writes.engine) == {}
    async with writes.engine.connect() as conn:
        where = await conn.execute(
            text(
                "SELECT region_code FROM monev_participant_months WHERE level = 'DISTRICT' AND region_code = '52.71.01'"
            )
        )
        assert where.first() is not None  # the district still has its rows; the recount above says they are right


async def test_a_bulk_load_suspends_the_triggers_and_one_rebuild_catches_up(
    writes: Any, register: Any, new_nik: Any
) -> None:
    p = (await register(new_nik()))["participant"]
    pid = int(from_base64(p["id"])[1])
    async with writes.engine.begin() as conn:
        await conn.run_sync(rollups.suspend)
        before = await conn.run_sync(rollup_rows)
        await conn.execute(update(Participant).where(Participant.id == pid).values(paid_through=dt.date(2031, 1, 31)))
        assert await conn.run_sync(rollup_rows) == before  # suspended: nothing kept row by row
        assert not await rollups.maintained(conn)  # ... and the figures read the base tables meanwhile
        await conn.run_sync(rollups.rebuild)
        assert await rollups.maintained(conn)
    assert await rollup_drift(writes.engine) == {}
    await _figures_from_the_ledger_again(writes.engine, pid)


async def _figures_from_the_ledger_again(engine: Any, pid: int) -> None:
    """Undo a paid-through month written directly (to exercise a trigger): the ledger's figures again, so the
    database stays one whose figures recount from its ledger (test_ledger checks that of every participant)."""
    async with AsyncSession(engine) as session, session.begin():
        await recompute_participant_figures(session, [pid])
    assert await rollup_drift(engine) == {}


async def test_the_recount_check_has_teeth(writes: Any) -> None:
    async with writes.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE monev_participant_months SET registered = registered + 1"
                " WHERE month = (SELECT min(month) FROM monev_participant_months)"
            )
        )
    try:
        assert await rollup_drift(writes.engine) != {}
    finally:
        async with writes.engine.begin() as conn:
            await conn.run_sync(rollups.rebuild)


async def test_a_programme_added_while_its_participant_is_paid_for_is_counted_with_the_payment(
    writes: Any, register: Any, new_nik: Any
) -> None:
    """Two transactions at once: one moves the participant's paid-through month, the other adds a programme.
    Each trigger counts its change against what it can see; the programme's must wait for the payment."""
    p = (await register(new_nik(), programs=["JKK", "JKM"]))["participant"]
    pid = int(from_base64(p["id"])[1])
    async with writes.engine.connect() as payment:
        transaction = await payment.begin()
        await payment.execute(
            update(Participant)
            .where(Participant.id == pid)
            .values(paid_through=dt.date.today() + dt.timedelta(days=95))
        )

        async def add_programme() -> None:
            async with writes.engine.begin() as conn:
                await conn.execute(
                    insert(ParticipantProgram).values(
                        participant_id=pid, program="JHT", segment="BPU", since=dt.date.today().replace(day=1)
                    )
                )

        adding = asyncio.create_task(add_programme())
        await asyncio.sleep(0.5)
        await transaction.commit()
        await adding
    assert await rollup_drift(writes.engine) == {}
    await _figures_from_the_ledger_again(writes.engine, pid)
