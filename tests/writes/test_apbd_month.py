"""The monthly APBD run (domain.participants.apbd): whose budget, which workers, idempotent, resumable, and the
Monev's APBD amount from the booked payments. On a database of its own (it books a month for a whole regency)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.audit.models import AuditEvent
from domain.audit.writes import Actor, verify_chain
from domain.db import make_engine
from domain.monev import cells
from domain.monev.figures import area_figures
from domain.monev.periods import Month
from domain.participants.apbd import apbd_reference, book_apbd_month
from domain.participants.contributions import monthly_price
from domain.participants.models import Contribution, FundingSource, Participant, ParticipantProgram
from domain.participants.months import month_number
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller
from domain.writes.errors import Invalid
from tests.live import jamsos_here, service_env
from tests.rollup_check import rollup_drift
from tests.writes.conftest import first_of_month

NEXT_MONTH = first_of_month(-1)


def office(region: str | None) -> Caller:
    return Caller(
        actor=Actor(subject=f"dinsos@{region or 'national'}", kind="user"),
        within=RegionCode.parse(region) if region else None,
    )


@pytest.fixture
def apbd_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    return seeded_database(backend, "apbd_month")  # a fresh copy for each test


@pytest.fixture
async def apbd_db(apbd_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(apbd_url, null_pool=True)
    try:
        yield engine
        assert await rollup_drift(engine) == {}, "the Monev rollups differ from a recount"
        async with AsyncSession(engine) as session:
            report = await verify_chain(session)
        assert report.ok, report.problem
    finally:
        await engine.dispose()


async def _book(engine: AsyncEngine, caller: Caller, payer: str, month: dt.date, **options: Any) -> Any:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        outcome = await book_apbd_month(session, caller, payer, month, **options)
        if outcome.written:
            await session.commit()
        else:
            await session.rollback()
    return outcome


async def _booked(engine: AsyncEngine, payer: str, month: dt.date) -> set[tuple[Any, ...]]:
    prefix = apbd_reference(payer, month, 0)[:-1]
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                Contribution.participant_id,
                Contribution.first_month,
                Contribution.months,
                Contribution.amount,
                Contribution.payer,
                Contribution.payer_region_code,
                Contribution.reference,
                Contribution.price_rule,
            ).where(Contribution.reference.like(prefix + "%"))
        )
        return {tuple(r) for r in rows}


async def _apbd_amount(engine: AsyncEngine, region: str, month: dt.date, *, rollups: bool) -> Decimal:
    async with engine.connect() as conn:
        when = Month.of(month)
        table = await area_figures(conn, RegionCode.parse(region), [when], lambda _m: true(), whole=rollups)
    figures = table.get((region, when.key))
    amount = figures.amounts[cells.funding_amount(FundingSource.APBD)] if figures else None
    return amount or Decimal(0)


async def _expected(engine: AsyncEngine, regency: str, month: dt.date) -> dict[int, Decimal]:
    """The test's own oracle: APBD-funded members of the regency with no APBD payment by another payer, and
    the month not yet paid, priced from the rule table."""
    n = month_number(month)
    async with engine.connect() as conn:
        people = (
            await conn.execute(
                select(Participant).where(
                    Participant.regency_code == regency,
                    Participant.funding_source == FundingSource.APBD,
                    Participant.status.in_(["ACTIVE", "INACTIVE"]),
                )
            )
        ).all()
        expected = {}
        for p in people:
            payments = (await conn.execute(select(Contribution).where(Contribution.participant_id == p.id))).all()
            apbd = sorted((c for c in payments if c.payer == FundingSource.APBD), key=lambda c: (c.last_month, c.id))
            if apbd and apbd[-1].payer_region_code != regency:
                continue
            if any(c.first_month <= n <= c.last_month for c in payments):
                continue
            programs = (
                await conn.execute(select(ParticipantProgram.program).where(ParticipantProgram.participant_id == p.id))
            ).scalars()
            expected[p.id] = monthly_price(p.segment, frozenset(programs), month, wage=p.monthly_wage).amount
    return expected


async def test_a_payer_outside_the_callers_region_is_refused_before_any_row_is_read(apbd_db: AsyncEngine) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(apbd_db.sync_engine, "before_cursor_execute", seen)
    try:
        for caller, payer, code in [
            (office("52.71"), "52.03", "PAYER_OUT_OF_REGION"),  # another regency's budget
            (office("52.03"), "52", "PAYER_OUT_OF_REGION"),  # the province above: not the regency's budget
            (office("52.03.01"), "52.03", "PAYER_OUT_OF_REGION"),  # a district office under it
            (office(None), "52.03.01", "NOT_A_BUDGET"),  # a district has no APBD
            (office(None), "52.3", "INVALID_REGION"),
        ]:
            with pytest.raises(Invalid) as refused:
                await _book(apbd_db, caller, payer, NEXT_MONTH)
            assert [p.code for p in refused.value.problems] == [code], (caller.within, payer)
    finally:
        event.remove(apbd_db.sync_engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "participants" in s or "contributions" in s], statements
    with pytest.raises(Invalid) as unknown:
        await _book(apbd_db, office(None), "52.99", NEXT_MONTH)
    assert [p.code for p in unknown.value.problems] == ["UNKNOWN_REGION"]
    with pytest.raises(Invalid) as ahead:
        await _book(apbd_db, office("52.03"), "52.03", first_of_month(-14))
    assert [p.code for p in ahead.value.problems] == ["TOO_FAR_AHEAD"]


async def test_book_the_month_dry_run_then_twice_same_rows_and_the_monev_amount(apbd_db: AsyncEngine) -> None:
    expected = await _expected(apbd_db, "52.03", NEXT_MONTH)
    assert len(expected) >= 5, "the tiny data set funds a few workers from Lombok Timur's APBD"
    before = await _apbd_amount(apbd_db, "52.03", NEXT_MONTH, rollups=True)
    async with apbd_db.connect() as conn:
        events_before = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()

    dry = await _book(apbd_db, office("52.03"), "52.03", NEXT_MONTH, dry_run=True)
    assert (dry.written, dry.booked, dry.amount) == (False, len(expected), sum(expected.values()))
    assert await _booked(apbd_db, "52.03", NEXT_MONTH) == set()

    done = await _book(apbd_db, office("52.03"), "52.03", NEXT_MONTH)
    assert (done.booked, done.already_booked, done.refused, done.amount) == (
        len(expected), 0, 0, sum(expected.values())
    )  # fmt: skip
    rows = await _booked(apbd_db, "52.03", NEXT_MONTH)
    n = month_number(NEXT_MONTH)
    assert {(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows} == {
        (pid, n, 1, amount, FundingSource.APBD, "52.03") for pid, amount in expected.items()
    }
    async with apbd_db.connect() as conn:
        events = (
            await conn.execute(select(AuditEvent).where(AuditEvent.seq > events_before).order_by(AuditEvent.seq))
        ).all()
        figures = select(Participant.id, Participant.paid_through).where(Participant.id.in_(expected))
        paid = dict((await conn.execute(figures)).all())
    # One event per worker booked, in participant order, each naming its payment.
    assert [(e.action, int(e.entity_id)) for e in events] == [("contribution.record", pid) for pid in sorted(expected)]
    assert all(e.changes["payments"]["after"][0]["reference"].startswith("APBD-52.03-") for e in events)
    assert all(paid[pid] is not None and paid[pid] >= NEXT_MONTH for pid in expected)
    # The Monev's "iuran APBD" of the month is the booked payments, read from the rollups and from the ledger.
    after = await _apbd_amount(apbd_db, "52.03", NEXT_MONTH, rollups=True)
    assert after - before == sum(expected.values())
    assert await _apbd_amount(apbd_db, "52.03", NEXT_MONTH, rollups=False) == after

    again = await _book(apbd_db, office("52.03"), "52.03", NEXT_MONTH)
    assert (again.booked, again.already_booked, again.amount) == (0, len(expected), 0)
    assert await _booked(apbd_db, "52.03", NEXT_MONTH) == rows
    # A national administrator naming the same payer books nothing more either.
    national = await _book(apbd_db, office(None), "52.03", NEXT_MONTH)
    assert (national.booked, national.already_booked) == (0, len(expected))
    # The province's budget funds none of Lombok Timur's workers: each is the regency's.
    province = await _book(apbd_db, office("52"), "52", NEXT_MONTH, dry_run=True)
    assert not {r.participant_id for r in province.refusals} & set(expected)
    assert await _booked(apbd_db, "52", NEXT_MONTH) == set()


async def test_a_run_stopped_after_a_page_resumes_to_the_same_rows(apbd_db: AsyncEngine) -> None:
    month = first_of_month(-2)
    expected = await _expected(apbd_db, "52.03", month)
    # A worker who died is no longer funded; one who pays for themselves is not the budget's.
    victim, switched = sorted(expected)[:2]
    async with apbd_db.begin() as conn:
        await conn.execute(
            update(Participant).where(Participant.id == victim).values(status="DECEASED", died_on=dt.date.today())
        )
        await conn.execute(update(Participant).where(Participant.id == switched).values(funding_source="SELF"))
    del expected[victim], expected[switched]

    class Crash(Exception):
        pass

    async with AsyncSession(apbd_db) as session:

        async def checkpoint(cursor: int) -> None:
            await session.commit()  # what a job runner does at a checkpoint; then the worker dies
            raise Crash(cursor)

        with pytest.raises(Crash) as crashed:
            await book_apbd_month(session, office("52.03"), "52.03", month, page=2, checkpoint=checkpoint)
    cursor = int(crashed.value.args[0])
    assert len(await _booked(apbd_db, "52.03", month)) == 2
    # Resumed from the cursor, and once more from the start (a lost cursor): nothing twice, nothing missing.
    resumed = await _book(apbd_db, office("52.03"), "52.03", month, after_id=cursor, page=2)
    assert resumed.booked == len(expected) - 2
    restarted = await _book(apbd_db, office("52.03"), "52.03", month)
    assert (restarted.booked, restarted.already_booked) == (0, len(expected))
    rows = await _booked(apbd_db, "52.03", month)
    assert sorted((r[0], r[3]) for r in rows) == sorted(expected.items())


def test_cli_apbd_month_dry_run_then_book_then_nothing_twice(apbd_url: str, tmp_path: Path) -> None:
    env = service_env(apbd_url, tmp_path)

    month = f"{first_of_month(-3):%Y-%m}"
    dry = jamsos_here(env, "contributions", "apbd-month", "--payer", "52.03", "--month", month, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing written" in dry.stdout
    cost = next(line for line in dry.stdout.splitlines() if "cost of the month" in line)
    done = jamsos_here(env, "contributions", "apbd-month", "--payer", "52.03", "--month", month, "--region", "52.03")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"APBD 52.03 {month}: booked" in done.stdout
    assert cost in done.stdout  # the dry run's cost is what the run booked
    again = jamsos_here(env, "contributions", "apbd-month", "--payer", "52.03", "--month", month)
    assert "· booked 0 ·" in again.stdout
    assert "cost of the month: Rp0" in again.stdout
    refused = jamsos_here(env, "contributions", "apbd-month", "--payer", "52.03", "--month", month, "--region", "52.71")
    assert refused.returncode == 2
    assert "PAYER_OUT_OF_REGION" in refused.stderr
    bad = jamsos_here(env, "contributions", "apbd-month", "--payer", "52.03", "--month", "2027-13")
    assert bad.returncode == 2
