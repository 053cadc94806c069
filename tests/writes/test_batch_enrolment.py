"""The set-based list enrolment against the single enrolment: the same random mix through both, on two copies
of one database, must leave the same rows, refuse with the same codes and append the same audit events."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit.models import AuditEvent
from domain.audit.writes import Actor, verify_chain
from domain.beneficiaries.batch_enrolment import enroll_beneficiaries
from domain.beneficiaries.enrolment import enroll_beneficiary
from domain.beneficiaries.models import BeneficiarySource, PovertyBeneficiary
from domain.db import make_engine, make_sessionmaker
from domain.nik import Sex, build_nik
from domain.participants.models import Contribution, Participant, ParticipantProgram, ParticipantStatus
from domain.regions.models import Region
from domain.regions.rules import RegionCode, RegionLevel, placement
from domain.writes.caller import Caller
from domain.writes.errors import Conflict, Invalid, NotFound
from domain.writes.transactions import open_write_transaction
from tests.databases import Databases
from tests.rollup_check import rollup_drift

OFFICER_5203 = Caller(Actor("officer.dewi@52.03", "user"), RegionCode.parse("52.03"), sees_personal_data=True)
NATIONAL = Caller(Actor("admin.nasional", "user"), None, sees_personal_data=False)


@dataclass
class Pair:
    single: AsyncEngine
    bulk: AsyncEngine

    @property
    def engines(self) -> tuple[AsyncEngine, AsyncEngine]:
        return self.single, self.bulk


@pytest.fixture
def pair_urls(backend: str, databases: Databases, request: pytest.FixtureRequest) -> tuple[str, str]:
    """Two copies of the seeded database (made synchronously: the templates are built with asyncio.run)."""
    name = request.node.name.split("[")[0].removeprefix("test_")[:20]
    return databases.seeded(backend, f"be_{name}_single"), databases.seeded(backend, f"be_{name}_bulk")


@pytest.fixture
async def pair(pair_urls: tuple[str, str]) -> AsyncIterator[Pair]:
    single, bulk = (make_engine(url, null_pool=True) for url in pair_urls)
    yield Pair(single, bulk)
    for engine in (single, bulk):
        assert await rollup_drift(engine) == {}, "the Monev rollups differ from a recount"
        await engine.dispose()


async def single_path(
    sessions: async_sessionmaker[AsyncSession], caller: Caller, ids: list[int], payer: str | None
) -> dict[int, str]:
    """The enrolment of a list as it was: each person through enroll_beneficiary in a savepoint."""
    outcomes: dict[int, str] = {}
    async with sessions() as session, session.begin():
        await open_write_transaction(session)
        for bid in ids:
            try:
                async with session.begin_nested():
                    before = await _holder(session, bid)
                    result = await enroll_beneficiary(session, caller, bid, payer=payer)
            except Invalid as exc:
                outcomes[bid] = exc.problems[0].code
                continue
            except NotFound:
                outcomes[bid] = "NOT_FOUND"
                continue
            except Conflict:
                outcomes[bid] = "CONFLICT"
                continue
            after = (result.participant.id, result.participant.version)
            outcomes[bid] = "created" if result.created else "linked" if before != after else "unchanged"
    return outcomes


async def _holder(session: AsyncSession, bid: int) -> tuple[int, int] | None:
    b = await session.get(PovertyBeneficiary, bid)
    if b is None or b.participant_id is None:
        return None
    p = await session.get(Participant, b.participant_id)
    return (p.id, p.version) if p is not None else None


async def make_mix(engine: AsyncEngine, seed: int, size: int) -> list[int]:
    """`size` beneficiaries of every kind the enrolment must tell apart, added to the database, and their ids
    (with some that exist already and one that does not), in id order."""
    # Each mix has NIK serials of its own, below those of tests.writes.conftest.new_nik (9001+).
    assert 1 <= seed <= 31
    assert size <= 240
    rng = random.Random(seed)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        villages = {
            regency: list(
                await session.scalars(
                    select(Region.code)
                    .where(Region.level == RegionLevel.VILLAGE, Region.code.startswith(regency + "."))
                    .order_by(Region.code)
                )
            )
            for regency in ("52.03", "52.71")
        }
        existing = list(
            await session.execute(
                select(Participant.nik, Participant.region_code)
                .where(Participant.nik.not_in(select(PovertyBeneficiary.nik)), Participant.died_on.is_(None))
                .order_by(Participant.id)
            )
        )
        enrolled = list(
            await session.scalars(
                select(PovertyBeneficiary.id)
                .where(PovertyBeneficiary.participant_id.is_not(None), PovertyBeneficiary.regency_code == "52.03")
                .order_by(PovertyBeneficiary.id)
                .limit(3)
            )
        )
        serial = 1000 + seed * 250  # NIK serials of their own per seed (seeds 1-31, at most 240 people)
        today = dt.date.today()
        made: list[PovertyBeneficiary] = []
        niks: list[str] = []

        def person(
            *, nik: str | None = None, village: str | None = None, birth: dt.date | None = None, extreme: bool = True
        ) -> PovertyBeneficiary:
            nonlocal serial
            serial += 1
            village = village or rng.choice(villages["52.03"])
            birth = birth or dt.date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
            sex = rng.choice([Sex.M, Sex.F])
            nik = nik or build_nik(village[:8], birth, sex, serial)
            b = PovertyBeneficiary(
                nik=nik,
                full_name=f"Baiq Uji {serial}",
                birth_date=birth,
                sex=sex,
                decile=1 if extreme else 4,
                extreme_poor=extreme,
                source=BeneficiarySource.P3KE,
                snapshot_date=dt.date(2026, 6, 30) - dt.timedelta(days=serial % 365),  # one row per (NIK, snapshot)
                **placement(village),
            )
            made.append(b)
            return b

        for _ in range(size):
            kind = rng.choice(
                ["valid"] * 6 + ["duplicate", "under_age", "not_poor", "other_region", "bad_nik", "holder", "deceased"]
            )
            b: PovertyBeneficiary
            if kind == "valid":
                niks.append(person().nik)
            elif kind == "duplicate" and niks:
                person(nik=rng.choice(niks))
            elif kind == "under_age":
                person(birth=today.replace(year=today.year - 12, day=1))
            elif kind == "not_poor":
                person(extreme=False)
            elif kind == "other_region":
                person(village=rng.choice(villages["52.71"]))
            elif kind == "bad_nik":
                b = person()
                b.nik = "9999" + b.nik[4:]  # a district that does not exist
            elif kind in ("holder", "deceased") and existing:
                # Someone who holds a membership already, not yet on the list: linked, adopted — or, when they
                # have died, refused (no contribution is due after the month of death).
                e = existing.pop(rng.randrange(len(existing)))
                if kind == "deceased":
                    await session.execute(
                        update(Participant)
                        .where(Participant.nik == e.nik)
                        .values(status=ParticipantStatus.DECEASED, died_on=dt.date(2026, 1, 15))
                    )
                person(nik=e.nik, village=e.region_code if e.region_code.startswith("52.03") else None)
        session.add_all(made)
        await session.flush()
        ids = sorted({b.id for b in made} | set(enrolled))
        missing = (await session.scalar(select(func.max(PovertyBeneficiary.id))) or 0) + 1000
    return [*ids, missing]


async def state(engine: AsyncEngine, since_seq: int) -> dict[str, Any]:
    """What the enrolment left: participants, programmes, ledger rows, registry links and the new audit
    events, with what differs by construction between two databases (surrogate ids, random membership
    numbers, times, hashes) replaced by the person's NIK. ``version`` is left out: it counts the statements
    that touched a row (the single path flushes the package's wage separately), not what the row holds."""
    async with engine.connect() as conn:
        nik_of = dict((await conn.execute(select(Participant.id, Participant.nik))).all())
        person_of = dict((await conn.execute(select(PovertyBeneficiary.id, PovertyBeneficiary.nik))).all())
        participants = sorted(
            tuple(
                v for k, v in row._mapping.items() if k not in ("id", "membership_number", "version", "registered_at")
            )
            for row in await conn.execute(select(Participant))
        )
        programs = sorted(
            (nik_of[r.participant_id], r.program, r.segment, r.since)
            for r in await conn.execute(select(ParticipantProgram))
        )
        ledger = sorted(
            (nik_of[r.participant_id], r.first_month, r.months, str(r.amount), r.payer, r.payer_region_code,
             r.programs, r.price_rule, _reference(r.reference, nik_of))
            for r in await conn.execute(select(Contribution))
        )  # fmt: skip
        links = sorted(
            (r.id, nik_of.get(r.participant_id), r.version)
            for r in await conn.execute(select(PovertyBeneficiary.id, PovertyBeneficiary.participant_id,
                                               PovertyBeneficiary.version))
        )  # fmt: skip
        events = []
        for e in await conn.execute(select(AuditEvent).where(AuditEvent.seq > since_seq).order_by(AuditEvent.seq)):
            key = nik_of[int(e.entity_id)] if e.entity_type == "Participant" else person_of[int(e.entity_id)]
            changes = _by_nik(e.changes, nik_of)
            events.append((key, e.action, e.entity_type, e.actor_subject, changes))
    # Per person, in order: the single path interleaves people who already held a membership with the
    # creations, the set-based one writes the creations first.
    per_person: dict[str, list[Any]] = {}
    for key, *rest in events:
        per_person.setdefault(key, []).append(rest)
    return {
        "participants": participants,
        "programs": programs,
        "ledger": ledger,
        "links": links,
        "events": per_person,
    }


def _by_nik(value: Any, nik_of: dict[int, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "participant_id" and isinstance(v, dict):
                out[k] = {side: nik_of.get(x, x) if isinstance(x, int) else x for side, x in v.items()}
            else:
                out[k] = _by_nik(v, nik_of)
        return out
    if isinstance(value, list):
        return [_by_nik(v, nik_of) for v in value]
    if isinstance(value, str):
        return _reference(value, nik_of)
    return value


def _reference(reference: str, nik_of: dict[int, str]) -> str:
    """An enrolment's payment reference with the person's NIK for the participant id in it."""
    if not reference.startswith("INPRES4-"):
        return reference
    _, pid, month = reference.split("-")
    return f"INPRES4-{nik_of[int(pid)]}-{month}"


async def _head(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(AuditEvent.seq), 0)))).scalar_one())


@pytest.mark.parametrize(
    ("caller", "payer"), [(OFFICER_5203, None), (NATIONAL, "52.03")], ids=["regency-officer", "national-payer"]
)
@pytest.mark.parametrize("seed", [1, 2])
async def test_set_based_enrolment_equals_the_single_path(
    pair: Pair, caller: Caller, payer: str | None, seed: int
) -> None:
    ids = [await make_mix(engine, seed, 60) for engine in pair.engines]
    assert ids[0] == ids[1], "both copies got the same rows"
    mix = ids[0]
    heads = [await _head(engine) for engine in pair.engines]
    single = await single_path(make_sessionmaker(pair.single), caller, mix, payer)
    async with make_sessionmaker(pair.bulk)() as session, session.begin():
        bulk = await enroll_beneficiaries(session, caller, mix, payer=payer)
    assert bulk.outcomes == single
    outcomes = set(single.values())
    # The mix exercises every branch: created, already enrolled, and the refusals of each rule.
    assert {"created", "unchanged", "NOT_FOUND", "BELOW_WORKING_AGE", "NOT_EXTREME_POOR", "INVALID_NIK"} <= outcomes
    if payer is not None:
        assert "PAYER_NOT_RESPONSIBLE" in outcomes  # the national caller sees 52.71; the payer does not pay there
    assert bulk.created == sum(1 for o in single.values() if o == "created")
    left = [await state(engine, head) for engine, head in zip(pair.engines, heads, strict=True)]
    for part in ("participants", "programs", "ledger", "links", "events"):
        assert left[1][part] == left[0][part], f"{part} differ between the single and the set-based path"
    for engine in pair.engines:
        async with make_sessionmaker(engine)() as session:
            report = await verify_chain(session)
        assert report.ok, report.problem


async def test_a_second_run_changes_nothing(pair: Pair) -> None:
    mix = await make_mix(pair.bulk, 3, 40)
    sessions = make_sessionmaker(pair.bulk)
    async with sessions() as session, session.begin():
        first = await enroll_beneficiaries(session, OFFICER_5203, mix)
    head = await _head(pair.bulk)
    async with sessions() as session, session.begin():
        again = await enroll_beneficiaries(session, OFFICER_5203, mix)
    assert first.created > 0
    assert again.created == 0
    assert again.unchanged == first.created + first.unchanged + first.linked
    assert await _head(pair.bulk) == head, "nothing changed, nothing recorded"
    async with pair.bulk.connect() as conn:
        niks = (await conn.execute(select(Participant.nik, func.count()).group_by(Participant.nik))).all()
    assert all(count == 1 for _, count in niks)
