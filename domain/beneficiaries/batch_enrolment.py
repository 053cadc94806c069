"""Enrolling a whole list of beneficiaries (Inpres 4/2022), set-based, with the single enrolment's rules.

:func:`enroll_beneficiaries` does for a set of beneficiaries what :func:`~domain.beneficiaries.enrolment.
enroll_beneficiary` does for one, with one statement per table instead of a savepoint per person:

- the enrolment rules are the same function (:func:`~domain.beneficiaries.enrolment.enrolment_problems`);
  the registration checks (name, village, NIK, working age) are the single registration's, each given what
  it needs from one lookup for the whole set (:func:`~domain.writes.placement.village_problems`,
  :func:`~domain.writes.validation.check_parsed_nik`, :func:`~domain.participants.rules.working_age_problems`);
  the first problem is the refusal, as for one person;
- the people to create are written with one INSERT per table (participants, their programmes, the first
  month's payment), one UPDATE links the registry rows by NIK, the ledger figures are recounted set-based,
  and their audit events — the same three per person, with the same changes, as the single path writes —
  are appended in order in one INSERT (:func:`domain.audit.writes.record_many`);
- the few people who already hold a membership (or share a NIK with someone created in this set) go
  through the single function itself, after the creations, each in a savepoint.

``tests/writes/test_batch_enrolment.py`` runs a random mix through both paths on both databases and compares
the rows, the refusal codes and the audit events. Idempotent by the same key as the single write — the
beneficiary's participant link: someone already enrolled is counted, not enrolled twice.

Over more than a page of rows the same function runs as a job, chunk by chunk (:func:`enrolment_chunk`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.beneficiaries.enrolment import (
    Terms,
    enroll_beneficiary,
    enrolment_problems,
    enrolment_terms,
    first_payment_reference,
)
from domain.beneficiaries.models import BeneficiarySource, PovertyBeneficiary
from domain.codes import UserErrorCode
from domain.db import copy_rows, refresh_statistics, utcnow
from domain.jobs.models import Job
from domain.jobs.registry import Chunk, ReportLine, job_kind
from domain.nik import NIK, InvalidNIK, parse_nik
from domain.participants.budget_payer import default_payer
from domain.participants.bulk import collector_paused
from domain.participants.codes import ParticipantCode
from domain.participants.contributions import MonthlyPrice, NoPrice, monthly_price
from domain.participants.ledger import NOTHING_PAID, payment_changes, recompute_participant_figures
from domain.participants.models import (
    Contribution,
    FundingSource,
    Participant,
    ParticipantProgram,
    ParticipantStatus,
)
from domain.participants.months import month_end, month_number, month_start
from domain.participants.rules import Program, Segment, working_age_problems
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region, placed_within
from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel, placement
from domain.text import clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Conflict, Invalid, NotFound, Problem
from domain.writes.placement import village_problems
from domain.writes.transactions import open_write_transaction
from domain.writes.validation import check_parsed_nik

#: The job kind of a list enrolment.
ENROL_KIND = "beneficiaries.enrol"
#: Beneficiaries one chunk of an enrolment job works through: one transaction, one statement per table.
CHUNK_SIZE = 1000
#: Ids per IN (…) list: well below every driver's bound-parameter limit.
_IDS_PER_STATEMENT = 1000
#: Events chained between two turns of the event loop while the programmes and links are written.
_EVENTS_PER_TURN = 300


@dataclass(frozen=True, slots=True)
class Refusal:
    beneficiary_id: int
    code: UserErrorCode
    message: str


@dataclass
class BatchEnrolment:
    """What enrolling a list did: participants created, beneficiaries linked to an existing participant,
    people already enrolled (nothing to do), and refusals with their reasons."""

    created: int = 0
    linked: int = 0
    unchanged: int = 0
    refused: int = 0
    #: What the funder pays per month for everyone this call enrolled or adopted (package price each).
    monthly_cost: Decimal = Decimal(0)
    #: The same, per paying budget (a region code for APBD; the funding source's name otherwise).
    costs: dict[str, Decimal] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    reasons: Counter[UserErrorCode] = field(default_factory=Counter)
    #: Per beneficiary: created, linked, unchanged or the refusal code.
    outcomes: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Create:
    beneficiary: PovertyBeneficiary
    nik: str
    full_name: str
    region_code: str


async def enroll_beneficiaries(
    session: AsyncSession,
    caller: Caller,
    beneficiary_ids: Sequence[int],
    *,
    programs: set[Program] | None = None,
    funding: FundingSource = FundingSource.APBD,
    payer: str | None = None,
    kept_refusals: int = 100,
) -> BatchEnrolment:
    """Enrol each of `beneficiary_ids` in the caller's transaction (the caller commits, or rolls back a dry
    run). `payer` was checked by :func:`domain.participants.budget_payer.check_payer`; without one an APBD
    enrolment is paid as the single enrolment would pay it (the caller's own budget, or the person's regency
    for a national caller)."""
    outcome = BatchEnrolment()
    if not beneficiary_ids:
        return outcome
    if funding is FundingSource.APBD and payer is None and caller.within is not None and default_payer(caller) is None:
        raise ValueError("a caller below a regency names the budget that pays (check_payer refuses it otherwise)")

    def refuse(bid: int, problem: Problem) -> None:
        outcome.refused += 1
        outcome.reasons[problem.code] += 1
        outcome.outcomes[bid] = problem.code
        if len(outcome.refusals) < kept_refusals:
            outcome.refusals.append(Refusal(bid, problem.code, problem.message))

    await open_write_transaction(session)
    await refresh_statistics(session, Participant, ParticipantProgram, Contribution, PovertyBeneficiary)
    today = dt.date.today()
    terms = enrolment_terms(programs, today)
    rows = await _beneficiaries(session, beneficiary_ids)
    holders = await _holder_niks(session, {b.nik for b in rows.values() if b.participant_id is None})
    checks = await _RegistrationChecks.load(session, rows.values())
    creates: list[_Create] = []
    through_single: list[int] = []
    claimed: set[str] = set()
    for bid in beneficiary_ids:
        b = rows.get(bid)
        if b is None or not caller.sees(b.region_code):
            refuse(bid, Problem("beneficiaryId", WriteCode.NOT_FOUND, str(NotFound("beneficiary", bid))))
            continue
        problems = enrolment_problems(b, terms, funding, payer=payer)
        if problems:
            refuse(bid, problems[0])
            continue
        if b.participant_id is not None or b.nik in holders or b.nik in claimed:
            # Someone who holds a membership already (or will, once this set's creations are written).
            through_single.append(bid)
            continue
        create, problems = checks.registration(b, caller, today)
        if create is None:
            refuse(bid, problems[0])
            continue
        creates.append(create)
        claimed.add(create.nik)
    if creates:
        await _write_creations(session, caller, creates, terms, funding, payer, today, outcome)
    if through_single:
        await _enrol_one_by_one(session, caller, through_single, terms, funding, payer, outcome, refuse)
    return outcome


async def _beneficiaries(session: AsyncSession, ids: Sequence[int]) -> dict[int, PovertyBeneficiary]:
    found: dict[int, PovertyBeneficiary] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _IDS_PER_STATEMENT):
        chunk = unique[start : start + _IDS_PER_STATEMENT]
        stmt = select(PovertyBeneficiary).where(PovertyBeneficiary.id.in_(chunk))
        found.update((b.id, b) for b in await session.scalars(stmt.execution_options(populate_existing=True)))
    return found


async def _holder_niks(session: AsyncSession, niks: set[str]) -> set[str]:
    """The NIKs among `niks` a participant already holds."""
    held: set[str] = set()
    ordered = sorted(niks)
    for start in range(0, len(ordered), _IDS_PER_STATEMENT):
        chunk = ordered[start : start + _IDS_PER_STATEMENT]
        held.update(await session.scalars(select(Participant.nik).where(Participant.nik.in_(chunk))))
    return held


@dataclass
class _RegistrationChecks:
    """What the single registration looks up row by row (the village's level, the NIK's district), looked up
    once for a whole set, and the registration's checks applied to one row with it."""

    village_levels: dict[str, RegionLevel]
    districts: set[str]

    @classmethod
    async def load(cls, session: AsyncSession, rows: Any) -> _RegistrationChecks:
        villages: set[str] = set()
        districts: set[str] = set()
        for b in rows:
            villages.add(b.region_code.strip())
            with contextlib.suppress(InvalidNIK):  # refused by the row's own check
                districts.add(parse_nik(b.nik).district_code)
        levels: dict[str, RegionLevel] = {}
        known: set[str] = set()
        for group, target in ((sorted(villages), "villages"), (sorted(districts), "districts")):
            for start in range(0, len(group), _IDS_PER_STATEMENT):
                chunk = group[start : start + _IDS_PER_STATEMENT]
                found = await session.execute(select(Region.code, Region.level).where(Region.code.in_(chunk)))
                for code, level in found:
                    if target == "villages":
                        levels[code] = level
                    elif level is RegionLevel.DISTRICT:
                        known.add(code)
        return cls(levels, known)

    def registration(
        self, b: PovertyBeneficiary, caller: Caller, today: dt.date
    ) -> tuple[_Create | None, list[Problem]]:
        """:func:`domain.participants.writes.register_participant`'s checks, in its order, for a BPU worker
        registered from `b`. Its programme and funding checks are the enrolment rules' (refused before, by
        the same functions); a BPU worker has no employer and no wage to check."""
        problems: list[Problem] = []
        full_name, name_problems = clean_text(b.full_name, "fullName", max_length=200)
        problems += name_problems
        region_code = b.region_code
        try:
            code = RegionCode.parse(b.region_code)
        except InvalidRegionCode as exc:
            problems.append(Problem("regionCode", RegionErrorCode.INVALID_REGION, str(exc)))
        else:
            region_code, place_problems = village_problems(
                caller, code, self.village_levels.get(code.code), "regionCode"
            )
            problems += place_problems
        nik: NIK | None = None
        try:
            parsed = parse_nik(b.nik)
            nik = check_parsed_nik(
                parsed,
                district_exists=parsed.district_code in self.districts,
                sex=b.sex,
                birth_date=b.birth_date,
                reveal=caller.sees_personal_data,
            )
        except InvalidNIK as exc:
            problems.append(Problem("nik", WriteCode.INVALID_NIK, str(exc)))
        problems += [
            Problem("birthDate", ParticipantCode.BELOW_WORKING_AGE, m)
            for m in working_age_problems(b.birth_date, today)
        ]
        if problems or nik is None:
            return None, problems
        return _Create(b, nik.value, full_name, region_code), []


def _payer_of(payer: str | None, caller: Caller, funding: FundingSource, b: PovertyBeneficiary) -> str | None:
    """The budget that pays for `b`, as the single enrolment's first payment names it (None: not APBD)."""
    if funding is not FundingSource.APBD:
        return None
    return payer or default_payer(caller) or b.regency_code or b.province_code


def _first_month_price(terms: Terms, funding: FundingSource, month: dt.date) -> MonthlyPrice | None:
    """What the first month costs a new BPU worker on these terms (None: nothing is recorded for it)."""
    if funding is FundingSource.SELF or terms.price is None or terms.package is None:
        return None
    try:
        return monthly_price(Segment.BPU, terms.programs, month, wage=terms.package.declared_income)
    except NoPrice:
        return None


async def _membership_numbers(session: AsyncSession, count: int, today: dt.date) -> list[str]:
    """`count` KPJs not yet taken, as the single registration draws them (two-digit year + nine random
    digits), checked against the table in one query per round."""
    chosen: set[str] = set()
    for _ in range(20):
        wanted = count - len(chosen)
        if wanted == 0:
            break
        candidates = {f"{today.year % 100:02d}{secrets.randbelow(10**9):09d}" for _ in range(wanted)} - chosen
        taken = set(
            await session.scalars(
                select(Participant.membership_number).where(Participant.membership_number.in_(sorted(candidates)))
            )
        )
        chosen |= candidates - taken
    if len(chosen) < count:
        raise RuntimeError("could not find free membership numbers")
    return sorted(chosen)


async def _write_creations(
    session: AsyncSession,
    caller: Caller,
    creates: list[_Create],
    terms: Terms,
    funding: FundingSource,
    payer: str | None,
    today: dt.date,
    outcome: BatchEnrolment,
) -> None:
    assert terms.package is not None  # enrolment_problems refuses an unpriced package (NO_PRICE)
    now = utcnow()
    numbers = await _membership_numbers(session, len(creates), today)
    program_values = sorted(str(p) for p in terms.programs)
    registered: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for create, number in zip(creates, numbers, strict=True):
        b = create.beneficiary
        values: dict[str, Any] = {
            "nik": create.nik,
            "full_name": create.full_name,
            "birth_date": b.birth_date,
            "sex": b.sex,
            "segment": Segment.BPU,
            # Nothing is paid yet, and status is derived from the ledger: active once the current month is paid.
            "status": ParticipantStatus.INACTIVE,
            "funding_source": funding,
            "region_code": create.region_code,
            "employer_id": None,
            "monthly_wage": None,
            "paid_through": None,
            "contribution_months": 0,
            "died_on": None,
            "retired_on": None,
            "programs": program_values,
        }
        registered.append(values)
        row = {k: v for k, v in values.items() if k not in ("programs", "region_code")}
        # The package declares an income: the wage of a JKK death or disability benefit for its holder (set
        # after the registration's event, as the single enrolment does).
        row.update(membership_number=number, monthly_wage=terms.package.declared_income, registered_at=now)
        row.update(recent_contribution_months=0, version=1, **placement(create.region_code))
        rows.append(row)
    # The Core table (an ORM bulk INSERT does per-row bookkeeping this does not need), ids in the rows' order.
    table = cast(Table, Participant.__table__)
    inserted = await session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    ids = list(inserted.scalars())
    month = today.replace(day=1)
    price = _first_month_price(terms, funding, month)
    payments: dict[int, dict[str, Any]] = {}
    figures: dict[int, tuple[dt.date | None, int]] = {}
    if price is not None:
        current = month_number(month)
        ledger_rows = []
        for pid, create in zip(ids, creates, strict=True):
            ledger_rows.append(
                {
                    "participant_id": pid,
                    "first_month": current,
                    "last_month": current,
                    "months": 1,
                    "period_from": month_start(current),
                    "period_to": month_end(current),
                    "amount": price.amount,
                    "programs": " ".join(program_values),
                    "payer": funding,
                    "payer_region_code": _payer_of(payer, caller, funding, create.beneficiary),
                    "reference": first_payment_reference(pid, month),
                    "received_at": now,
                    "recorded_at": now,
                    "recorded_by": caller.actor.subject[:200],
                    "price_rule": price.rule_id,
                }
            )
        # One COPY (PostgreSQL) or multi-row INSERTs per table, not an executemany: that is a statement per row
        # to PostgreSQL, and the rollups' statement trigger would fire per row.
        await copy_rows(session, Contribution, ledger_rows)
        await recompute_participant_figures(session, ids, today=today, reload=False)
        payments = dict(zip(ids, ledger_rows, strict=True))
        figures = await _figures(session, ids)
    head = await audit.lock_chain(session)
    # The events are chained from a copy of the head's position: the head row (an ORM object) must not change
    # while the other statements flush the session.
    position = audit.ChainPosition(head.seq, head.last_hash)

    async def programmes_and_links() -> None:
        # The programmes after the ledger's recount: its participants UPDATE then has no programme to count, and
        # the programmes' INSERT counts each with the figures final. Same rows, same rollups.
        await copy_rows(
            session,
            ParticipantProgram,
            [
                {"participant_id": pid, "program": p, "segment": Segment.BPU, "since": today}
                for pid in ids
                for p in sorted(terms.programs)
            ],
        )
        # Linked last: the ledger's recount then changes no extreme-poor figure (nothing is linked to these
        # participants yet), and the link's trigger counts each person's NIK once, with the figures final.
        # Every registry record of these people points at their participant (as the single registration links).
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            await session.execute(
                update(PovertyBeneficiary)
                .where(
                    Participant.id.in_(ids[start : start + _IDS_PER_STATEMENT]),
                    PovertyBeneficiary.nik == Participant.nik,
                    PovertyBeneficiary.participant_id.is_(None),
                )
                .values(participant_id=Participant.id, version=PovertyBeneficiary.version + 1)
                .execution_options(synchronize_session=False)
            )

    # The database writes the programmes and the links while this process makes the events (which need
    # neither), a few people between two turns of the loop; nothing else uses the session meanwhile.
    written = asyncio.create_task(programmes_and_links())
    events: list[dict[str, Any]] = []
    try:
        entries: list[audit.NewEvent] = []
        for pid, create, values in zip(ids, creates, registered, strict=True):
            entries.append(audit.NewEvent("participant.register", "Participant", pid, audit.diff({}, values)))
            paid = payments.get(pid)
            if paid is not None:
                entries.append(
                    audit.NewEvent(
                        "contribution.record", "Participant", pid, payment_changes([paid], NOTHING_PAID, figures[pid])
                    )
                )
            entries.append(
                audit.NewEvent(
                    "beneficiary.enroll",
                    "PovertyBeneficiary",
                    create.beneficiary.id,
                    {
                        "participant_id": {"before": None, "after": pid},
                        "monthly_contribution": {"before": None, "after": terms.price},
                        "package_rule": {"before": None, "after": terms.package.id},
                        "first_payment": {"before": None, "after": paid["reference"] if paid else None},
                    },
                )
            )
            outcome.created += 1
            outcome.outcomes[create.beneficiary.id] = "created"
            if terms.price is not None:
                outcome.monthly_cost += terms.price
                key = _payer_of(payer, caller, funding, create.beneficiary) or funding.value
                outcome.costs[key] = outcome.costs.get(key, Decimal(0)) + terms.price
            if len(entries) >= _EVENTS_PER_TURN:
                events += audit.chained_rows(position, caller.actor, entries, caller.meta)
                entries = []
                await asyncio.sleep(0)
        events += audit.chained_rows(position, caller.actor, entries, caller.meta)
    finally:
        await asyncio.wait([written])
    written.result()
    await audit.append_rows(session, events, head)


async def _figures(session: AsyncSession, ids: list[int]) -> dict[int, tuple[dt.date | None, int]]:
    found: dict[int, tuple[dt.date | None, int]] = {}
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[start : start + _IDS_PER_STATEMENT]
        rows = await session.execute(
            select(Participant.id, Participant.paid_through, Participant.contribution_months).where(
                Participant.id.in_(chunk)
            )
        )
        found.update((pid, (paid_through, months)) for pid, paid_through, months in rows)
    return found


async def _enrol_one_by_one(
    session: AsyncSession,
    caller: Caller,
    ids: list[int],
    terms: Terms,
    funding: FundingSource,
    payer: str | None,
    outcome: BatchEnrolment,
    refuse: Callable[[int, Problem], None],
) -> None:
    """The people who hold a membership already: through the single enrolment, each in a savepoint."""
    # The registry rows as the creations left them (their participant link was set by one UPDATE).
    await _beneficiaries(session, ids)
    for bid in ids:
        try:
            async with session.begin_nested():
                before = await _holder_version(session, bid)
                result = await enroll_beneficiary(
                    session, caller, bid, programs=set(terms.programs), funding=funding, payer=payer
                )
        except Invalid as exc:
            refuse(bid, exc.problems[0])
            continue
        except NotFound as exc:
            refuse(bid, Problem("beneficiaryId", WriteCode.NOT_FOUND, str(exc)))
            continue
        except Conflict as exc:
            refuse(bid, Problem("beneficiaryId", WriteCode.CONFLICT, str(exc)))
            continue
        changed = result.created or before is None or before != (result.participant.id, result.participant.version)
        if result.created:
            outcome.created += 1
            outcome.outcomes[bid] = "created"
        elif changed:
            outcome.linked += 1
            outcome.outcomes[bid] = "linked"
        else:
            outcome.unchanged += 1
            outcome.outcomes[bid] = "unchanged"
        if changed and result.monthly_contribution is not None:
            b = await session.get(PovertyBeneficiary, bid)
            assert b is not None
            outcome.monthly_cost += result.monthly_contribution
            key = _payer_of(payer, caller, funding, b) or funding.value
            outcome.costs[key] = outcome.costs.get(key, Decimal(0)) + result.monthly_contribution


async def _holder_version(session: AsyncSession, beneficiary_id: int) -> tuple[int, int] | None:
    """The participant a beneficiary is linked to and that participant's version (None when unlinked)."""
    row = await session.get(PovertyBeneficiary, beneficiary_id)
    if row is None or row.participant_id is None:
        return None
    holder = await session.get(Participant, row.participant_id)
    return (holder.id, holder.version) if holder is not None else None


# --- the list, and the job over it -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilter:
    """Which beneficiaries a list enrolment takes (stored in the job's parameters)."""

    region_code: str | None = None
    extreme_poor: bool = True
    enrolled: bool = False
    source: BeneficiarySource | None = None

    def as_params(self) -> dict[str, Any]:
        return {
            "region_code": self.region_code,
            "extreme_poor": self.extreme_poor,
            "enrolled": self.enrolled,
            "source": self.source.value if self.source else None,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ListFilter:
        source = params.get("source")
        return cls(
            region_code=params.get("region_code"),
            extreme_poor=bool(params.get("extreme_poor", True)),
            enrolled=bool(params.get("enrolled", False)),
            source=BeneficiarySource(source) if source else None,
        )


def list_condition(caller: Caller, wanted: ListFilter) -> ColumnElement[bool]:
    """The beneficiaries `wanted` selects among those the caller sees (:func:`placed_within`: the read rule)."""
    B = PovertyBeneficiary
    clause = placed_within(B, caller.within) & (B.extreme_poor.is_(wanted.extreme_poor))
    clause &= B.participant_id.is_not(None) if wanted.enrolled else B.participant_id.is_(None)
    if wanted.region_code is not None:
        clause &= placed_within(B, RegionCode.parse(wanted.region_code))
    if wanted.source is not None:
        clause &= B.source == wanted.source
    return clause


def enrolment_params(
    wanted: ListFilter,
    *,
    programs: set[Program] | None,
    funding: FundingSource,
    payer: str | None,
    dry_run: bool,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """A list enrolment job's parameters; `chunk_size` rows per transaction (smaller: finer progress)."""
    return {
        "chunk_size": chunk_size,
        "filter": wanted.as_params(),
        "programs": sorted(p.value for p in programs) if programs else None,
        "funding": funding.value,
        "payer": payer,
        "dry_run": dry_run,
    }


@job_kind(ENROL_KIND)
async def enrolment_chunk(session: AsyncSession, caller: Caller, job: Job, params: dict[str, Any]) -> Chunk:
    """The next :data:`CHUNK_SIZE` beneficiaries of the list after the job's cursor (a beneficiary id).

    The chain lock is taken first, so two jobs over the same list take turns chunk by chunk and each reads
    the list as the other left it: a person the other enrolled is no longer unenrolled, or is "unchanged".
    A dry run's chunk is written in a savepoint and rolled back: its counts are what a real run would do.
    """
    await open_write_transaction(session)
    after = int(job.cursor) if job.cursor else 0
    B = PovertyBeneficiary
    stmt = select(B.id).where(list_condition(caller, ListFilter.from_params(params["filter"])), B.id > after)
    size = int(params.get("chunk_size") or CHUNK_SIZE)
    ids = list(await session.scalars(stmt.order_by(B.id).limit(size)))
    if not ids:
        return Chunk(processed=0, cursor=job.cursor, done=True)
    programs = {Program(p) for p in params["programs"]} if params.get("programs") else None
    savepoint = await session.begin_nested() if params.get("dry_run") else None
    with collector_paused():  # the chunk's rows and events live until it is written (see collector_paused)
        outcome = await enroll_beneficiaries(
            session,
            caller,
            ids,
            programs=programs,
            funding=FundingSource(params["funding"]),
            payer=params.get("payer"),
            kept_refusals=len(ids),
        )
    if savepoint is not None:
        await savepoint.rollback()
    counts = Counter(created=outcome.created, linked=outcome.linked, unchanged=outcome.unchanged)
    counts["refused"] = outcome.refused
    return Chunk(
        processed=len(ids),
        cursor=str(ids[-1]),
        done=len(ids) < size,
        counts=counts,
        refusals=Counter({code.value: count for code, count in outcome.reasons.items()}),
        costs=outcome.costs,
        report=[
            ReportLine(r.beneficiary_id, "beneficiaryId", str(r.beneficiary_id), r.code, r.message)
            for r in outcome.refusals
        ],
    )
