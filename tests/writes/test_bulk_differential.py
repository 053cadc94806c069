"""The set-based writes equal the single writes: the same random mix through both, on two copies of one
database, gives the same rows, the same refusals (index, field, code, message) and the same audit trail.

The single path is the one the row-by-row imports used: ``record_contributions`` over the list, the refused
items taken out and the rest sent again, a participant outside the caller's region refused ``NOT_FOUND``;
``register_participant`` per row in a savepoint, a NIK already registered counted unchanged. The bulk path is
``record_contributions_bulk`` / ``register_participants_bulk``. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.audit.models import AuditEvent
from domain.audit.writes import Actor, verify_chain
from domain.beneficiaries.models import PovertyBeneficiary
from domain.db import make_engine
from domain.nik import Sex, build_nik
from domain.participants import bulk_ledger
from domain.participants.bulk_ledger import record_contributions_bulk
from domain.participants.bulk_registration import register_participants_bulk
from domain.participants.contributions import NoPrice, monthly_price
from domain.participants.ledger import ContributionItem, record_contributions
from domain.participants.models import (
    Contribution,
    Employer,
    FundingSource,
    Participant,
    ParticipantProgram,
    Segment,
)
from domain.participants.months import month_number, month_start
from domain.participants.rules import Program
from domain.participants.writes import Registration, register_participant
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller
from domain.writes.errors import Invalid, NotFound
from domain.writes.placement import OutOfRegion
from tests.rollup_check import rollup_drift

Outcome = tuple[int, str, str, str]  # (index, field without the input[i] prefix, code, message)
_INPUT = re.compile(r"^input\[\d+\]\.?")
TODAY = dt.date.today()
CURRENT = month_number(TODAY)


def officer(region: str) -> Caller:
    return Caller(
        actor=Actor(subject=f"officer@{region}", kind="user"), within=RegionCode.parse(region), sees_personal_data=True
    )


@pytest.fixture
def two_copies(backend: str, seeded_database: Callable[[str, str], str]) -> tuple[str, str]:
    return seeded_database(backend, "diff_single"), seeded_database(backend, "diff_bulk")


@pytest.fixture
async def engines(two_copies: tuple[str, str]) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    single, bulk = (make_engine(url, null_pool=True) for url in two_copies)
    try:
        yield single, bulk
        for engine in (single, bulk):
            assert await rollup_drift(engine) == {}, "the Monev rollups differ from a recount"
            async with AsyncSession(engine) as session:
                report = await verify_chain(session)
            assert report.ok, report.problem
    finally:
        await single.dispose()
        await bulk.dispose()


async def _head(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(AuditEvent.seq), 0)))).scalar_one())


async def _trail(engine: AsyncEngine, after: int, entity: Callable[[str], Any]) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        events = (await conn.execute(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq))).all()
    return [(e.action, e.entity_type, entity(e.entity_id), e.actor_subject, e.changes) for e in events]


# --- contributions --------------------------------------------------------------------------------------------


async def _people(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every participant with what a payment for them must say: price of a month, paid ranges."""
    async with engine.connect() as conn:
        people = (await conn.execute(select(Participant))).all()
        risk = dict((await conn.execute(select(Employer.id, Employer.jkk_risk_class))).all())
        held: dict[int, set[Program]] = {}
        for pid, program in await conn.execute(select(ParticipantProgram.participant_id, ParticipantProgram.program)):
            held.setdefault(pid, set()).add(program)
        ranges: dict[int, list[tuple[int, int, str, int, Decimal]]] = {}
        for c in await conn.execute(select(Contribution)):
            ranges.setdefault(c.participant_id, []).append(
                (c.first_month, c.last_month, c.reference, c.months, c.amount)
            )
    out = []
    for p in people:
        try:
            price = monthly_price(
                p.segment, frozenset(held.get(p.id, set())), month_start(CURRENT), wage=p.monthly_wage,
                risk_class=risk.get(p.employer_id),
            ).amount  # fmt: skip
        except NoPrice:
            price = Decimal(10_000)
        out.append({"p": p, "price": price, "ranges": ranges.get(p.id, [])})
    return out


def _contribution_mix(people: list[dict[str, Any]], region: str, rng: random.Random, n: int) -> list[ContributionItem]:
    mine = [x for x in people if x["p"].region_code.startswith(region + ".") and x["p"].status != "DECEASED"]
    dead = [x for x in people if x["p"].region_code.startswith(region + ".") and x["p"].died_on is not None]
    others = [x for x in people if not x["p"].region_code.startswith(region + ".")]
    paid = [x for x in mine if x["ranges"]]
    items: list[ContributionItem] = []
    serial = 0

    def payer(p: Any) -> FundingSource:
        if p.segment in (Segment.PU, Segment.JAKON):
            return FundingSource.EMPLOYER
        return rng.choice([FundingSource.SELF, FundingSource.APBD, FundingSource.CSR])

    def item(x: dict[str, Any], **overrides: Any) -> ContributionItem:
        nonlocal serial
        serial += 1
        months = overrides.pop("months", rng.randint(1, 3))
        p = x["p"]
        values: dict[str, Any] = {
            "participant_id": p.id,
            "months": months,
            "amount": x["price"] * months,
            "payer": payer(p),
            "reference": f"DIFF-{serial:05d}",
        }
        values.update(overrides)
        return ContributionItem(**values)

    kinds = ["valid"] * 6 + ["duplicate", "amount", "paid", "reused", "same", "outside", "deceased", "nobody",
                             "months", "ahead", "payer_region"]  # fmt: skip
    for _ in range(n):
        kind = rng.choice(kinds)
        x = rng.choice(mine)
        if kind == "valid":
            items.append(item(x))
        elif kind == "duplicate" and items:
            items.append(item(x, reference=rng.choice(items).reference))
        elif kind == "amount":
            items.append(item(x, months=1, amount=x["price"] + 1000))
        elif kind == "paid" and paid:
            y = rng.choice(paid)
            first, _, _, _, _ = rng.choice(y["ranges"])
            items.append(item(y, months=1, from_month=month_start(first)))
        elif kind in ("reused", "same") and paid:
            y = rng.choice(paid)
            _, _, reference, months, amount = rng.choice(y["ranges"])
            if kind == "same":  # the same payment again: unchanged
                items.append(item(y, months=months, amount=amount, reference=reference))
            else:
                items.append(item(y, months=months, amount=amount + 1, reference=reference))
        elif kind == "outside" and others:
            items.append(item(rng.choice(others)))
        elif kind == "deceased" and dead:
            items.append(item(rng.choice(dead), from_month=month_start(CURRENT)))
        elif kind == "nobody":
            items.append(item(x, participant_id=10_000_000 + serial))
        elif kind == "months":
            items.append(item(x, months=rng.choice([0, 121])))
        elif kind == "ahead":
            items.append(item(x, months=1, from_month=month_start(CURRENT + 14)))
        elif kind == "payer_region":
            items.append(item(x, payer=FundingSource.APBD, payer_region_code=rng.choice(["52.03", "52.7", "52"])))
    return items


async def _single_contributions(engine: AsyncEngine, caller: Caller, items: list[ContributionItem]) -> list[Outcome]:
    """The single path, as the row-by-row import drove it."""
    refused: list[Outcome] = []
    async with AsyncSession(engine, expire_on_commit=False) as session:
        visible = {
            pid
            for pid, region in await session.execute(
                select(Participant.id, Participant.region_code).where(
                    Participant.id.in_({i.participant_id for i in items})
                )
            )
            if caller.sees(region)
        }
        left = []
        for i, item in enumerate(items):
            if item.participant_id in visible:
                left.append(i)
            else:
                refused.append((i, "participantId", "NOT_FOUND", str(NotFound("participant", item.participant_id))))
        while left:
            try:
                async with session.begin_nested():
                    await record_contributions(session, caller, [items[i] for i in left])
            except Invalid as exc:
                bad = set()
                for p in exc.problems:
                    j = int(re.match(r"^input\[(\d+)\]", p.field or "").group(1))  # type: ignore[union-attr]
                    # A message naming another item names it by its place in this call's list: the list's index.
                    message = re.sub(
                        r"input\[(\d+)\]", lambda m, left=left: f"input[{left[int(m.group(1))]}]", p.message
                    )
                    refused.append((left[j], _INPUT.sub("", p.field or ""), p.code, message))
                    bad.add(left[j])
                left = [i for i in left if i not in bad]
                continue
            break
        await session.commit()
    return sorted(refused)


async def _bulk_contributions(engine: AsyncEngine, caller: Caller, items: list[ContributionItem], **kw: Any) -> Any:
    async with AsyncSession(engine) as session:
        outcome = await record_contributions_bulk(session, caller, items, **kw)
        if outcome.written:
            await session.commit()
        else:
            await session.rollback()
    return outcome


async def _ledger_rows(
    engine: AsyncEngine, *, versions: bool = True
) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The ledger and every participant's derived figures (and version: a chunked run recounts a participant
    whose payments fall in two chunks twice)."""
    async with engine.connect() as conn:
        c, p = Contribution, Participant
        payments = await conn.execute(
            select(c.participant_id, c.first_month, c.last_month, c.months, c.period_from, c.period_to, c.amount,
                   c.programs, c.payer, c.payer_region_code, c.reference, c.recorded_by, c.price_rule)
        )  # fmt: skip
        figures = await conn.execute(
            select(p.id, p.paid_through, p.contribution_months, p.recent_contribution_months, p.status).add_columns(
                *([p.version] if versions else [])
            )
        )
        return {tuple(r) for r in payments}, {tuple(r) for r in figures}


async def _kill(engine: AsyncEngine, pid: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(Participant).where(Participant.id == pid).values(status="DECEASED", died_on=TODAY.replace(day=1))
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_contributions_single_and_bulk_give_the_same_rows_refusals_and_trail(
    engines: tuple[AsyncEngine, AsyncEngine], seed: int
) -> None:
    single, bulk = engines
    rng = random.Random(seed)
    region = "52.71"
    people = await _people(single)
    # Two of the region's workers died at the start of this month: no contribution is due after it.
    for x in rng.sample([x for x in people if x["p"].region_code.startswith(region + ".")], 2):
        for engine in engines:
            await _kill(engine, x["p"].id)
    people = await _people(single)
    items = _contribution_mix(people, region, rng, 120)
    caller = officer(region)
    heads = [await _head(e) for e in engines]

    expected = await _single_contributions(single, caller, items)
    outcome = await _bulk_contributions(bulk, caller, items)
    got = sorted((r.index, _INPUT.sub("", r.field or ""), r.code, r.message) for r in outcome.refusals)
    assert got == expected
    codes = {code for _, _, code, _ in expected}
    assert {"DUPLICATE_REFERENCE", "NOT_FOUND", "REFERENCE_REUSED", "AMOUNT_MISMATCH"} <= codes, codes
    assert outcome.refused == len({i for i, *_ in expected})
    assert outcome.created + outcome.unchanged + outcome.refused == len(items)
    assert await _ledger_rows(single) == await _ledger_rows(bulk)
    assert await _trail(single, heads[0], str) == await _trail(bulk, heads[1], str)


async def test_chunks_decided_beside_the_recount_give_the_single_paths_rows_refusals_and_trail(
    engines: tuple[AsyncEngine, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One payment a participant (as the APBD run makes them), in chunks of 4: each next chunk is read before
    the chunk's recount and decided beside it, and its events appended with the next ones — the same rows,
    refusals and events as the single path, and an intact chain."""
    single, bulk = engines
    region = "52.71"
    items, seen = [], set()
    for item in _contribution_mix(await _people(single), region, random.Random(5), 120):
        if item.participant_id not in seen:
            seen.add(item.participant_id)
            items.append(item)
    caller = officer(region)
    heads = [await _head(e) for e in engines]
    overlapped = []
    write = bulk_ledger._Writer.write

    async def spying(self: Any, *args: Any, before_recount: Any = None) -> None:
        overlapped.append(before_recount is not None)
        await write(self, *args, before_recount=before_recount)

    monkeypatch.setattr(bulk_ledger._Writer, "write", spying)
    expected = await _single_contributions(single, caller, items)
    outcome = await _bulk_contributions(bulk, caller, items, chunk_size=4)
    assert sum(overlapped) >= 3, overlapped  # the path under test was taken
    got = sorted((r.index, _INPUT.sub("", r.field or ""), r.code, r.message) for r in outcome.refusals)
    assert got == expected
    assert outcome.refused == len({i for i, *_ in expected}) > 0
    assert await _ledger_rows(single) == await _ledger_rows(bulk)
    # One event a participant, in participant order within each call (the single path's) or chunk.
    trails = [await _trail(e, h, int) for e, h in zip(engines, heads, strict=True)]
    assert sorted(trails[0], key=repr) == sorted(trails[1], key=repr)
    async with AsyncSession(bulk) as session:
        assert (await verify_chain(session)).ok


async def test_contributions_all_or_nothing_dry_run_and_resume(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    single, bulk = engines
    rng = random.Random(7)
    caller = officer("52.71")
    people = await _people(bulk)
    items = _contribution_mix(people, "52.71", rng, 60)
    before = await _ledger_rows(bulk)
    refusing = await _bulk_contributions(bulk, caller, items, all_or_nothing=True)
    assert refusing.refused
    assert not refusing.written
    dry = await _bulk_contributions(bulk, caller, items, dry_run=True)
    assert not dry.written
    assert dry.created == refusing.created
    assert await _ledger_rows(bulk) == before  # nothing of either was committed

    # Stopped after the first chunk (the worker died after committing it), then resumed at its cursor.
    done: list[tuple[int, dict[str, int]]] = []

    class Stop(Exception):
        pass

    async with AsyncSession(bulk) as session:

        async def checkpoint(cursor: int) -> None:
            await session.commit()
            raise Stop(cursor)

        with pytest.raises(Stop) as stopped:
            await record_contributions_bulk(session, caller, items, chunk_size=25, checkpoint=checkpoint)
    resumed = await _bulk_contributions(
        bulk, caller, items, start=int(stopped.value.args[0]), chunk_size=25, progress=lambda n, r: done.append((n, r))
    )
    assert [n for n, _ in done] == [50, 60]
    assert sum(done[-1][1].values()) == resumed.refused
    expected = await _single_contributions(single, caller, items)
    assert await _ledger_rows(single, versions=False) == await _ledger_rows(bulk, versions=False)
    assert {i for i, *_ in expected} >= {r.index for r in resumed.refusals}
    # Once more from the start: every payment is already recorded, nothing twice.
    again = await _bulk_contributions(bulk, caller, items)
    assert again.created == 0
    assert await _ledger_rows(single, versions=False) == await _ledger_rows(bulk, versions=False)


async def test_a_repeated_reference_is_refused_the_same_whatever_the_chunks(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """References repeated in a list are DUPLICATE_REFERENCE at their later use whether the two uses share a
    chunk or not (chunks of 1, 3, 7 and the whole list), and a run resumed mid-list refuses the repeats of
    items before its start; the references an input used before the list (``earlier``) count too."""
    _, bulk = engines
    caller = officer("52.71")
    items = _contribution_mix(await _people(bulk), "52.71", random.Random(11), 40)

    def refusals(outcome: Any) -> list[tuple[int, str | None, str, str]]:
        return sorted((r.index, r.field, str(r.code), r.message) for r in outcome.refusals)

    alone = refusals(await _bulk_contributions(bulk, caller, items, dry_run=True))
    hidden = {r[0] for r in alone if r[2] == "NOT_FOUND"}
    seen = [item for i, item in enumerate(items) if i not in hidden]
    first = min(set(range(len(items))) - hidden)
    items = [seen[0], *items, *(dataclasses.replace(item, amount=item.amount + 1) for item in seen[::5])]
    whole = refusals(await _bulk_contributions(bulk, caller, items, dry_run=True))
    duplicates = [r for r in whole if r[2] == "DUPLICATE_REFERENCE"]
    assert {r[0] for r in duplicates} >= set(range(41, len(items)))  # the same payment again, and other ones
    for size in (1, 3, 7):
        assert refusals(await _bulk_contributions(bulk, caller, items, dry_run=True, chunk_size=size)) == whole
    resumed = await _bulk_contributions(bulk, caller, items, dry_run=True, start=20, chunk_size=3)
    assert [r for r in refusals(resumed) if r[2] == "DUPLICATE_REFERENCE"] == [r for r in duplicates if r[0] >= 20]
    earlier = {items[0].reference: "row 2"}
    told = refusals(await _bulk_contributions(bulk, caller, items[1:], dry_run=True, earlier=earlier))
    assert [r[3] for r in told if r[0] == first and r[2] == "DUPLICATE_REFERENCE"] == [
        f"reference {items[0].reference!r} is also used by row 2; each payment has its own reference"
    ]


async def test_a_huge_list_of_payments_is_chunked_and_every_bad_one_refused(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    _, bulk = engines
    caller = officer("52.71")
    items = [
        ContributionItem(participant_id=20_000_000 + i, months=1, amount=Decimal(16800), payer=FundingSource.SELF,
                         reference=f"NOBODY-{i}")
        for i in range(12_000)
    ]  # fmt: skip
    outcome = await _bulk_contributions(bulk, caller, items)
    assert (outcome.created, outcome.refused, dict(outcome.reasons)) == (0, 12_000, {"NOT_FOUND": 12_000})


# --- participants ---------------------------------------------------------------------------------------------


def _registration_mix(
    rng: random.Random, n: int, taken: list[str], unlinked: list[Any], employers: list[str]
) -> list[Registration]:
    rows: list[Registration] = []
    serial = iter(range(6001, 9999))

    def reg(**overrides: Any) -> Registration:
        birth = overrides.pop("birth", dt.date(1980 + rng.randint(0, 20), rng.randint(1, 12), rng.randint(1, 28)))
        sex = overrides.pop("sex", rng.choice([Sex.M, Sex.F]))
        district = overrides.pop("district", "52.71.01")
        values: dict[str, Any] = {
            "nik": build_nik(district, birth, sex, next(serial)),
            "full_name": rng.choice(["Lalu Sapturi", "Baiq Nurhayati", "I Made Sutama"]),
            "birth_date": birth,
            "sex": sex,
            "segment": Segment.BPU,
            "funding_source": rng.choice([FundingSource.SELF, FundingSource.APBD]),
            "region_code": rng.choice(["52.71.01.1004", "52.71.02.1001"]),
            "programs": {Program.JKK, Program.JKM},
        }
        values.update(overrides)
        return Registration(**values)

    kinds = ["valid"] * 6 + [
        "again", "registered", "minor", "outside", "nik_serial", "nik_district", "nik_sex", "pu", "pu_unknown",
        "funding", "program", "beneficiary", "name", "village", "wage",
    ]  # fmt: skip
    for _ in range(n):
        kind = rng.choice(kinds)
        if kind == "valid":
            rows.append(reg())
        elif kind == "again" and rows:
            rows.append(rng.choice(rows))  # the same person twice in the list
        elif kind == "registered" and taken:
            existing = reg()
            rows.append(Registration(**{**existing.__dict__, "nik": rng.choice(taken)}))
        elif kind == "minor":
            rows.append(reg(birth=TODAY.replace(year=TODAY.year - 15, day=1)))
        elif kind == "outside":
            rows.append(reg(region_code="52.03.01.2001"))
        elif kind == "nik_serial":
            r = reg()
            rows.append(Registration(**{**r.__dict__, "nik": r.nik[:12] + "0000"}))
        elif kind == "nik_district":
            rows.append(reg(district="52.71.99"))
        elif kind == "nik_sex":
            r = reg(sex=Sex.M)
            rows.append(Registration(**{**r.__dict__, "sex": Sex.F}))
        elif kind == "pu" and employers:
            wage_earner = {"segment": Segment.PU, "funding_source": FundingSource.EMPLOYER}
            rows.append(
                reg(**wage_earner, monthly_wage=Decimal(3_500_000), employer_registration_number=rng.choice(employers),
                    programs=set(Program) - {Program.JKP})
            )  # fmt: skip
        elif kind == "pu_unknown":
            rows.append(reg(segment=Segment.PU, funding_source=FundingSource.EMPLOYER, monthly_wage=Decimal(3_500_000),
                            employer_registration_number="NPP52030000999"))  # fmt: skip
        elif kind == "funding":
            rows.append(reg(funding_source=FundingSource.EMPLOYER))
        elif kind == "program":
            rows.append(reg(programs={Program.JKK, Program.JKM, Program.JP}))
        elif kind == "beneficiary" and unlinked:
            b = unlinked.pop()
            rows.append(reg(nik=b.nik, birth=b.birth_date, sex=b.sex, region_code=b.region_code, full_name=b.full_name))
        elif kind == "name":
            rows.append(reg(full_name="Lalu\u200bSapturi"))
        elif kind == "village":
            rows.append(reg(region_code=rng.choice(["52.71.01", "52.71.01.9999", "52-71"])))
        elif kind == "wage":
            rows.append(reg(monthly_wage=Decimal(-1)))
    return rows


async def _single_registrations(engine: AsyncEngine, caller: Caller, rows: list[Registration]) -> list[Outcome]:
    """The single path, as the row-by-row import drove it."""
    refused: list[Outcome] = []
    async with AsyncSession(engine, expire_on_commit=False) as session:
        existing = set((await session.scalars(select(Participant.nik))).all())
        for i, data in enumerate(rows):
            if data.nik in existing:
                continue
            try:
                async with session.begin_nested():
                    await register_participant(session, caller, data)
            except Invalid as exc:
                refused += [(i, p.field or "", p.code, p.message) for p in exc.problems]
                continue
            except OutOfRegion as exc:
                refused.append((i, "regionCode", "OUT_OF_REGION", str(exc)))
                continue
            existing.add(data.nik)
        await session.commit()
    return sorted(refused)


async def _registered(
    engine: AsyncEngine,
) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]], set[tuple[Any, ...]], dict[str, str]]:
    async with engine.connect() as conn:
        p = Participant
        people = (await conn.execute(select(p))).all()
        by_id = {str(r.id): r.nik for r in people}
        rows = {
            tuple(v for k, v in r._mapping.items() if k not in ("id", "membership_number", "registered_at"))
            for r in people
        }
        programs = {
            (by_id[str(pid)], program, segment, since)
            for pid, program, segment, since in await conn.execute(select(ParticipantProgram.__table__))
        }
        links = {
            (b.nik, by_id.get(str(b.participant_id)), b.version)
            for b in await conn.execute(
                select(PovertyBeneficiary.nik, PovertyBeneficiary.participant_id, PovertyBeneficiary.version)
            )
        }
    return rows, programs, links, by_id


@pytest.mark.parametrize("seed", [11, 12])
async def test_participants_single_and_bulk_give_the_same_rows_refusals_and_trail(
    engines: tuple[AsyncEngine, AsyncEngine], seed: int
) -> None:
    single, bulk = engines
    rng = random.Random(seed)
    async with single.connect() as conn:
        taken = list((await conn.execute(select(Participant.nik).limit(20))).scalars())
        unlinked = list(
            (
                await conn.execute(
                    select(PovertyBeneficiary).where(
                        PovertyBeneficiary.participant_id.is_(None),
                        PovertyBeneficiary.regency_code == "52.71",
                        PovertyBeneficiary.birth_date < dt.date(2000, 1, 1),
                    )
                )
            ).all()
        )
        employers = list(
            (await conn.execute(select(Employer.registration_number).where(Employer.regency_code == "52.71"))).scalars()
        )
    rows = _registration_mix(rng, 150, taken, unlinked, employers)
    caller = officer("52.71")
    start = await _registered(bulk)
    before, linked_before = len(start[3]), sum(1 for _, holder, _ in start[2] if holder is not None)
    heads = [await _head(e) for e in engines]
    expected = await _single_registrations(single, caller, rows)
    async with AsyncSession(bulk) as session:
        outcome = await register_participants_bulk(session, caller, rows, chunk_size=40)
        assert outcome.written
        await session.commit()
    got = sorted((r.index, r.field or "", r.code, r.message) for r in outcome.refusals)
    assert got == expected
    codes = {code for _, _, code, _ in expected}
    assert {"INVALID_NIK", "OUT_OF_REGION", "BELOW_WORKING_AGE", "UNKNOWN_EMPLOYER", "PROGRAM_NOT_ALLOWED"} <= codes
    a, b = await _registered(single), await _registered(bulk)
    assert a[:3] == b[:3]
    assert await _trail(single, heads[0], a[3].get) == await _trail(bulk, heads[1], b[3].get)
    assert outcome.created == len(b[3]) - before > 0
    assert outcome.created + outcome.unchanged + outcome.refused == len(rows)
    assert sum(1 for _, holder, _ in b[2] if holder is not None) > linked_before  # registry records linked by NIK


async def test_registrations_stopped_after_a_chunk_resume_to_the_single_paths_rows(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    single, bulk = engines
    rng = random.Random(21)
    async with single.connect() as conn:
        taken = list((await conn.execute(select(Participant.nik).limit(5))).scalars())
    rows = _registration_mix(rng, 60, taken, [], [])
    caller = officer("52.71")
    heads = [await _head(e) for e in engines]
    expected = await _single_registrations(single, caller, rows)

    class Stop(Exception):
        pass

    async with AsyncSession(bulk) as session:

        async def checkpoint(cursor: int) -> None:
            await session.commit()  # a job runner's checkpoint; then the worker dies
            raise Stop(cursor)

        with pytest.raises(Stop) as stopped:
            await register_participants_bulk(session, caller, rows, chunk_size=25, checkpoint=checkpoint)
    cursor = int(stopped.value.args[0])
    assert cursor == 25
    async with AsyncSession(bulk) as session:
        resumed = await register_participants_bulk(session, caller, rows, start=cursor, chunk_size=25)
        await session.commit()
    assert sorted((r.index, r.field or "", r.code, r.message) for r in resumed.refusals) == [
        e for e in expected if e[0] >= cursor
    ]
    a, b = await _registered(single), await _registered(bulk)
    assert a[:3] == b[:3]
    assert await _trail(single, heads[0], a[3].get) == await _trail(bulk, heads[1], b[3].get)
    # From the start once more (a lost cursor): every NIK is registered, nobody twice.
    async with AsyncSession(bulk) as session:
        again = await register_participants_bulk(session, caller, rows)
        await session.commit()
    assert again.created == 0
    assert (await _registered(bulk))[:3] == b[:3]


async def test_two_runs_over_the_same_list_at_once_record_each_payment_once(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    single, bulk = engines
    caller = officer("52.71")
    people = await _people(bulk)
    items = [i for i in _contribution_mix(people, "52.71", random.Random(31), 40) if i.participant_id < 10_000_000]

    async def run() -> Any:
        async with AsyncSession(bulk) as session:
            outcome = await record_contributions_bulk(session, caller, items, chunk_size=10)
            await session.commit()
            return outcome

    first, second = await asyncio.gather(run(), run())
    assert first.created + second.created == (await _single_outcome(single, caller, items))
    assert first.created * second.created == 0  # one of them found every payment of the other recorded
    await _single_contributions(single, caller, items)
    assert await _ledger_rows(single, versions=False) == await _ledger_rows(bulk, versions=False)


async def _single_outcome(engine: AsyncEngine, caller: Caller, items: list[ContributionItem]) -> int:
    """How many payments the list creates (a bulk dry run on the other copy, which holds the same rows)."""
    async with AsyncSession(engine) as session:
        outcome = await record_contributions_bulk(session, caller, items, dry_run=True)
        await session.rollback()
    return outcome.created
